"""Reading inboxes. Every read is scoped to the signed-in user's own
notifications: another user's notification does not exist for them."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count

from .errors import NotificationNotFound
from .models import Channel, Notification


def inbox_of(user, *, unread: bool | None = None):
    """The user's inbox, newest first (``unread``: only unread, or only read)."""
    queryset = Notification.objects.filter(recipient_id=user.pk, channel=Channel.INBOX)
    if unread is not None:
        queryset = queryset.filter(read_at__isnull=unread)
    return queryset.order_by("-created_at", "-id")


def with_display(queryset):
    """What an inbox item shows (notifications.rendering) in one query."""
    return queryset.select_related("case__category", "event").defer("case__location")


def unread_count(user) -> int:
    return inbox_of(user, unread=True).count()


def unread_counts(user_ids: Iterable[int]) -> dict[int, int]:
    """Unread inbox notifications per user, in one query."""
    rows = (
        Notification.objects.filter(
            recipient_id__in=sorted(user_ids), channel=Channel.INBOX, read_at__isnull=True
        )
        .order_by()
        .values("recipient_id")
        .annotate(n=Count("id"))
        .values_list("recipient_id", "n")
    )
    return dict(rows)


def notification_get(*, user, notification_id: int) -> Notification:
    notification = with_display(inbox_of(user)).filter(pk=notification_id).first()
    if notification is None:
        raise NotificationNotFound()
    return notification
