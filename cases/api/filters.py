"""The case list's query-string filters, as a django-filter FilterSet.

A value that does not parse is a 400 naming its parameter (DjangoFilterBackend
raises it as a validation error, which the project's handler formats), never
a filter silently dropped. A blank value (``?light=``) is "not given", as in
any HTML form."""

from __future__ import annotations

import copy

import django_filters
from django import forms
from django.contrib.gis.geos import Polygon
from django.db.models import Exists, OuterRef
from django.http import QueryDict
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..errors import CaseInputError
from ..models import Case, Light, PendingRequest, Status
from ..policy import scope_of
from ..selectors import open_directives

ORDERINGS = ("-created_at", "created_at")
# A grid worker's tasks on site, by the status a case waits in for them.
TASK_STATUS = {"verify": Status.VERIFYING, "inspect": Status.HANDLED}


class FilterConstraintsExtension(DjangoFilterExtension):
    """drf-spectacular's django-filter extension, with the bounds and lengths
    a filter gives its form field, and its help text, in the parameter's
    schema: each is declared once, on the filter."""

    priority = 1

    def resolve_filter_field(self, auto_schema, model, filterset_class, field_name, filter_field):
        parameters = super().resolve_filter_field(
            auto_schema, model, filterset_class, field_name, filter_field
        )
        extra = filter_field.extra
        for parameter in parameters:
            schema = parameter["schema"]
            for argument, keyword in (("min_value", "minimum"), ("max_length", "maxLength")):
                if extra.get(argument) is not None:
                    schema[keyword] = extra[argument]
            if extra.get("help_text") and not parameter.get("description"):
                parameter["description"] = str(extra["help_text"])
        return parameters


class StrictBooleanField(forms.Field):
    """true or false, in any spelling DRF's BooleanField takes (1/0, yes/no,
    on/off...); anything else is an error. Django's NullBooleanField would
    read ``?overdue=maybe`` as "not given"."""

    default_error_messages = {"invalid": _("Must be a valid boolean.")}

    def to_python(self, value):
        if value in serializers.BooleanField.TRUE_VALUES:
            return True
        if value in serializers.BooleanField.FALSE_VALUES:
            return False
        if value in serializers.BooleanField.NULL_VALUES:
            return None
        raise forms.ValidationError(self.error_messages["invalid"], code="invalid")


class BoxField(forms.CharField):
    """``min_lng,min_lat,max_lng,max_lat`` in WGS-84, as a polygon."""

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        try:
            x0, y0, x1, y1 = (float(v) for v in value.split(","))
        except ValueError:
            raise forms.ValidationError(
                _("Give four numbers: min_lng,min_lat,max_lng,max_lat."), code="invalid"
            ) from None
        if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
            raise forms.ValidationError(
                _("The box is empty or outside WGS-84 bounds."), code="invalid"
            )
        box = Polygon.from_bbox((x0, y0, x1, y1))
        box.srid = 4326
        return box


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class IntegerFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


@extend_schema_field(OpenApiTypes.STR)
class BoxFilter(django_filters.Filter):
    field_class = BoxField


class _SharedFields(dict):
    """A filter form's fields, shared by its instances: nothing changes a
    filter's form field per request, so Django's deep copy of them for each
    form would only cost time."""

    def __deepcopy__(self, memo):
        return dict(self)


class FilterSet(django_filters.FilterSet):
    """django-filter's FilterSet, made cheap enough to build per request.

    Stock, it deep-copies every filter, builds a form class from them and
    deep-copies that form's fields each time (about 1 ms for the case list,
    more than the rest of parsing a list request). Here each filter is
    copied shallowly (it holds nothing per request but the model and parent
    set below), and the form class is built once per FilterSet class, with
    fields its instances share."""

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        if queryset is None:
            queryset = self._meta.model._default_manager.all()
        self.is_bound = data is not None
        self.data = data or QueryDict()
        self.queryset = queryset
        self.request = request
        self.form_prefix = prefix
        self.filters = {name: copy.copy(f) for name, f in self.base_filters.items()}
        for filter_ in self.filters.values():
            filter_.model = queryset.model
            filter_.parent = self
            if filter_.method is not None:  # its proxy must find this filter, not the original
                filter_.method = filter_.method

    @classmethod
    def form_class(cls):
        form = cls.__dict__.get("_form_class")
        if form is None:
            fields = {name: f.field for name, f in cls.base_filters.items()}
            form = type(f"{cls.__name__}Form", (cls._meta.form,), fields)
            form.base_fields = _SharedFields(form.base_fields)
            cls._form_class = form
        return form

    def get_form_class(self):
        return self.form_class()


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

    def filter_reopen_requested(self, queryset, name, value: bool):
        asked = {"pending_request": PendingRequest.REOPEN}
        return queryset.filter(**asked) if value else queryset.exclude(**asked)

    def order(self, queryset, name, value):
        return queryset.order_by(value, "-id" if value.startswith("-") else "id")
