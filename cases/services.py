"""Case services: one function per action, the only code that changes a case.

Each action runs in one transaction and

1. checks the actor may see the case (``CaseNotFound`` otherwise) and locks
   its row (``SELECT … FOR UPDATE``);
2. checks that the case's state allows the action (``CaseConflict``: when two
   people act at once, the second sees the state the first left), that its
   conditions hold (``CaseConflict`` with the reason) and that the actor holds
   a role for it in scope (``ActionForbidden``, from ``cases.policy.role_for``,
   the one place that decides who may act);
3. applies the transition, moves the deadline clock and saves;
4. appends a ``CaseEvent`` and publishes it after commit.

Pass ``expected_version`` (the ``version`` the actor saw) to refuse the
action when anything at all changed on the case since.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import secrets
from collections.abc import Sequence
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import URLValidator
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed
from guardian.shortcuts import assign_perm

from grids.coords import CoordinateSystem, parse_coordinate_system, to_wgs84
from grids.selectors import OutsideJurisdiction, grid_for_point
from organisation.models import Department, Role

from . import deadlines
from .attributes import clean_attributes, unstorable_text
from .audience import audience, involved
from .categories import category_gone, route_for
from .errors import (
    ActionForbidden,
    CaseConflict,
    CaseInputError,
    CaseNotFound,
    SubmissionKeyReused,
)
from .models import (
    ApiClient,
    AttachmentKind,
    Case,
    CaseAttachment,
    CaseDirective,
    CaseEvent,
    CaseFollower,
    Category,
    DirectiveKind,
    RejectReason,
    Satisfaction,
    Source,
    Status,
    Urgency,
)
from .photos import PreparedPhoto, prepare_photo
from .policy import TRANSITION_OF_ACTION, forget_scope, role_for, scope_of, visible_q
from .publishing import publish_on_commit

MAX_TEXT = 2000

logger = logging.getLogger(__name__)

# --- Shared steps ------------------------------------------------------------------


def _pk(case: Case | int, *, field: str | None = None) -> int:
    if isinstance(case, Case):
        return case.pk
    if isinstance(case, int) and not isinstance(case, bool):
        return case
    if field:
        raise CaseInputError(_("Give the id of a case."), field=field)
    raise CaseNotFound(case)


def _lock(case: Case | int, actor, *, also: Sequence[int] = ()) -> Case:
    """The case, locked (with the ``also`` rows, in id order). Visibility is
    checked before waiting for the lock, so someone who could see the case
    and lost it to a concurrent action (a return takes it away from the
    department) gets the conflict that says what happened, not "not found"."""
    pk = _pk(case)
    if not Case.objects.filter(visible_q(actor), pk=pk).exists():
        raise CaseNotFound(pk)
    rows = list(
        Case.objects.select_for_update(of=("self",)).filter(pk__in=[pk, *also]).order_by("pk")
    )
    for row in rows:
        if row.pk == pk:
            return row
    raise CaseNotFound(pk)


def _check(case: Case, actor, action: str, expected_version: int | None) -> str:
    """Raise unless ``actor`` may take ``action`` on ``case`` now; return the role."""
    if expected_version is not None and case.version != expected_version:
        raise CaseConflict(
            _(
                "Case %(number)s changed since you saw it (version %(seen)s, now %(now)s, "
                "status %(status)s). Reload it and try again."
            )
            % {
                "number": case.number,
                "seen": expected_version,
                "now": case.version,
                "status": case.get_status_display(),
            }
        )
    method = getattr(case, TRANSITION_OF_ACTION[action])
    if not can_proceed(method, check_conditions=False):
        raise CaseConflict(
            _("Case %(number)s is %(status)s now; “%(action)s” does not apply to it.")
            % {"number": case.number, "status": case.get_status_display(), "action": action}
        )
    transition = method._django_fsm.get_transition(case.status)
    for condition in transition.conditions:
        if not condition(case):
            raise CaseConflict(str(getattr(condition, "reason", condition.__name__)))
    role = role_for(actor, case, action)
    if role is None:
        raise ActionForbidden(
            _("You may not “%(action)s” case %(number)s.")
            % {"action": action, "number": case.number}
        )
    return role


def _record(
    case: Case,
    *,
    actor,
    role: str,
    action: str,
    from_status: str,
    payload: dict | None = None,
    now: dt.datetime | None = None,
    stored: Sequence[tuple[PreparedPhoto, str]] = (),
    photo_kind: str = AttachmentKind.HANDLING,
) -> CaseEvent:
    """Save the case, append its event (with the event's ``stored`` photos,
    see ``_store_photos``) and publish it after commit.

    This is the last step of an action: inserting the event takes the lock
    that orders event ids by commit (migration 0006), held until the
    transaction ends, so nothing slow (writing files to storage) may follow."""
    case.version += 1
    case.save()
    # A case's first event (its report): no one follows it or was granted it yet.
    users, departments = involved([case.pk])[case.pk] if from_status else (set(), set())
    event = CaseEvent.objects.create(
        case=case,
        action=action,
        actor=actor,
        actor_role=role,
        from_status=from_status,
        to_status=case.status,
        payload={k: v for k, v in (payload or {}).items() if v not in (None, "")},
        audience=audience(case, users=users, departments=departments),
        created_at=now or timezone.now(),
    )
    # The event as a detail shows it (its photos), without reading it back.
    _known(event, "attachments", _attach(case, event, stored, photo_kind, actor))
    publish_on_commit(event)
    case.last_event = event
    return event


def _known(instance, relation: str, objects: list) -> None:
    """Give ``instance``'s reverse ``relation`` these ``objects``, as
    prefetch_related would: ``.all()`` returns them, anything else queries."""
    queryset = getattr(instance, relation).all()
    queryset._result_cache, queryset._prefetch_done = list(objects), True
    instance.__dict__.setdefault("_prefetched_objects_cache", {})[relation] = queryset


def _text(value: str, field: str, *, required: bool, limit: int = MAX_TEXT) -> str:
    if value is not None and not isinstance(value, str):
        raise CaseInputError(_("%(field)s must be text.") % {"field": field}, field=field)
    value = (value or "").strip()
    if unstorable_text(value):
        raise CaseInputError(
            _("%(field)s contains characters that are not allowed.") % {"field": field},
            field=field,
        )
    if required and not value:
        raise CaseInputError(_("Say why: %(field)s is required.") % {"field": field}, field=field)
    if len(value) > limit:
        raise CaseInputError(
            _("%(field)s is longer than %(limit)s characters.") % {"field": field, "limit": limit},
            field=field,
        )
    return value


def _store_photos(photos: Sequence[PreparedPhoto]) -> list[tuple[PreparedPhoto, str]]:
    """Write prepared photos to storage; (photo, stored name) for each. The
    files are deleted again if the action then fails."""
    stored = []
    for photo in photos or ():
        name = default_storage.save(
            CaseAttachment._meta.get_field("file").generate_filename(None, photo.name),
            photo.as_file(),
        )
        written = _WRITTEN_FILES.get()
        if written is not None:
            written.append(name)
        stored.append((photo, name))
    return stored


def _attach(case, event, stored, kind, actor) -> list[CaseAttachment]:
    """The attachment rows for photos already in storage; thumbnails are
    made after commit."""
    attachments = []
    for photo, name in stored:
        hints = photo.hints
        attachment = CaseAttachment(
            case=case,
            kind=kind,
            event=event,
            uploaded_by=actor,
            file=name,
            width=photo.width,
            height=photo.height,
            source_format=photo.source_format,
            sha256=photo.sha256,
            taken_at=hints.taken_at,
            taken_location=Point(hints.lng, hints.lat, srid=4326) if hints.has_location else None,
        )
        attachment.save()
        attachments.append(attachment)
    if attachments:
        ids = [a.pk for a in attachments]
        transaction.on_commit(lambda: _queue_thumbnails(ids), robust=True)
    return attachments


def _queue_thumbnails(ids: list[int]) -> None:
    from .tasks import make_thumbnails

    try:
        make_thumbnails.delay(ids)
    except Exception:  # the broker is down: the periodic catch-up makes them later
        logger.exception("could not queue thumbnails for photos %s", ids)


_WRITTEN_FILES: ContextVar[list[str] | None] = ContextVar("written_files", default=None)


@contextmanager
def _files_removed_on_failure():
    """Photo files are written inside the transaction that records them; when
    that transaction fails, the files it wrote are deleted again."""
    written: list[str] = []
    token = _WRITTEN_FILES.set(written)
    try:
        yield
    except BaseException:
        for name in written:
            try:
                default_storage.delete(name)
            except Exception:
                logger.exception("could not delete %s after a failed action", name)
        raise
    finally:
        _WRITTEN_FILES.reset(token)


def _prepare_photos(
    photos: Sequence[UploadedFile] | None, *, field: str, required: bool
) -> list[PreparedPhoto]:
    """Check every photo by content and re-encode it without metadata; raise
    before anything is stored when one of them is refused."""
    if photos is None:
        photos = ()
    if not isinstance(photos, list | tuple):
        raise CaseInputError(_("Give a list of photos."), field=field)
    if required and not photos:
        raise CaseInputError(
            _("At least one photo is required."), field=field, code="photo_required"
        )
    limit = settings.CASES_PHOTOS_PER_ACTION
    if len(photos) > limit:
        raise CaseInputError(
            _("At most %(n)s photos per step.") % {"n": limit}, field=field, code="too_many_photos"
        )
    return [prepare_photo(photo, field=field) for photo in photos]


def _bool(value, field: str) -> bool:
    if not isinstance(value, bool):
        raise CaseInputError(_("%(field)s must be true or false.") % {"field": field}, field=field)
    return value


def _settle_directives(case: Case, now: dt.datetime) -> None:
    CaseDirective.objects.filter(case=case, settled_at__isnull=True).update(settled_at=now)
    case.is_supervised = False


def _next_number(now: dt.datetime) -> str:
    """Date of report and a global sequence: unique, and sorted by time of report."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('cases_case_number_seq')")
        (seq,) = cursor.fetchone()
    return f"{timezone.localtime(now):%Y%m%d}{seq:08d}"


