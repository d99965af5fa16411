"""Reporting: a new case, from a grid worker's patrol, a command centre's
hotline or sensor, or a citizen's tip."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import URLValidator
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from grids.coords import CoordinateSystem, parse_coordinate_system, to_wgs84
from grids.selectors import GridMatch, OutsideJurisdiction, grid_for_point
from organisation.models import Role

from .. import deadlines, limits
from ..actions import workflow_action
from ..attributes import clean_attributes
from ..categories import category_gone
from ..errors import ActionForbidden, CaseInputError, SubmissionKeyReused
from ..models import (
    TIP_SOURCES,
    ApiClient,
    AttachmentKind,
    Case,
    Category,
    Source,
    Status,
    Urgency,
)
from ..photos import PreparedPhoto
from ..policy import scope_of
from ..selectors import grid_has_worker
from .steps import (
    boolean,
    files_removed_on_failure,
    known,
    prepare_photos,
    record,
    store_photos,
    text,
)


def case_report(
    *,
    reporter,
    source: str,
    description: str,
    lng: float | None,
    lat: float | None,
    crs: CoordinateSystem | str = CoordinateSystem.WGS84,
    category: Category | None = None,
    urgency: str | None = None,
    address: str = "",
    reporter_name: str = "",
    reporter_phone: str = "",
    reporter_email: str = "",
    photos: Sequence[UploadedFile] = (),
    self_handled: bool = False,
    handling_photos: Sequence[UploadedFile] = (),
    attributes: dict | None = None,
    media_url: str = "",
    api_client: ApiClient | None = None,
    idempotency_key: str | None = None,
    now: dt.datetime | None = None,
) -> Case:
    """File a new case at a point. Grid workers report in their own grids
    (and may report a problem they fixed on the spot: ``self_handled``, with
    a handling photo; it then waits for inspection by someone else).
    Dispatchers take hotline and sensor reports in their area; citizens,
    with an account or without one (``reporter=None``), send tips, which get
    a ``tracking_token`` to follow them by.

    With no ``lng``/``lat``, the camera's GPS position in the first photo that
    has one is used. With an ``idempotency_key``, a retry of the same
    submission returns the first case (``case.replayed`` is then true)."""
    now = now or timezone.now()
    description, attributes, media_url = _checked_report(
        source=source,
        description=description,
        urgency=urgency,
        category=category,
        self_handled=self_handled,
        attributes=attributes,
        media_url=media_url,
    )
    submission = _Submission.of(
        idempotency_key,
        reporter=reporter,
        api_client=api_client,
        parts=[
            source, description, lng, lat, str(crs), getattr(category, "code", None), urgency,
            address, reporter_name, reporter_phone, reporter_email, self_handled,
            attributes, media_url,
        ],
        files=[*(photos or ()), *(handling_photos or ())],
    )  # fmt: skip
    if submission and (earlier := submission.earlier()):
        return earlier

    prepared = prepare_photos(photos, field="photos", required=False)
    prepared_handling = (
        prepare_photos(handling_photos, field="handling_photos", required=True)
        if self_handled
        else []
    )
    point, match = _place(lng, lat, crs, prepared)
    role = _reporting_role(reporter, source, match)

    try:
        with files_removed_on_failure(), transaction.atomic():
            case = Case(
                number=_next_number(now),
                source=source,
                category=category,
                description=description,
                address=text(address, "address", required=False, limit=limits.ADDRESS),
                location=point,
                grid=match.as_area(),
                community_id=match.ancestor_ids[3],
                subdistrict_id=match.ancestor_ids[2],
                district_id=match.ancestor_ids[1],
                area_path=match.path,
                command_level=settings.CASES_FIRST_COMMAND_LEVEL,
                reporter=reporter if reporter is not None and reporter.is_authenticated else None,
                **_contact(reporter_name, reporter_phone, reporter_email),
                urgency=urgency or (category.default_urgency if category else Urgency.NORMAL),
                tracking_token=secrets.token_urlsafe(24) if source == Source.CITIZEN else None,
                api_client=api_client,
                media_url=media_url,
                attributes=attributes,
                created_at=now,
            )
            if submission:
                submission.stamp(case)
            events = _record_report(
                case, role=role, grid_code=match.code, now=now,
                photos=prepared, handling_photos=prepared_handling if self_handled else None,
            )  # fmt: skip
    except IntegrityError as exc:
        earlier = _filed_meanwhile(exc, submission)
        if earlier is None:
            raise
        return earlier
    # A new case has only what was just recorded: its events (each with its
    # photos) and their photos, known without reading them back.
    known(case, "events", events)
    known(case, "attachments", [a for event in events for a in event.attachments.all()])
    case.replayed = False
    return case


def report_refusals(
    *,
    lng: float | None,
    lat: float | None,
    crs: CoordinateSystem | str,
    photos: Sequence[UploadedFile] | None,
    category: Category | None,
    attributes: dict | None,
) -> list[CaseInputError]:
    """What ``case_report`` would refuse in a citizen's report of these
    parts, all of them, collected rather than raised: the photos, the place
    (given, or the photos' own) and the answers to the category's questions.
    A form whose other fields were refused shows these beside them, so the
    reporter corrects everything in one round. Nothing is stored. Parts not
    known (refused by the form already) are given as None and not checked."""
    refusals, prepared = [], None
    if photos is not None:
        try:
            prepared = prepare_photos(photos, field="photos", required=False)
        except CaseInputError as exc:
            refusals.append(exc)
    # Without a point, the place is the photos' own: known only with them.
    if crs is not None and ((lng is not None and lat is not None) or prepared is not None):
        try:
            _place(lng, lat, crs, prepared or [])
        except CaseInputError as exc:
            refusals.append(exc)
    if category is not None:
        try:
            clean_attributes(category, attributes or {})
        except CaseInputError as exc:
            refusals.append(exc)
    return refusals


def _checked_report(
    *, source, description, urgency, category, self_handled, attributes, media_url
) -> tuple[str, dict, str]:
    """What a report says, checked before anything else happens: its
    description, its answers to the category's questions and its link."""
    if source not in Source.values:
        raise CaseInputError(_("Unknown source “%(s)s”.") % {"s": source}, field="source")
    description = text(description, "description", required=True, limit=limits.DESCRIPTION)
    if urgency is not None and urgency not in Urgency.values:
        raise CaseInputError(_("Unknown urgency “%(u)s”.") % {"u": urgency}, field="urgency")
    if category is not None and not isinstance(category, Category):
        raise CaseInputError(_("Unknown category."), field="category")
    if category is not None and not category.is_active:
        raise CaseInputError(_("This category is no longer in use."), field="category")
    if boolean(self_handled, "self_handled") and source != Source.GRID_WORKER:
        raise CaseInputError(
            _("Only a grid worker reports a case as handled on the spot."), field="self_handled"
        )
    if self_handled and category is None:
        raise CaseInputError(
            _("Say what was fixed: a case handled on the spot needs a category."),
            field="category",
        )
    media_url = _url(media_url, "media_url")
    if attributes or (category is not None and source == Source.CITIZEN):
        if category is None:
            raise CaseInputError(_("Answers to questions need a category."), field="attributes")
        # A citizen's tip answers the category's required questions even when
        # no answer at all was sent.
        attributes = clean_attributes(category, attributes or {})
    return description, attributes or {}, media_url


def _place(lng, lat, crs, photos: Sequence[PreparedPhoto]) -> tuple[Point, GridMatch]:
    """The case's point (WGS-84) and the grid it falls in."""
    lng, lat, crs = _location(lng, lat, crs, photos)
    try:
        system = parse_coordinate_system(crs) if isinstance(crs, str) else crs
        w_lng, w_lat = to_wgs84(lng, lat, system)
        match = grid_for_point(lng=w_lng, lat=w_lat)
    except ValueError as exc:
        raise CaseInputError(str(exc), field="location", code="invalid_coordinates") from exc
    except OutsideJurisdiction as exc:
        raise CaseInputError(str(exc), field="location", code=exc.code) from exc
    return Point(w_lng, w_lat, srid=4326), match


def _reporting_role(reporter, source: str, match: GridMatch) -> str:
    """The role the reporter files this report as, when they may file it there."""
    scope = scope_of(reporter)
    if source == Source.GRID_WORKER:
        if match.ancestor_ids[4] not in scope.grid_ids:
            raise ActionForbidden(
                _("Grid %(code)s is not one of your grids.") % {"code": match.code}
            )
        return str(Role.GRID_WORKER)
    if source in (Source.HOTLINE, Source.SENSOR):
        if not any(match.path.startswith(path) for path, _lv in scope.dispatcher_areas):
            raise ActionForbidden(_("This point is outside your command centre's area."))
        return str(Role.DISPATCHER)
    return str(Role.CITIZEN)


def _contact(name: str, phone: str, email: str) -> dict[str, str]:
    return {
        "reporter_name": text(name, "reporter_name", required=False, limit=limits.REPORTER_NAME),
        "reporter_phone": text(
            phone, "reporter_phone", required=False, limit=limits.REPORTER_PHONE
        ),
        "reporter_email": text(
            email, "reporter_email", required=False, limit=limits.REPORTER_EMAIL
        ),
    }


def _record_report(
    case: Case,
    *,
    role: str,
    grid_code: str,
    now: dt.datetime,
    photos: Sequence[PreparedPhoto],
    handling_photos: Sequence[PreparedPhoto] | None,
) -> list:
    """The new case's events: reported, then (``handling_photos`` given)
    handled on the spot."""
    deadlines.stage_start(case, now=now)
    stored_report = store_photos(photos)
    stored_handling = store_photos(handling_photos or ())
    events = [
        record(
            case,
            actor=case.reporter,
            role=role,
            action="reported",
            from_status="",
            payload={
                "source": case.source,
                "grid": grid_code,
                "category": getattr(case.category, "code", None),
            },
            now=now,
            stored=stored_report,
            photo_kind=AttachmentKind.REPORT,
        )
    ]
    if (
        handling_photos is None
        and settings.CASES_VERIFY_TIPS
        and case.source in TIP_SOURCES
        and grid_has_worker(case.grid_id)
    ):
        # Verified on site before the command centre registers it: the
        # system sends it, as a dispatcher would with case_send_to_verify
        # (and, as that does, not to a grid no worker is assigned to).
        case.send_to_verify()
        deadlines.stage_start(case, now=now)
        events.append(
            record(
                case,
                actor=None,
                role="",
                action=workflow_action("send_to_verify").event,
                from_status=Status.REPORTED,
                payload={"automatic": True, "due_at": case.due_at},
                now=now,
            )
        )
    if handling_photos is not None:
        case.report_self_handled()
        deadlines.stage_start(case, now=now)
        events.append(
            record(
                case,
                actor=case.reporter,
                role=role,
                action="self_handled",
                from_status=Status.REPORTED,
                now=now,
                stored=stored_handling,
            )
        )
    return events


def _filed_meanwhile(exc: IntegrityError, submission: _Submission | None) -> Case | None:
    """The case an identical submission filed while this one waited, or None
    when ``exc`` is not that; a report's input error when it names one."""
    # Two identical submissions at the same moment: the second waited on
    # the unique key until the first committed, and returns its case.
    if submission and submission.CONSTRAINT in str(exc) and (earlier := submission.earlier()):
        return earlier
    # A category deleted by another process while this one still had it
    # cached (core.config_cache).
    if _violated(exc).startswith("cases_case_category_id_"):
        category_gone()
        raise CaseInputError(_("Unknown category."), field="category") from exc
    return None


def _violated(exc: IntegrityError) -> str:
    """The name of the constraint a database error reports, or ""."""
    return getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) or ""


