"""The areas list's query-string filters, as a django-filter FilterSet.

Paging (``limit``, ``offset``) and boundary simplification are not filters:
``serializers.AreaPageQuerySerializer`` reads them, and the view reports the
mistakes of both at once. A blank value is an error here, as it always was
for this endpoint (``BlankIsAnErrorForm``)."""

from __future__ import annotations

import re

import django_filters
from django.core.validators import RegexValidator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions

from core.filters import BlankIsAnErrorForm, BoxFilter, FilterSet, IntegerFilter

from ..models import Area, Level
from .serializers import MAX_ID


def _area_filter(help_text, method: str) -> IntegerFilter:
    return IntegerFilter(method=method, min_value=1, max_value=MAX_ID, help_text=help_text)


def _path_of(name: str, area_id: int) -> str:
    path = Area.objects.filter(pk=area_id).values_list("path", flat=True).first()
    if path is None:
        # Well-formed but naming nothing: like an unknown id in a path, 404.
        raise exceptions.NotFound(
            gettext("No such area: %(key)s=%(id)s.") % {"key": name, "id": area_id}
        )
    return path


class AreaFilter(FilterSet):
    parent = _area_filter(_("Only the children of this area (id)."), "filter_parent")
    within = _area_filter(_("Only this area and everything under it (id)."), "filter_within")
    level = django_filters.TypedChoiceFilter(
        choices=Level.choices,
        coerce=int,
        help_text=_("1 city, 2 district, 3 subdistrict, 4 community, 5 grid."),
    )
    code = django_filters.CharFilter(
        validators=[
            RegexValidator(re.compile(r"^[0-9]{6,15}$"), _("An area code is 6 to 15 digits."))
        ],
        help_text=_("Exactly this area code."),
    )
    bbox = BoxFilter(
        field_name="boundary",
        lookup_expr="intersects",
        help_text=_(
            "Areas whose boundary intersects this box: min_lng,min_lat,max_lng,max_lat "
            "(WGS-84; each min below its max)."
        ),
    )

    class Meta:
        model = Area
        fields: list[str] = []
        form = BlankIsAnErrorForm

    def filter_parent(self, queryset, name, value: int):
        _path_of(name, value)
        return queryset.filter(parent_id=value)

    def filter_within(self, queryset, name, value: int):
        return queryset.filter(path__startswith=_path_of(name, value))