# --- Reporting ---------------------------------------------------------------------


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
    if source not in Source.values:
        raise CaseInputError(_("Unknown source “%(s)s”.") % {"s": source}, field="source")
    description = _text(description, "description", required=True, limit=4000)
    if urgency is not None and urgency not in Urgency.values:
        raise CaseInputError(_("Unknown urgency “%(u)s”.") % {"u": urgency}, field="urgency")
    if category is not None and not isinstance(category, Category):
        raise CaseInputError(_("Unknown category."), field="category")
    if category is not None and not category.is_active:
        raise CaseInputError(_("This category is no longer in use."), field="category")
    if _bool(self_handled, "self_handled") and source != Source.GRID_WORKER:
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
    submission = _Submission.of(
        idempotency_key,
        reporter=reporter,
        api_client=api_client,
        parts=[
            source, description, lng, lat, str(crs), getattr(category, "code", None), urgency,
            address, reporter_name, reporter_phone, reporter_email, self_handled,
            attributes or {}, media_url,
        ],
        files=[*(photos or ()), *(handling_photos or ())],
    )  # fmt: skip
    if submission and (earlier := submission.earlier()):
        return earlier

    prepared = _prepare_photos(photos, field="photos", required=False)
    prepared_handling = (
        _prepare_photos(handling_photos, field="handling_photos", required=True)
        if self_handled
        else []
    )
    lng, lat, crs = _location(lng, lat, crs, prepared)
    try:
        system = parse_coordinate_system(crs) if isinstance(crs, str) else crs
        w_lng, w_lat = to_wgs84(lng, lat, system)
        match = grid_for_point(lng=w_lng, lat=w_lat)
    except ValueError as exc:
        raise CaseInputError(str(exc), field="location", code="invalid_coordinates") from exc
    except OutsideJurisdiction as exc:
        raise CaseInputError(str(exc), field="location", code=exc.code) from exc
    _city_id, district_id, subdistrict_id, community_id, grid_id = match.ancestor_ids

    scope = scope_of(reporter)
    if source == Source.GRID_WORKER:
        role = Role.GRID_WORKER
        if grid_id not in scope.grid_ids:
            raise ActionForbidden(
                _("Grid %(code)s is not one of your grids.") % {"code": match.code}
            )
    elif source in (Source.HOTLINE, Source.SENSOR):
        role = Role.DISPATCHER
        if not any(match.path.startswith(path) for path, _lv in scope.dispatcher_areas):
            raise ActionForbidden(_("This point is outside your command centre's area."))
    else:
        role = Role.CITIZEN

    try:
        with _files_removed_on_failure(), transaction.atomic():
            case = Case(
                number=_next_number(now),
                source=source,
                category=category,
                description=description,
                address=_text(address, "address", required=False, limit=255),
                location=Point(w_lng, w_lat, srid=4326),
                grid=match.as_area(),
                community_id=community_id,
                subdistrict_id=subdistrict_id,
                district_id=district_id,
                area_path=match.path,
                command_level=settings.CASES_FIRST_COMMAND_LEVEL,
                reporter=reporter if reporter is not None and reporter.is_authenticated else None,
                reporter_name=_text(reporter_name, "reporter_name", required=False, limit=100),
                reporter_phone=_text(reporter_phone, "reporter_phone", required=False, limit=30),
                reporter_email=_text(reporter_email, "reporter_email", required=False, limit=254),
                urgency=urgency or (category.default_urgency if category else Urgency.NORMAL),
                tracking_token=secrets.token_urlsafe(24) if source == Source.CITIZEN else None,
                api_client=api_client,
                media_url=media_url,
                attributes=attributes or {},
                created_at=now,
            )
            if submission:
                submission.stamp(case)
            deadlines.stage_start(case, now=now)
            stored_report = _store_photos(prepared)
            stored_handling = _store_photos(prepared_handling if self_handled else ())
            events = [
                _record(
                    case,
                    actor=case.reporter,
                    role=str(role),
                    action="reported",
                    from_status="",
                    payload={
                        "source": source,
                        "grid": match.code,
                        "category": getattr(category, "code", None),
                    },
                    now=now,
                    stored=stored_report,
                    photo_kind=AttachmentKind.REPORT,
                )
            ]
            if self_handled:
                case.report_self_handled()
                deadlines.stage_start(case, now=now)
                events.append(
                    _record(
                        case,
                        actor=case.reporter,
                        role=str(role),
                        action="self_handled",
                        from_status=Status.REPORTED,
                        now=now,
                        stored=stored_handling,
                    )
                )
    except IntegrityError as exc:
        # Two identical submissions at the same moment: the second waited on
        # the unique key until the first committed, and returns its case.
        if submission and submission.CONSTRAINT in str(exc) and (earlier := submission.earlier()):
            return earlier
        # A category deleted by another process while this one still had it
        # cached (core.config_cache).
        if _violated(exc).startswith("cases_case_category_id_"):
            category_gone()
            raise CaseInputError(_("Unknown category."), field="category") from exc
        raise
    # A new case has only what was just recorded: its events (each with its
    # photos) and their photos, known without reading them back.
    _known(case, "events", events)
    _known(case, "attachments", [a for event in events for a in event.attachments.all()])
    case.replayed = False
    return case