def _next_number(now: dt.datetime) -> str:
    """Date of report and a global sequence: unique, and sorted by time of report."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('cases_case_number_seq')")
        (seq,) = cursor.fetchone()
    return f"{timezone.localtime(now):%Y%m%d}{seq:08d}"


@dataclass
class _Submission:
    """One submission under an idempotency key, scoped to who sent it."""

    scope: str
    key: str
    fingerprint: str

    CONSTRAINT = "cases_case_submitted_once"
    MAX_KEY = limits.IDEMPOTENCY_KEY

    @classmethod
    def of(cls, key, *, reporter, api_client, parts, files) -> _Submission | None:
        if key is None or key == "":
            return None
        if not isinstance(key, str) or len(key) > cls.MAX_KEY or not key.isprintable():
            raise CaseInputError(
                _("An idempotency key is printable text of at most %(n)s characters.")
                % {"n": cls.MAX_KEY},
                field="idempotency_key",
            )
        if reporter is not None and reporter.is_authenticated:
            scope = f"user:{reporter.pk}"
        elif api_client is not None:
            scope = f"client:{api_client.pk}"
        else:
            scope = "anonymous"
        digest = hashlib.sha256(json.dumps(parts, default=str).encode())
        for upload in files:
            # Each file's size first: [A+B] and [A, B] must not look the same.
            digest.update(f"|file {getattr(upload, 'size', None)}|".encode())
            upload.seek(0)
            for chunk in iter(lambda upload=upload: upload.read(1 << 20), b""):
                digest.update(chunk)
            upload.seek(0)
        return cls(scope, key, digest.hexdigest())

    def earlier(self) -> Case | None:
        case = Case.objects.filter(submission_scope=self.scope, submission_key=self.key).first()
        if case is None:
            return None
        if case.submission_fingerprint != self.fingerprint:
            # Anonymous tips and an app's users share a scope: name no one's case.
            raise SubmissionKeyReused(
                _("This idempotency key was used for a different report. Use a new key.")
                if not self.scope.startswith("user:")
                else _(
                    "This idempotency key was used for a different report (case %(number)s). "
                    "Use a new key for a new report."
                )
                % {"number": case.number},
                field="idempotency_key",
            )
        case.replayed = True
        return case

    def stamp(self, case: Case) -> None:
        case.submission_scope = self.scope
        case.submission_key = self.key
        case.submission_fingerprint = self.fingerprint


def _location(lng, lat, crs, photos: Sequence[PreparedPhoto]):
    """The point given, or the first photo's GPS position (WGS-84)."""
    if lng is not None and lat is not None:
        return lng, lat, crs
    if lng is None and lat is None:
        for photo in photos:
            if photo.hints.has_location:
                return photo.hints.lng, photo.hints.lat, CoordinateSystem.WGS84
    raise CaseInputError(
        _("Where is it? Give lng and lat, or a photo with the camera's GPS position."),
        field="location",
        code="location_required",
    )


def _url(value: str, field: str) -> str:
    value = text(value, field, required=False, limit=limits.MEDIA_URL)
    if value:
        try:
            URLValidator(schemes=["http", "https"])(value)
        except ValidationError as exc:
            raise CaseInputError(
                _("%(field)s must be an http or https link.") % {"field": field}, field=field
            ) from exc
    return value
