from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from core.admin import ReadOnlyAdmin

from .models import Notification


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    """Read only: notifications are written by case actions and delivery."""

    list_display = (
        "id", "created_at", "kind", "channel", "recipient", "address", "case", "count",
        "read_at", "sent_at", "attempts",
    )  # fmt: skip
    list_filter = ("channel", "kind", ("sent_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("=case__number", "=address", "recipient__username")
    list_select_related = ("recipient", "case")
    date_hierarchy = "created_at"
    show_full_result_count = False
    fieldsets = (
        (None, {"fields": ("kind", "channel", "recipient", "address", "language")}),
        (_("Cause"), {"fields": ("case", "event", "count", "link", "created_at")}),
        (_("Inbox"), {"fields": ("read_at",)}),
        (_("Delivery"), {"fields": ("sent_at", "attempts", "attempted_at", "last_error")}),
    )