def _violated(exc: IntegrityError) -> str:
    """The name of the constraint a database error reports, or ""."""
    return getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) or ""


class _Submission:
    """One submission under an idempotency key, scoped to who sent it."""

    CONSTRAINT = "cases_case_submitted_once"
    MAX_KEY = 100

    def __init__(self, scope: str, key: str, fingerprint: str):
        self.scope, self.key, self.fingerprint = scope, key, fingerprint

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
    value = _text(value, field, required=False, limit=500)
    if value:
        try:
            URLValidator(schemes=["http", "https"])(value)
        except ValidationError as exc:
            raise CaseInputError(
                _("%(field)s must be an http or https link.") % {"field": field}, field=field
            ) from exc
    return value


# --- Command centre ------------------------------------------------------------------


def case_register(
    *,
    case: Case | int,
    actor,
    category: Category | None = None,
    urgency: str | None = None,
    note: str = "",
    expected_version: int | None = None,
) -> Case:
    """Register (立案) a report: it becomes a case to dispatch. The category may
    be set or corrected here; the route is resolved and open cases nearby of
    the same category are recorded as duplicate candidates."""
    from .selectors import duplicate_candidates

    now = timezone.now()
    with transaction.atomic():
        case = _lock(case, actor)
        role = _check(case, actor, "register", expected_version)
        if category is not None:
            if not category.is_active:
                raise CaseInputError(_("This category is no longer in use."), field="category")
            case.category = category
        if case.category is None:
            raise CaseInputError(
                _("Choose a category before registering the case."), field="category"
            )
        if urgency is not None:
            if urgency not in Urgency.values:
                raise CaseInputError(
                    _("Unknown urgency “%(u)s”.") % {"u": urgency}, field="urgency"
                )
            case.urgency = urgency
        note = _text(note, "note", required=False)
        department = route_for(category=case.category, ancestor_ids=case.ancestor_ids)
        case.routed_department = department
        case.unrouted = department is None
        from_status = case.status
        case.register()
        deadlines.stage_start(case, now=now)
        candidates = [c.pk for c in duplicate_candidates(case)]
        _record(
            case,
            actor=actor,
            role=role,
            action="registered",
            from_status=from_status,
            payload={
                "category": case.category.code,
                "urgency": case.urgency,
                "routed_department": getattr(department, "code", None),
                "unrouted": case.unrouted,
                "duplicate_candidates": candidates,
                "note": note,
            },
            now=now,
        )
    return case


