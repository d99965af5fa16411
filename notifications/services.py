"""Notification services: storing what a case event causes, what happens
once the action commits, and marking notifications read.

``notifications_for_event`` runs inside the action's transaction (see
notifications.receivers), so a notification exists exactly when its event
does: an action that rolls back leaves none. Once the transaction commits,
each new inbox notification is pushed live to its recipient and the emails
and SMS are queued for delivery (``notifications.tasks``); a periodic
catch-up delivers those whose task was lost.

The deadline sweep's events are told in digests instead (``sweep_digest``,
after each run): one row per person, kind and channel, written in one
insert, pushed live once per row and delivered like the others.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.urls import reverse
from django.utils import timezone, translation

from cases.audience import user_group
from cases.holidays import provisional_year_ahead
from cases.models import CalendarYear, CaseEvent
from organisation.models import Role, User

from . import digests, live, rules
from .models import OUTGOING, Channel, DigestMark, Kind, Notification
from .selectors import inbox_of, notification_get, unread_counts, with_display

logger = logging.getLogger(__name__)

MESSAGE_TYPE = "notification"
MESSAGE_VERSION = 1


def default_language() -> str:
    """The language emails, SMS and pushed items are written in."""
    code = getattr(settings, "NOTIFICATIONS_LANGUAGE", "") or settings.LANGUAGE_CODE
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return settings.LANGUAGE_CODE


# --- Inside the action's transaction ------------------------------------------------


def notifications_for_event(event) -> int:
    """Store the notifications ``event`` causes (notifications.rules) and
    arrange their push and delivery after commit. Storing an event's
    notifications twice stores nothing the second time. Returns the number
    of notifications planned."""
    planned = rules.plan(event)
    if not planned:
        return 0
    Notification.objects.bulk_create(
        notification_rows(planned, event_id=event.pk, case_id=event.case_id),
        ignore_conflicts=True,
    )
    transaction.on_commit(partial(after_commit, event.pk), robust=True)
    return len(planned)


def notification_rows(
    planned: list[rules.Planned] | list[digests.PlannedDigest], **shared
) -> list[Notification]:
    """The rows to store for ``planned`` notifications, an event's
    (``shared``: its event and case ids) or a sweep run's digests (each with
    its count and the link to the cases it is about), in the default
    language, created now."""
    language, now = default_language(), timezone.now()
    links: dict[str, str] = {}
    rows = []
    for item in planned:
        own = {}
        if isinstance(item, digests.PlannedDigest):
            if item.kind not in links:
                links[item.kind] = digest_link(item.kind)
            own = {"count": item.count, "link": links[item.kind]}
        rows.append(
            Notification(
                recipient_id=item.recipient_id,
                address=item.address,
                channel=item.channel,
                kind=item.kind,
                language=language,
                created_at=now,
                **shared,
                **own,
            )
        )
    return rows


# --- After a run of the deadline sweep ------------------------------------------------

# The case list each digest links to: the cases it is about (cases.api filters).
DIGEST_FILTERS = {
    Kind.YELLOW: "light=yellow",
    Kind.RED: "light=red",
    Kind.ESCALATION: "light=red",
    Kind.SUPERVISION: "supervised=true",
    Kind.DIRECTIVE_LATE: "directive_overdue=true",
}


def digest_link(kind: str) -> str:
    query = DIGEST_FILTERS.get(kind, "")
    return reverse("case-list") + (f"?{query}" if query else "")


def sweep_digest() -> int:
    """Store the digests of the sweep's events not digested yet (all the
    last run's, and a run's that died before its digest) and arrange their
    push and delivery after commit. Returns the number of rows stored."""
    with transaction.atomic():
        mark, _created = DigestMark.objects.select_for_update().get_or_create(pk=1)
        rows = list(
            CaseEvent.objects.filter(
                pk__gt=mark.last_event_id,
                actor__isnull=True,
                action__in=sorted(rules.digest_actions()),
            )
            .order_by("pk")
            .values_list("pk", "case_id", "action", "payload__issued_by")
        )
        # Event ids are drawn in commit order: nothing committed later can
        # come before the newest one visible now.
        top = CaseEvent.objects.aggregate(top=Max("pk"))["top"] or 0
        last = max(mark.last_event_id, top, rows[-1][0] if rows else 0)
        if last != mark.last_event_id:
            mark.last_event_id = last
            mark.save(update_fields=["last_event_id"])
        if not rows:
            return 0
        planned = digests.plan_digest(
            [digests.Swept(case_id, action, issued_by) for _pk, case_id, action, issued_by in rows]
        )
        stored = Notification.objects.bulk_create(notification_rows(planned), batch_size=5000)
        ids = [n.pk for n in stored]
        transaction.on_commit(partial(_after_digest, ids), robust=True)
    return len(ids)


def _after_digest(ids: list[int]) -> None:
    rows = list(Notification.objects.filter(pk__in=ids).order_by("pk"))
    _push_and_queue(rows, "the sweep's digests")


# --- After commit --------------------------------------------------------------------


def after_commit(event_id: int) -> None:
    """Push the event's inbox notifications live and queue its emails and SMS.
    Failures are logged: the inbox is stored already, clients reload it over
    REST, and the delivery catch-up sends what was not queued."""
    rows = list(with_display(Notification.objects.filter(event_id=event_id)))
    _push_and_queue(rows, f"event {event_id}")


def _push_and_queue(rows: list[Notification], what: str) -> None:
    inbox = [n for n in rows if n.channel == Channel.INBOX]
    if inbox:
        try:
            push(inbox)
        except Exception:
            logger.exception("live push of the notifications of %s failed", what)
    outgoing = [n.pk for n in rows if n.channel in OUTGOING and n.sent_at is None]
    if outgoing:
        _queue_delivery(outgoing)


def _queue_delivery(ids: list[int]) -> None:
    from .tasks import deliver

    try:
        deliver.delay(ids)
    except Exception:  # the broker is down: the periodic catch-up sends them later
        logger.exception("could not queue delivery of notifications %s", ids)


def push(notifications: list[Notification]) -> None:
    """Send each inbox notification to its recipient's live group, with the
    recipient's unread count: all of an event's in one go.

    The notifications of one event and kind read the same for everyone (a
    department's handlers get the same dispatch notice), as do digests of
    one kind and count, so each text is rendered once and the items differ
    only in their own fields."""
    from .api.serializers import NotificationSerializer

    counts = unread_counts({n.recipient_id for n in notifications})
    own_fields = NotificationSerializer().fields
    rendered: dict[tuple, dict] = {}
    batch = []
    for notification in notifications:
        if notification.is_digest:
            key = ("digest", notification.kind, notification.language, notification.count)
        else:
            key = (
                notification.event_id,
                notification.kind,
                notification.language,
                # the tracking link
                notification.case is not None
                and notification.recipient_id == notification.case.reporter_id,
            )
        if key not in rendered:
            with translation.override(notification.language):
                rendered[key] = NotificationSerializer(notification).data
        item = {
            **rendered[key],
            **{
                name: own_fields[name].to_representation(getattr(notification, name))
                for name in ("id", "created_at", "is_read")
            },
            "read_at": own_fields["read_at"].to_representation(notification.read_at)
            if notification.read_at
            else None,
        }
        message = {
            "type": MESSAGE_TYPE,
            "version": MESSAGE_VERSION,
            "notification": item,
            "unread_count": counts.get(notification.recipient_id, 0),
        }
        batch.append(([user_group(notification.recipient_id)], message, ""))
    live.send_many(batch)


# --- About the working calendar -------------------------------------------------------


def notify_provisional_calendar(*, today: dt.date | None = None) -> int:
    """From 1 October, while next year's working calendar is only provisional
    (cases.holidays), tell each active administrator (superusers and the
    admin role) once in their inbox. Safe to run again, or twice at once:
    the runs queue on next year's calendar row, and anyone told since
    January is not told again. Returns the number of notifications written."""
    today = today or timezone.localdate()
    year = provisional_year_ahead(today=today)
    if year is None:
        return 0
    with transaction.atomic():
        list(CalendarYear.objects.select_for_update().filter(year=year))
        since = timezone.make_aware(dt.datetime(today.year, 1, 1))
        told = Notification.objects.filter(kind=Kind.CALENDAR, created_at__gte=since)
        admins = (
            User.objects.filter(is_active=True)
            .filter(Q(is_superuser=True) | Q(roles__role=Role.ADMIN))
            .exclude(pk__in=told.values("recipient_id"))
            .distinct()
        )
        language, now = default_language(), timezone.now()
        rows = Notification.objects.bulk_create(
            Notification(
                recipient=user,
                channel=Channel.INBOX,
                kind=Kind.CALENDAR,
                language=language,
                created_at=now,
            )
            for user in admins
        )
        if rows:
            transaction.on_commit(partial(_push_logged, [row.pk for row in rows]), robust=True)
    return len(rows)


def _push_logged(ids: list[int]) -> None:
    try:
        push(list(with_display(Notification.objects.filter(pk__in=ids))))
    except Exception:
        logger.exception("live push of notifications %s failed", ids)


# --- The inbox -----------------------------------------------------------------------


def notification_mark_read(*, user, notification_id: int) -> Notification:
    """Mark one of the user's notifications read (again: it keeps the first time)."""
    notification = notification_get(user=user, notification_id=notification_id)
    if notification.read_at is None:
        now = timezone.now()
        # When two requests race, the first one's time stays.
        marked = Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=now
        )
        notification.read_at = (
            now
            if marked
            else Notification.objects.values_list("read_at", flat=True).get(pk=notification.pk)
        )
    return notification


def notifications_mark_all_read(*, user, up_to: int | None = None) -> int:
    """Mark the user's unread notifications read, only those with ids up to
    ``up_to`` when given (what the client has seen). Returns how many."""
    queryset = inbox_of(user, unread=True)
    if up_to is not None:
        queryset = queryset.filter(pk__lte=up_to)
    return queryset.order_by().update(read_at=timezone.now())
