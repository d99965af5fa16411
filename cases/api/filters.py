"""The case list's query-string filters, as a django-filter FilterSet.

The filter kinds, and how a bad or blank value is answered, are in
``core.filters``."""

from __future__ import annotations

import django_filters
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.filters import BoxFilter, FilterSet, IntegerFilter, StrictBooleanFilter

from ..errors import CaseInputError
from ..models import Case, Light, PendingRequest, Status
from ..policy import scope_of
from ..selectors import open_directives

ORDERINGS = ("-created_at", "created_at")
# A grid worker's tasks on site, by the status a case waits in for them.
TASK_STATUS = {"verify": Status.VERIFYING, "inspect": Status.HANDLED}


class CaseFilter(FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Status.choices, method="filter_status")
    category = django_filters.CharFilter(field_name="category__code", max_length=6)
    area = IntegerFilter(method="filter_area", min_value=1)
    department = django_filters.CharFilter(field_name="department__code", max_length=32)
    light = django_filters.ChoiceFilter(choices=Light.choices)
    overdue = StrictBooleanFilter(method="filter_overdue")
    supervised = StrictBooleanFilter(field_name="is_supervised")
    directive_overdue = StrictBooleanFilter(
        method="filter_directive_overdue",
        help_text=_("true: cases with an open reminder or supervision order past its deadline."),
    )
    task = django_filters.ChoiceFilter(
        choices=[(t, t) for t in TASK_STATUS],
        method="filter_task",
        help_text=_(
            "My on-site tasks in the grids assigned to me today: verify (cases to verify, 核实) "
            "or inspect (cases to inspect, 核查)."
        ),
    )
    mine = StrictBooleanFilter(
        method="filter_mine", help_text=_("true: the cases I reported; false: the others.")
    )
    reopen_requested = StrictBooleanFilter(
        method="filter_reopen_requested",
        help_text=_("true: closed cases whose reporter was not satisfied and asked to reopen."),
    )
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    bbox = BoxFilter(
        field_name="location",
        lookup_expr="within",
        help_text=_("min_lng,min_lat,max_lng,max_lat (WGS-84)"),
    )
    # Orders the queryset; CaseCursorPagination pages in the order it finds.
    ordering = django_filters.ChoiceFilter(
        choices=[(o, o) for o in ORDERINGS], method="order", empty_label=None
    )

    class Meta:
        model = Case
        fields: list[str] = []

    def filter_status(self, queryset, name, value):
        return queryset.filter(status__in=value)

    def filter_area(self, queryset, name, value: int):
        from grids.models import Area

        path = Area.objects.filter(pk=value).values_list("path", flat=True).first()
        if path is None:
            raise CaseInputError(gettext("No such area."), field="area")
        return queryset.filter(area_path__startswith=path)

    def filter_overdue(self, queryset, name, value: bool):
        red = {"light": Light.RED}
        return queryset.filter(**red) if value else queryset.exclude(**red)

    def filter_directive_overdue(self, queryset, name, value: bool):
        late = Exists(
            open_directives().filter(case=OuterRef("pk"), overdue_at__isnull=False).order_by()
        )
        return queryset.filter(late if value else ~late)

    def filter_task(self, queryset, name, value: str):
        grids = scope_of(getattr(self.request, "user", None)).grid_ids
        return queryset.filter(status=TASK_STATUS[value], grid_id__in=sorted(grids))

    def filter_mine(self, queryset, name, value: bool):
        me = Q(reporter_id=getattr(getattr(self.request, "user", None), "pk", None))
        return queryset.filter(me if value else ~me)

    def filter_reopen_requested(self, queryset, name, value: bool):
        asked = {"pending_request": PendingRequest.REOPEN}
        return queryset.filter(**asked) if value else queryset.exclude(**asked)

    def order(self, queryset, name, value):
        return queryset.order_by(value, "-id" if value.startswith("-") else "id")