def case_reject(
    *, case: Case | int, actor, reason: str, expected_version: int | None = None
) -> Case:
    """Void (作废) a report that is not a case, saying why."""
    with transaction.atomic():
        case = _lock(case, actor)
        role = _check(case, actor, "reject", expected_version)
        reason = _text(reason, "reason", required=True)
        from_status = case.status
        case.reject()
        now = timezone.now()
        deadlines.stage_start(case, now=now)
        _settle_directives(case, now)
        _record(
            case, actor=actor, role=role, action="rejected", from_status=from_status,
            payload={"kind": RejectReason.VOID, "reason": reason},
        )  # fmt: skip
    return case


def case_merge(
    *,
    case: Case | int,
    actor,
    original: Case | int,
    note: str = "",
    expected_version: int | None = None,
) -> Case:
    """Close a report as a duplicate of ``original`` (an open case). Its reporter
    follows the original from now on."""
    with transaction.atomic():
        # Both rows, locked in id order: two merges of A into B and B into A
        # at once wait for each other instead of deadlocking.
        case_pk, original_pk = _pk(case), _pk(original, field="original")
        if original_pk == case_pk:
            raise CaseInputError(_("A case cannot duplicate itself."), field="original")
        case = _lock(case_pk, actor, also=[original_pk])
        original = Case.objects.filter(visible_q(actor), pk=original_pk).first()  # locked
        if original is None:
            raise CaseInputError(_("No such open case to merge into."), field="original")
        role = _check(case, actor, "merge", expected_version)
        if role_for(actor, original, "merge") is None:
            raise ActionForbidden(
                _("Case %(number)s is not with your command centre.") % {"number": original.number}
            )
        if not original.is_open or original.duplicate_of_id is not None:
            raise CaseInputError(
                _("Case %(number)s is not open; merge into an open case.")
                % {"number": original.number},
                field="original",
            )
        note = _text(note, "note", required=False)
        from_status = case.status
        case.merge_into(original=original)
        now = timezone.now()
        deadlines.stage_start(case, now=now)
        _settle_directives(case, now)
        _record(
            case, actor=actor, role=role, action="merged", from_status=from_status,
            payload={"kind": RejectReason.DUPLICATE, "original": original.number, "note": note},
        )  # fmt: skip
        if (case.reporter_id or case.reporter_phone or case.reporter_email) and (
            case.reporter_id is None
            or not original.followers.filter(user_id=case.reporter_id).exists()
        ):
            CaseFollower.objects.create(
                case=original,
                user_id=case.reporter_id,
                name=case.reporter_name,
                phone=case.reporter_phone,
                email=case.reporter_email,
                via=case,
            )
        _record(
            original, actor=actor, role=role, action="duplicate_merged",
            from_status=original.status, payload={"duplicate": case.number},
        )  # fmt: skip
    return case


