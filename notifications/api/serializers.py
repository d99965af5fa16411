"""API shapes of the inbox. An item is also what a ``notification`` live
message carries (notifications.services.push), in the same shape."""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core.api_serializers import ModelSerializer

from ..models import Kind, Notification
from ..rendering import render

KIND_LABELS = dict(Kind.choices)


class CaseRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()


class NotificationSerializer(ModelSerializer):
    """One inbox item. ``title`` and ``text`` are in the request's language.
    A digest of the deadline sweep has no case, event or action: it counts
    ``count`` cases and links to their list (``link``)."""

    kind = serializers.ChoiceField(choices=Kind.choices)
    kind_display = serializers.SerializerMethodField()
    title = serializers.SerializerMethodField()
    text = serializers.SerializerMethodField()
    # Empty for a digest of the sweep or a notice about no case (kind ``calendar``).
    case = CaseRefSerializer(allow_null=True)
    event_id = serializers.IntegerField(allow_null=True)
    action = serializers.CharField(source="event.action", allow_null=True)
    is_digest = serializers.BooleanField()
    count = serializers.IntegerField()
    link = serializers.CharField()
    is_read = serializers.BooleanField()

    class Meta:
        model = Notification
        fields = [
            "id", "kind", "kind_display", "title", "text", "case", "event_id", "action",
            "is_digest", "count", "link", "created_at", "read_at", "is_read",
        ]  # fmt: skip

    def get_kind_display(self, notification: Notification) -> str:
        return str(KIND_LABELS.get(notification.kind, notification.kind))

    def get_title(self, notification: Notification) -> str:
        return render(notification, "subject", self._language())

    def get_text(self, notification: Notification) -> str:
        return render(notification, "short", self._language())

    def _language(self) -> str | None:
        return translation.get_language()


class UnreadCountSerializer(serializers.Serializer):
    unread_count = serializers.IntegerField()


class ReadAllInputSerializer(serializers.Serializer):
    up_to = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        max_value=2**63 - 1,
        help_text=_(
            "Mark only notifications with ids up to this one (the newest the client has "
            "shown), so that one arriving meanwhile stays unread. Default: all."
        ),
    )


class ReadAllResultSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text=_("How many were marked read."))
    unread_count = serializers.IntegerField()
