"""The inbox list's query-string filter, as a django-filter FilterSet (the
kinds of filter, and how a bad value is answered: core.filters)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.filters import FilterSet, StrictBooleanFilter

from ..models import Notification


class InboxFilter(FilterSet):
    unread = StrictBooleanFilter(
        field_name="read_at",
        lookup_expr="isnull",
        help_text=_("true: only unread notifications; false: only read ones."),
    )

    class Meta:
        model = Notification
        fields: list[str] = []