def case_dispatch(
    *,
    case: Case | int,
    actor,
    department: Department | None = None,
    note: str = "",
    expected_version: int | None = None,
) -> Case:
    """Dispatch (派遣) to a department: the one named, else the routed one.
    From ``returned`` this is a re-dispatch."""
    with transaction.atomic():
        case = _lock(case, actor)
        role = _check(case, actor, "dispatch", expected_version)
        department = department or case.routed_department
        if department is None:
            raise CaseInputError(
                _("No routing rule covers this case: choose a department."),
                field="department",
                code="unrouted",
            )
        if not department.is_active:
            raise CaseInputError(
                _("%(d)s is not an active department.") % {"d": department}, field="department"
            )
        if department.jurisdiction_id not in case.ancestor_ids:
            raise CaseInputError(
                _("The case is outside the jurisdiction of %(d)s.") % {"d": department},
                field="department",
            )
        from_status = case.status
        case.dispatch(department=department)
        deadlines.stage_start(case, now=timezone.now())
        _record(
            case, actor=actor, role=role,
            action="redispatched" if from_status == Status.RETURNED else "dispatched",
            from_status=from_status,
            payload={"department": department.code, "note": _text(note, "note", required=False)},
        )  # fmt: skip
    return case


def case_escalate(
    *, case: Case | int, actor, reason: str, expected_version: int | None = None
) -> Case:
    """Hand the case up to the command centre one level above."""
    with transaction.atomic():
        case = _lock(case, actor)
        role = _check(case, actor, "escalate", expected_version)
        reason = _text(reason, "reason", required=True)
        from_status, from_level = case.status, case.command_level
        case.escalate()
        deadlines.stage_start(case, now=timezone.now())
        _record(
            case, actor=actor, role=role, action="escalated", from_status=from_status,
            payload={"from_level": from_level, "to_level": case.command_level, "reason": reason},
        )  # fmt: skip
    return case


