"""Reads of cases that views, the API and the sweep share. Every read that
starts from a user goes through ``cases_visible_to``."""

from __future__ import annotations

import datetime as dt
import functools
import math

from django.conf import settings
from django.contrib.gis.measure import D
from django.core.cache import cache
from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    Prefetch,
    Q,
    QuerySet,
    Value,
)
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import can_proceed

from core.db import fetchone_prepared

from .errors import CaseNotFound
from .models import (
    OPEN_STATUSES,
    Case,
    CaseDirective,
    CaseEvent,
    Category,
    CategoryAttribute,
    Source,
)
from .policy import ACTIONS, TRANSITION_OF_ACTION, full_view_q, role_for, scope_of, visible_q
from .publishing import event_message


def grid_has_worker(grid_id: int, *, on: dt.date | None = None) -> bool:
    """Whether an active grid worker is assigned to the grid on ``on``
    (today): who a tip sent to verification goes to."""
    from grids.models import GridAssignment
    from grids.selectors import assigned_on
    from organisation.models import Role

    return GridAssignment.objects.filter(
        assigned_on(on or timezone.localdate()),
        grid_id=grid_id,
        user__is_active=True,
        user__roles__role=Role.GRID_WORKER,
    ).exists()


def cases_visible_to(user) -> QuerySet[Case]:
    return Case.objects.filter(visible_q(user))


def with_view(queryset: QuerySet[Case], user) -> QuerySet[Case]:
    """``queryset`` with ``in_full`` on each case: whether ``user`` sees it in
    full (``full_view_q``), or only as its reporter or a follower, who are
    shown its public view (the detail and the list alike)."""
    full = full_view_q(user)
    return queryset.annotate(
        in_full=ExpressionWrapper(full, output_field=BooleanField()) if full else Value(True)
    )


def case_get(user, pk) -> Case:
    """The case, or CaseNotFound when it does not exist or is out of scope.
    ``case.in_full``: whether ``user`` sees it in full (``full_view_q``), or
    only as its reporter or a follower, who are shown its public view."""
    try:
        return (
            with_view(cases_visible_to(user), user)
            .select_related("category", "department", "grid")
            .defer("grid__boundary")
            .get(pk=pk)
        )
    except (Case.DoesNotExist, ValueError, TypeError):
        raise CaseNotFound(pk) from None


def case_after_action(user, pk) -> tuple[Case | None, Case]:
    """A case someone has just acted on: (the case as ``case_get`` gives it,
    or None when the action took it out of their sight, as a return takes it
    from the department; the case's id, number, status and version, read
    whatever their scope: they are what the action did)."""
    try:
        case = case_get(user, pk)
    except CaseNotFound:
        return None, Case.objects.only("id", "number", "status", "version").get(pk=pk)
    return case, case


def case_actions(user, case: Case) -> list[str]:
    """The actions ``user`` may take on ``case`` in its current state."""
    allowed = []
    for action in ACTIONS:
        method = getattr(case, TRANSITION_OF_ACTION[action])
        if not can_proceed(method):
            continue
        if role_for(user, case, action) is not None:
            allowed.append(action)
    return allowed


def duplicate_candidates(case: Case) -> list[Case]:
    """Open cases of the same category within the category's radius and
    window of ``case``, nearest first."""
    category = case.category
    if category is None:
        return []
    since = case.created_at - dt.timedelta(hours=category.duplicate_window_hours)
    radius = D(m=category.duplicate_radius_m)
    # Degrees of latitude bound the search so the GiST index is used; the
    # exact spheroid distance then decides.
    cos_lat = max(math.cos(math.radians(case.location.y)), 0.01)
    degrees = category.duplicate_radius_m / 111_000 / cos_lat * 1.1
    return list(
        Case.objects.filter(
            category=category,
            status__in=OPEN_STATUSES,
            created_at__gte=since,
            duplicate_of__isnull=True,
            location__dwithin=(case.location, degrees),
        )
        .filter(location__distance_lte=(case.location, radius))
        .exclude(pk=case.pk)
        .order_by("created_at")[:20]
    )


def contact_for(user, case: Case) -> dict[str, str]:
    """The reporter's contact details, masked unless the user is the reporter,
    an admin, or acts on the case as dispatcher or handler."""
    scope = scope_of(user)
    details = {
        "name": case.reporter_name,
        "phone": case.reporter_phone,
        "email": case.reporter_email,
    }
    unmasked = (
        scope.is_admin
        or (scope.user_id is not None and case.reporter_id == scope.user_id)
        # the command centre in charge, and the department handling it
        or role_for(user, case, "dispatch") is not None
        or role_for(user, case, "acknowledge") is not None
    )
    if unmasked:
        return details
    return {
        "name": mask_name(details["name"]),
        "phone": mask_phone(details["phone"]),
        "email": mask_email(details["email"]),
    }


