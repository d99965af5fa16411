"""The steps every action shares, and ``acting``, which runs them.

An action on a case, in one transaction:

1. check the actor may see the case (``CaseNotFound`` otherwise) and lock its
   row (``SELECT … FOR UPDATE``);
2. check that the case's state allows the action (``CaseConflict``: when two
   people act at once, the second sees the state the first left), that its
   conditions hold (``CaseConflict`` with the reason) and that the actor holds
   a role for it in scope (``ActionForbidden``, from ``cases.policy.role_for``,
   the one place that decides who may act);
3. (the action's own part) apply the transition and move the deadline clock;
4. save, append a ``CaseEvent`` and publish it after commit.

``acting`` does 1, 2 and 4 around the action's own part::

    with acting(case, actor, "escalate", expected_version) as step:
        step.case.escalate()
        step.payload = {"reason": reason}
    return step.case

Photo files are written inside the transaction that records them and deleted
again when it fails.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from .. import deadlines, limits
from ..actions import workflow_action
from ..attributes import unstorable_text
from ..audience import audience, involved
from ..errors import ActionForbidden, CaseConflict, CaseInputError, CaseNotFound
from ..models import AttachmentKind, Case, CaseAttachment, CaseDirective, CaseEvent
from ..photos import PreparedPhoto, prepare_photo
from ..policy import TipHolder, role_for, visible_q
from ..publishing import publish_on_commit

logger = logging.getLogger(__name__)


@dataclass
class Step:
    """One action under way: the locked case, the role the actor takes it
    as, and what its event will record. The action sets ``payload`` (and may
    change ``event``, attach ``photos``)."""

    case: Case
    actor: object
    role: str
    event: str
    from_status: str
    now: dt.datetime
    payload: dict = field(default_factory=dict)
    photos: Sequence[PreparedPhoto] = ()
    photo_kind: str = AttachmentKind.HANDLING
    recorded: CaseEvent | None = None

    def record(self) -> CaseEvent:
        """Record the event now (``acting`` does it at the end otherwise):
        for an action that records on another case after its own."""
        if self.recorded is None:
            self.recorded = record(
                self.case,
                actor=account(self.actor),
                role=self.role,
                action=self.event,
                from_status=self.from_status,
                payload=self.payload,
                now=self.now,
                stored=store_photos(self.photos),
                photo_kind=self.photo_kind,
            )
        return self.recorded


@contextmanager
def acting(
    case: Case | int,
    actor,
    action: str,
    expected_version: int | None,
    *,
    also: Sequence[int] = (),
) -> Iterator[Step]:
    """Lock and check the case for ``action``, let the action change it, then
    record and publish its event: all in one transaction, which the action's
    errors roll back (with any photo files written)."""
    with files_removed_on_failure(), transaction.atomic():
        locked = lock(case, actor, also=also)
        role = check(locked, actor, action, expected_version)
        step = Step(
            case=locked,
            actor=actor,
            role=role,
            event=workflow_action(action).event,
            from_status=locked.status,
            now=timezone.now(),
        )
        yield step
        step.record()


@dataclass(frozen=True)
class OnSite:
    """A check on site that passes or fails: its actions (on pass, on fail)
    and the kind of its photos."""

    on_pass: str
    on_fail: str
    photo_kind: str
    photo_required_on_pass: bool = False


VERIFICATION = OnSite("verify_pass", "verify_fail", AttachmentKind.VERIFICATION, True)
INSPECTION = OnSite("inspect_pass", "inspect_fail", AttachmentKind.INSPECTION)


@contextmanager
def on_site_check(
    check: OnSite,
    case: Case | int,
    actor,
    passed: bool,
    note: str,
    photos: Sequence[UploadedFile] | None,
    expected_version: int | None,
) -> Iterator[Step]:
    """Verification (核实) or inspection (核查) on site. A failure says why in
    ``note``. Applies the action's transition and starts the next stage's
    deadline; the caller may add to the step before it is recorded."""
    action = check.on_pass if boolean(passed, "passed") else check.on_fail
    required = passed and check.photo_required_on_pass
    prepared = prepare_photos(photos, field="photos", required=required)
    with acting(case, actor, action, expected_version) as step:
        step.payload = {"note": text(note, "note", required=not passed)}
        getattr(step.case, workflow_action(action).transition)()
        deadlines.stage_start(step.case, now=step.now)
        step.photos, step.photo_kind = prepared, check.photo_kind
        yield step


def account(actor):
    """The user account an actor is, for the records: none for the holder
    of a tip's tracking token."""
    return None if isinstance(actor, TipHolder) else actor


def pk_of(case: Case | int, *, field: str | None = None) -> int:
    if isinstance(case, Case):
        return case.pk
    if isinstance(case, int) and not isinstance(case, bool):
        return case
    if field:
        raise CaseInputError(_("Give the id of a case."), field=field)
    raise CaseNotFound(case)


def lock(case: Case | int, actor, *, also: Sequence[int] = ()) -> Case:
    """The case, locked (with the ``also`` rows, in id order). Visibility is
    checked before waiting for the lock, so someone who could see the case
    and lost it to a concurrent action (a return takes it away from the
    department) gets the conflict that says what happened, not "not found"."""
    pk = pk_of(case)
    if not Case.objects.filter(visible_q(actor), pk=pk).exists():
        raise CaseNotFound(pk)
    rows = list(
        Case.objects.select_for_update(of=("self",)).filter(pk__in=[pk, *also]).order_by("pk")
    )
    for row in rows:
        if row.pk == pk:
            return row
    raise CaseNotFound(pk)


def check(case: Case, actor, action: str, expected_version: int | None) -> str:
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
    method = getattr(case, workflow_action(action).transition)
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


def record(
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
    see ``store_photos``) and publish it after commit.

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
    known(event, "attachments", attach(case, event, stored, photo_kind, actor))
    publish_on_commit(event)
    case.last_event = event
    return event


def known(instance, relation: str, objects: list) -> None:
    """Give ``instance``'s reverse ``relation`` these ``objects``, as
    prefetch_related would: ``.all()`` returns them, anything else queries."""
    queryset = getattr(instance, relation).all()
    queryset._result_cache, queryset._prefetch_done = list(objects), True
    instance.__dict__.setdefault("_prefetched_objects_cache", {})[relation] = queryset


def text(value: str, field: str, *, required: bool, limit: int = limits.NOTE) -> str:
    """A person's text for ``field``, stripped, checked and within ``limit``."""
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


def boolean(value, field: str) -> bool:
    if not isinstance(value, bool):
        raise CaseInputError(_("%(field)s must be true or false.") % {"field": field}, field=field)
    return value


def settle_directives(case: Case, now: dt.datetime) -> None:
    """The reminders and orders on the case are answered."""
    CaseDirective.objects.filter(case=case, settled_at__isnull=True).update(settled_at=now)
    case.is_supervised = False


# --- Photos --------------------------------------------------------------------------


def prepare_photos(
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


def store_photos(photos: Sequence[PreparedPhoto]) -> list[tuple[PreparedPhoto, str]]:
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


def attach(case, event, stored, kind, actor) -> list[CaseAttachment]:
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
    from ..tasks import make_thumbnails

    try:
        make_thumbnails.delay(ids)
    except Exception:  # the broker is down: the periodic catch-up makes them later
        logger.exception("could not queue thumbnails for photos %s", ids)


_WRITTEN_FILES: ContextVar[list[str] | None] = ContextVar("written_files", default=None)


@contextmanager
def files_removed_on_failure():
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