# --- Department ----------------------------------------------------------------------


def _simple(
    action: str,
    event: str,
    *,
    restart: bool,
    text_field: str | None = None,
    settle: bool = False,
):
    """A service for a transition that takes nothing but an optional or
    required text (reason / note), restarts or keeps the deadline, and
    settles (``settle``) the reminders and orders addressed to the department."""

    def service(
        *, case: Case | int, actor, reason: str = "", expected_version: int | None = None
    ) -> Case:
        with transaction.atomic():
            case = _lock(case, actor)
            role = _check(case, actor, action, expected_version)
            text = _text(reason, text_field or "note", required=text_field is not None)
            from_status = case.status
            getattr(case, TRANSITION_OF_ACTION[action])()
            now = timezone.now()
            if restart:
                deadlines.stage_start(case, now=now)
            if settle:
                _settle_directives(case, now)
            _record(
                case, actor=actor, role=role, action=event, from_status=from_status,
                payload={text_field or "note": text},
            )  # fmt: skip
        return case

    service.__name__ = f"case_{action}"
    return service


case_acknowledge = _simple("acknowledge", "acknowledged", restart=True)
case_acknowledge.__doc__ = "Acknowledge (签收) a dispatched case: handling starts."
case_return = _simple("return", "returned", restart=True, text_field="reason", settle=True)
case_return.__doc__ = "Return (退单) a case that is not the department's, saying why."
case_request_suspension = _simple(
    "request_suspension", "suspension_requested", restart=False, text_field="reason"
)
case_request_suspension.__doc__ = "Ask the command centre to suspend (挂账) the case."
case_deny_suspension = _simple("deny_suspension", "suspension_denied", restart=False)


def case_request_extension(
    *,
    case: Case | int,
    actor,
    amount: int,
    reason: str,
    expected_version: int | None = None,
) -> Case:
    """Ask for more time (延期): ``amount`` in the unit of the handling limit."""
    with transaction.atomic():
        case = _lock(case, actor)
        role = _check(case, actor, "request_extension", expected_version)
        reason = _text(reason, "reason", required=True)
        if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= 1000:
            raise CaseInputError(
                _("The extension must be a whole number from 1 to 1000."), field="amount"
            )
        minutes = deadlines.extension_minutes(case, amount)
        from_status = case.status
        case.request_extension(minutes=minutes)
        _record(
            case, actor=actor, role=role, action="extension_requested", from_status=from_status,
            payload={"amount": amount, "unit": case.stage_unit, "reason": reason},
        )  # fmt: skip
    return case


