"""Delivering email and SMS notifications.

Each notification is queued for delivery once its action commits
(``notifications.tasks.deliver``); the periodic catch-up
(``deliver_overdue``) sends those whose task was lost (the broker was down
at commit) or whose delivery failed, after a pause, at most
``NOTIFICATIONS_MAX_ATTEMPTS`` times each and only while they are recent
(``NOTIFICATIONS_DELIVERY_WINDOW``): news of a case a day late is noise.

Rows are taken with ``FOR UPDATE SKIP LOCKED``, so the task and the catch-up
(or two workers) never send the same notification at once, and a sent one
(``sent_at``) is never sent again. A worker that dies after handing a
message to the backend but before recording it sends it again later: at
least once, as email and SMS gateways are.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import sms
from .models import OUTGOING, Channel, Notification
from .rendering import render
from .selectors import with_display

logger = logging.getLogger(__name__)


@dataclass
class DeliveryResult:
    sent: int = 0
    failed: int = 0


def _deliverable():
    return Notification.objects.filter(
        channel__in=OUTGOING,
        sent_at__isnull=True,
        attempts__lt=settings.NOTIFICATIONS_MAX_ATTEMPTS,
    )


def deliver(ids: Iterable[int], *, now: dt.datetime | None = None) -> DeliveryResult:
    """Send the given notifications, those not sent yet (queued after commit)."""
    ids = sorted(set(ids))
    result = DeliveryResult()
    batch = settings.NOTIFICATIONS_DELIVERY_BATCH
    for start in range(0, len(ids), batch):
        _deliver_batch(_deliverable().filter(pk__in=ids[start : start + batch]), now, batch, result)
    return result


def deliver_overdue(*, now: dt.datetime | None = None) -> DeliveryResult:
    """The catch-up: recent emails and SMS not sent yet, created more than a
    minute ago (the task queued at commit sends the others) and not tried in
    the last ``NOTIFICATIONS_RETRY_AFTER`` seconds."""
    now = now or timezone.now()
    retry_before = now - dt.timedelta(seconds=settings.NOTIFICATIONS_RETRY_AFTER)
    due = _deliverable().filter(
        Q(attempted_at__isnull=True) | Q(attempted_at__lte=retry_before),
        created_at__gte=now - dt.timedelta(seconds=settings.NOTIFICATIONS_DELIVERY_WINDOW),
        created_at__lte=now - dt.timedelta(seconds=settings.NOTIFICATIONS_QUEUE_GRACE),
    )
    result = DeliveryResult()
    batch = settings.NOTIFICATIONS_DELIVERY_BATCH
    # Each batch marks what it tried, so the next one moves on.
    while _deliver_batch(due, now, batch, result) == batch:
        pass
    return result


def _deliver_batch(queryset, now, batch: int, result: DeliveryResult) -> int:
    with transaction.atomic():
        rows = list(
            with_display(queryset)
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("created_at", "id")[:batch]
        )
        if not rows:
            return 0
        sender = _Sender()
        for notification in rows:
            notification.attempts += 1
            notification.attempted_at = now or timezone.now()
            try:
                sender.send(notification)
            except Exception as exc:  # recorded on the row, retried by the catch-up
                notification.last_error = f"{type(exc).__name__}: {exc}"[:500]
                result.failed += 1
                logger.warning(
                    "%s notification %s to %s failed (attempt %s): %s",
                    notification.channel,
                    notification.pk,
                    notification.address,
                    notification.attempts,
                    notification.last_error,
                )
            else:
                notification.sent_at = timezone.now()
                notification.last_error = ""
                result.sent += 1
        sender.close()
        Notification.objects.bulk_update(
            rows, ["attempts", "attempted_at", "sent_at", "last_error"]
        )
        return len(rows)


class _Sender:
    """One email connection and one SMS backend for a batch, opened when first needed."""

    def __init__(self):
        self._mail = None
        self._sms = None

    def send(self, notification: Notification) -> None:
        if notification.channel == Channel.EMAIL:
            self._send_email(notification)
        elif notification.channel == Channel.SMS:
            if self._sms is None:
                self._sms = sms.get_backend()
            text = render(notification, "short")
            self._sms.send_messages([sms.SmsMessage(to=notification.address, text=text)])
        else:
            raise ValueError(f"{notification.channel} notifications are not delivered")

    def _send_email(self, notification: Notification) -> None:
        if self._mail is None:
            self._mail = get_connection()
        message = EmailMessage(
            subject=render(notification, "subject"),
            body=render(notification, "body"),
            from_email=settings.NOTIFICATIONS_FROM_EMAIL or None,
            to=[notification.address],
            headers={"Auto-Submitted": "auto-generated"},
            connection=self._mail,
        )
        if not message.send():
            raise RuntimeError("the email backend sent nothing")

    def close(self) -> None:
        if self._mail is not None:
            try:
                self._mail.close()
            except Exception:
                logger.exception("closing the email connection failed")