def mask_name(name: str) -> str:
    return name[:1] + "*" * (len(name) - 1) if name else ""


def mask_phone(phone: str) -> str:
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_email(email: str) -> str:
    if "@" not in email:
        return ""
    local, domain = email.split("@", 1)
    return local[:1] + "***@" + domain


def open_directives() -> QuerySet[CaseDirective]:
    """Directives not yet settled, soonest due first."""
    return CaseDirective.objects.filter(settled_at__isnull=True).order_by("due_at")


# --- Public (citizens following their tip) -----------------------------------------

_PUBLIC_STEPS = {
    "reported": _("Report received"),
    "verification_requested": _("Sent to a grid worker to check on site"),
    "verified": _("Checked on site: the problem is there"),
    "verification_failed": _("Checked on site: not found as described"),
    "registered": _("Registered by the command centre"),
    "rejected": _("Not taken up"),
    "merged": _("Merged with an earlier report of the same problem"),
    "dispatched": _("Sent to the department responsible"),
    "redispatched": _("Sent to the department responsible"),
    "acknowledged": _("The department started work"),
    "suspended": _("On hold"),
    "resumed": _("Work resumed"),
    "handled": _("Reported fixed"),
    "self_handled": _("Fixed on the spot by the grid worker"),
    "closed": _("Checked on site and closed"),
    "rework": _("Checked on site: more work needed"),
    "reopened": _("Reopened"),
    "rated": _("Rated"),
    "reopen_requested": _("Rated not satisfied: reopening asked"),
    "reopen_declined": _("Reopening declined by the command centre"),
}


# --- Staff (the whole history, in words) ---------------------------------------------

# Every event a case records, as staff read it on the case page: the
# citizen's words for the public steps, and the rest of the desk's work.
_STAFF_STEPS = {
    **_PUBLIC_STEPS,
    "rated": _("Rated by the reporter"),
    "verification_recalled": _("Taken back from verification on site"),
    "escalated": _("Escalated to the command centre above"),
    "returned": _("Returned by the department"),
    "extension_requested": _("Extension requested"),
    "extension_approved": _("Extension approved"),
    "extension_denied": _("Extension denied"),
    "suspension_requested": _("Suspension requested"),
    "suspension_denied": _("Suspension denied"),
    "reminded": _("Reminder sent"),
    "supervision_ordered": _("Supervision order issued"),
    "directive_overdue": _("Reminder or supervision order overdue"),
    "sla_yellow": _("Deadline near"),
    "sla_red": _("Deadline passed"),
    "cohandler_added": _("Co-handling added"),
    "commented": _("Note added"),
    "duplicate_merged": _("A duplicate report was merged into this case"),
}


def step_label(action: str) -> str:
    """An event's action in words, for staff."""
    return str(_STAFF_STEPS.get(action, _("Case updated")))


def citizen_categories():
    """The categories a citizen may choose, by class, each with its
    questions in order."""
    return report_categories(citizens=True)


def report_categories(*, citizens: bool):
    """The categories a report may name (only those citizens may choose, for
    a citizen), by class, each with its questions in order."""
    questions = CategoryAttribute.objects.order_by("order", "id")
    categories = Category.objects.for_citizens() if citizens else Category.objects.active()
    return (
        categories.select_related("major")
        .prefetch_related(Prefetch("attributes", queryset=questions))
        .order_by("major__family", "major__code", "code")
    )


# The citizen's short list of categories: the most reported by citizens lately.
CITIZEN_SHORTLIST_SIZE = 8
CITIZEN_SHORTLIST_DAYS = 90


def citizen_shortlist() -> list[str]:
    """Codes of the citizen-visible categories citizens reported most in
    the last ``CITIZEN_SHORTLIST_DAYS`` days, most first (ties by code), at
    most ``CITIZEN_SHORTLIST_SIZE``: what a citizen most likely wants, at the
    top of the form. Empty in a city with no citizens' reports yet."""

    def counted() -> list[str]:
        since = timezone.now() - dt.timedelta(days=CITIZEN_SHORTLIST_DAYS)
        return list(
            Category.objects.for_citizens()
            .filter(cases__source=Source.CITIZEN, cases__created_at__gte=since)
            .annotate(reports=Count("cases"))
            .order_by("-reports", "code")
            .values_list("code", flat=True)[:CITIZEN_SHORTLIST_SIZE]
        )

    seconds = settings.CASES_CITIZEN_SHORTLIST_SECONDS
    if not seconds:
        return counted()
    return cache.get_or_set("cases:citizen-shortlist", counted, seconds)