def case_decide_extension(
    *,
    case: Case | int,
    actor,
    approve: bool,
    note: str = "",
    expected_version: int | None = None,
) -> Case:
    """Approve (the handling deadline moves) or deny an extension request."""
    action = "approve_extension" if _bool(approve, "approve") else "deny_extension"
    with transaction.atomic():
        case = _lock(case, actor)
        role = _check(case, actor, action, expected_version)
        note = _text(note, "note", required=False)
        minutes = case.pending_extension
        from_status = case.status
        case.decide_extension(approve=approve)
        if approve:
            deadlines.stage_replace(case, now=timezone.now())
        _record(
            case, actor=actor, role=role,
            action="extension_approved" if approve else "extension_denied",
            from_status=from_status,
            payload={"minutes": minutes, "due_at": case.due_at if approve else None, "note": note},
        )  # fmt: skip
    return case


def case_approve_suspension(
    *, case: Case | int, actor, note: str = "", expected_version: int | None = None
) -> Case:
    """Suspend (挂账) the case: its handling clock stops until it is resumed."""
    with transaction.atomic():
        case = _lock(case, actor)
        role = _check(case, actor, "approve_suspension", expected_version)
        note = _text(note, "note", required=False)
        from_status = case.status
        case.approve_suspension()
        deadlines.stage_pause(case, now=timezone.now())
        _record(
            case, actor=actor, role=role, action="suspended", from_status=from_status,
            payload={"note": note},
        )  # fmt: skip
    return case


def case_resume(
    *, case: Case | int, actor, note: str = "", expected_version: int | None = None
) -> Case:
    """Resume a suspended case: its clock runs again from where it stopped."""
    with transaction.atomic():
        case = _lock(case, actor)
        role = _check(case, actor, "resume", expected_version)
        note = _text(note, "note", required=False)
        from_status = case.status
        case.resume()
        deadlines.stage_resume(case, now=timezone.now())
        _record(
            case, actor=actor, role=role, action="resumed", from_status=from_status,
            payload={"note": note, "due_at": case.due_at},
        )  # fmt: skip
    return case


def case_report_back(
    *,
    case: Case | int,
    actor,
    note: str,
    photos: Sequence[UploadedFile],
    expected_version: int | None = None,
) -> Case:
    """Report the case handled (反馈), with at least one photo of the result."""
    photos = _prepare_photos(photos, field="photos", required=True)
    with _files_removed_on_failure(), transaction.atomic():
        case = _lock(case, actor)
        role = _check(case, actor, "report_back", expected_version)
        note = _text(note, "note", required=True)
        from_status = case.status
        case.report_back()
        now = timezone.now()
        deadlines.stage_start(case, now=now)
        _settle_directives(case, now)
        _record(
            case, actor=actor, role=role, action="handled", from_status=from_status,
            payload={"note": note}, stored=_store_photos(photos),
        )  # fmt: skip
    return case


# --- Inspection and after ------------------------------------------------------------


def case_inspect(
    *,
    case: Case | int,
    actor,
    passed: bool,
    note: str = "",
    photos: Sequence[UploadedFile] = (),
    expected_version: int | None = None,
) -> Case:
    """Inspect (核查) on site: pass closes the case; fail sends it back to the
    department for rework, saying what is still wrong."""
    action = "inspect_pass" if _bool(passed, "passed") else "inspect_fail"
    photos = _prepare_photos(photos, field="photos", required=False)
    with _files_removed_on_failure(), transaction.atomic():
        case = _lock(case, actor)
        role = _check(case, actor, action, expected_version)
        note = _text(note, "note", required=not passed)
        from_status = case.status
        getattr(case, action)()
        now = timezone.now()
        deadlines.stage_start(case, now=now)
        if passed:
            _settle_directives(case, now)
        _record(
            case, actor=actor, role=role,
            action="closed" if passed else "rework",
            from_status=from_status, payload={"note": note},
            stored=_store_photos(photos), photo_kind=AttachmentKind.INSPECTION,
        )  # fmt: skip
    return case


