"""Query-string filters for list endpoints, on django-filter.

A value that does not parse is a 400 naming its parameter (DjangoFilterBackend
raises it as a validation error, which the project's handler formats), never
a filter silently dropped. A blank value (``?light=``) is "not given", as in
any HTML form, unless the FilterSet's form is ``BlankIsAnErrorForm``."""

from __future__ import annotations

import copy
import math

import django_filters
from django import forms
from django.contrib.gis.geos import Polygon
from django.core.validators import RegexValidator
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

_NUMBER = r"\s*[-+]?(\d+(\.\d*)?|\.\d+)\s*"
BBOX_PATTERN = rf"^{_NUMBER}(,{_NUMBER}){{3}}$"


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
            for argument, keyword in (
                ("min_value", "minimum"),
                ("max_value", "maximum"),
                ("max_length", "maxLength"),
            ):
                if extra.get(argument) is not None:
                    schema[keyword] = extra[argument]
            for validator in extra.get("validators", ()):
                if isinstance(validator, RegexValidator):
                    schema["pattern"] = validator.regex.pattern
            if schema.get("type") == "integer" and schema.get("maximum", 0) > 2**31 - 1:
                schema["format"] = "int64"
            if schema.get("type") == "string" and issubclass(
                filterset_class._meta.form, BlankIsAnErrorForm
            ):
                schema["minLength"] = 1
            if extra.get("help_text") and not parameter.get("description"):
                parameter["description"] = str(extra["help_text"])
        return parameters


class StrictBooleanField(forms.Field):
    """true or false, in any spelling DRF's BooleanField takes (1/0, yes/no,
    on/off..., in any case); anything else is an error. Django's NullBooleanField would
    read ``?overdue=maybe`` as "not given"."""

    default_error_messages = {"invalid": _("Must be a valid boolean.")}

    def to_python(self, value):
        value = value.lower() if isinstance(value, str) else value  # as DRF reads it
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
        parts = value.split(",")
        try:
            if len(parts) != 4:
                raise ValueError(value)
            x0, y0, x1, y1 = (float(v) for v in parts)
        except ValueError:
            raise forms.ValidationError(
                _("Give four numbers: min_lng,min_lat,max_lng,max_lat."), code="invalid"
            ) from None
        if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
            raise forms.ValidationError(_("The numbers of the box must be finite."), code="invalid")
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


@extend_schema_field(
    {"type": "string", "pattern": BBOX_PATTERN, "example": "119.90,31.70,119.96,31.74"}
)
class BoxFilter(django_filters.Filter):
    field_class = BoxField


class BlankIsAnErrorForm(forms.Form):
    """A filter form for which ``?level=`` is a mistake to report, not "not
    given": an API client that sends a blank value meant something."""

    def clean(self):
        cleaned = super().clean()
        for name in self.fields:
            if name in self.data and self.data.get(name) == "" and name not in self.errors:
                self.add_error(name, forms.ValidationError(_("This field may not be blank.")))
        return cleaned


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