def tip_by_token(token: str) -> Case:
    """The case a tracking token names, with what its public view reads."""
    if not isinstance(token, str) or not 16 <= len(token) <= 43:
        raise CaseNotFound()
    case = (
        Case.objects.select_related("category", "department").filter(tracking_token=token).first()
    )
    if case is None:
        raise CaseNotFound()
    return case


PUBLIC_PHOTO_EVENTS = ("reported", "handled", "self_handled")
# The photos a reporter may see: the report's, and the result's as the
# department or grid worker reported it fixed. Photos added to internal notes
# and inspection photos stay with staff. (sha256 marks photos stored without
# metadata; older uploads were kept as sent.) A filter on CaseAttachment.
PUBLIC_PHOTO = Q(event__action__in=PUBLIC_PHOTO_EVENTS) & ~Q(sha256="")


def public_photos(case: Case):
    """The public photos of ``case`` (``PUBLIC_PHOTO``), oldest first."""
    return case.attachments.filter(PUBLIC_PHOTO).order_by("id")


def public_timeline(case: Case) -> list[dict]:
    """The steps of a case a reporter may see: what happened and when, never
    who, and no notes."""
    events = case.events.filter(action__in=_PUBLIC_STEPS).order_by("id")
    return [
        {"step": action, "label": str(_PUBLIC_STEPS[action]), "at": at}
        for action, at in events.values_list("action", "created_at")
    ]


def public_reply(case: Case) -> str:
    """The department's reply to the reporter: the public ``reply`` of its
    latest report back (``case_report_back``), never the internal note."""
    payload = (
        case.events.filter(action="handled", payload__has_key="reply")
        .order_by("-id")
        .values_list("payload", flat=True)
        .first()
    )
    return payload["reply"] if payload else ""


# Events in one page of a resync, by default (the API) and over a live connection.
EVENT_PAGE = 200
# What ``publishing.event_message`` reads of an event and its case.
_MESSAGE_FIELDS = (
    "id", "action", "created_at", "actor_id", "from_status", "to_status",
    "case__id", "case__number", "case__version", "case__status", "case__light",
    "case__due_at", "case__department_id", "case__command_level", "case__grid_id",
    "case__area_path",
)  # fmt: skip


@functools.cache
def _event_ids_sql(by_groups: bool) -> str:
    table = CaseEvent._meta.db_table
    # The groups as one text (their names have no comma): binding a list
    # costs the caller more than the statement does.
    audience = (
        "AND audience && string_to_array(%(groups)s, ',')::varchar(32)[]" if by_groups else ""
    )
    return (
        f"SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM {table} "
        f"WHERE id > %(since)s {audience} ORDER BY id LIMIT %(n)s) page"
    )


def latest_event_id() -> int:
    """The newest case event's id (0 when there is none)."""
    (latest,) = fetchone_prepared(f"SELECT max(id) FROM {CaseEvent._meta.db_table}", ())
    return latest or 0


def events_since(*, since: int, groups: list[str] | None, limit: int) -> dict:
    """One page of the case events after ``since`` whose audience shares a
    group with ``groups`` (None: every event, for an admin), oldest first, as
    pushed (``publishing.event_message``, the case as it is now): the page of
    ``GET /api/v1/events/`` and of a live connection's ``resync``.

    A reconnection storm asks this of thousands of clients at once, most of
    whom missed nothing: which events is one prepared statement (no query
    building); only when there are some are they read, with just the fields
    of the message."""
    params = {"since": since, "n": limit + 1}
    if groups is not None:
        params["groups"] = ",".join(groups)
    (ids,) = fetchone_prepared(_event_ids_sql(groups is not None), params)
    page = (ids or [])[:limit]
    events = []
    if page:
        events = (
            CaseEvent.objects.filter(id__in=page)
            .select_related("case")
            .only(*_MESSAGE_FIELDS)
            .order_by("id")
        )
    return {
        "events": [event_message(event) for event in events],
        "last_id": page[-1] if page else since,
        "has_more": len(ids or ()) > limit,
    }