def case_rate(
    *,
    case: Case | int,
    actor,
    satisfaction: str,
    comment: str = "",
    expected_version: int | None = None,
) -> Case:
    """The reporter's rating of a closed case."""
    if satisfaction not in Satisfaction.values:
        raise CaseInputError(
            _("Rate the outcome as one of: %(values)s.")
            % {"values": ", ".join(Satisfaction.values)},
            field="satisfaction",
        )
    with transaction.atomic():
        case = _lock(case, actor)
        role = _check(case, actor, "rate", expected_version)
        comment = _text(comment, "comment", required=False)
        from_status = case.status
        case.rate(satisfaction=satisfaction)
        _record(
            case, actor=actor, role=role, action="rated", from_status=from_status,
            payload={"satisfaction": satisfaction, "comment": comment},
        )  # fmt: skip
    return case


def case_reopen(
    *, case: Case | int, actor, reason: str, expected_version: int | None = None
) -> Case:
    """Reopen (重办) a closed case within the allowed days: back to its department."""
    with transaction.atomic():
        case = _lock(case, actor)
        role = _check(case, actor, "reopen", expected_version)
        reason = _text(reason, "reason", required=True)
        from_status = case.status
        case.reopen()
        deadlines.stage_start(case, now=timezone.now())
        _record(
            case, actor=actor, role=role, action="reopened", from_status=from_status,
            payload={"reason": reason},
        )  # fmt: skip
    return case


# --- Oversight -----------------------------------------------------------------------


def case_issue_directive(
    *,
    case: Case | int,
    actor,
    kind: str,
    message: str,
    due_at: dt.datetime,
    expected_version: int | None = None,
) -> CaseDirective:
    """A reminder (催办) or a supervision order (督办) on an open case, due by ``due_at``."""
    if kind not in DirectiveKind.values:
        raise CaseInputError(_("Unknown kind “%(k)s”.") % {"k": kind}, field="kind")
    action = "remind" if kind == DirectiveKind.REMINDER else "supervise"
    now = timezone.now()
    if not isinstance(due_at, dt.datetime) or timezone.is_naive(due_at):
        raise CaseInputError(
            _("Give the deadline as a date and time with its time zone."), field="due_at"
        )
    if due_at <= now:
        raise CaseInputError(_("The deadline must be in the future."), field="due_at")
    with transaction.atomic():
        case = _lock(case, actor)
        role = _check(case, actor, action, expected_version)
        message = _text(message, "message", required=True)
        from_status = case.status
        getattr(case, action)()
        directive = CaseDirective.objects.create(
            case=case, kind=kind, issued_by=actor, message=message, due_at=due_at, created_at=now
        )
        _record(
            case, actor=actor, role=role,
            action="reminded" if action == "remind" else "supervision_ordered",
            from_status=from_status,
            payload={"directive": directive.pk, "message": message, "due_at": due_at},
        )  # fmt: skip
    return directive


def case_add_cohandler(
    *,
    case: Case | int,
    actor,
    department: Department | None = None,
    user=None,
    expected_version: int | None = None,
) -> Case:
    """Let a co-handling department (协办), or one named person, see the case
    and add notes and photos to it."""
    if (department is None) == (user is None):
        raise CaseInputError(_("Name either a department or a person."), field="department")
    with transaction.atomic():
        case = _lock(case, actor)
        role = _check(case, actor, "add_cohandler", expected_version)
        from_status = case.status
        case.add_cohandler()
        if department is not None:
            if department.group is None:
                department.save()
            assign_perm("cases.cohandle_case", department.group, case)
        else:
            assign_perm("cases.cohandle_case", user, case)
            forget_scope(user)
        _record(
            case, actor=actor, role=role, action="cohandler_added", from_status=from_status,
            payload={"department": getattr(department, "code", None),
                     "user": getattr(user, "pk", None)},
        )  # fmt: skip
    return case


def case_comment(
    *,
    case: Case | int,
    actor,
    text: str,
    photos: Sequence[UploadedFile] = (),
    expected_version: int | None = None,
) -> Case:
    """A note (and photos) on the case's record by someone working on it."""
    photos = _prepare_photos(photos, field="photos", required=False)
    with _files_removed_on_failure(), transaction.atomic():
        case = _lock(case, actor)
        role = _check(case, actor, "comment", expected_version)
        text = _text(text, "text", required=True)
        from_status = case.status
        case.comment()
        _record(
            case, actor=actor, role=role, action="commented", from_status=from_status,
            payload={"text": text}, stored=_store_photos(photos),
        )  # fmt: skip
    return case
