"""Query parameters of the areas API, and the shapes of its responses.

Query serializers check types and ranges and name the bad parameter. The
response serializers document the GeoJSON the views build (see
``geojson.py``): rendering thousands of coordinates through DRF fields would
cost more than the query, so they describe the output rather than produce it.
"""

from __future__ import annotations

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from ..coords import InvalidCoordinates, parse_coordinate_system
from ..models import Level
from .geojson import DEFAULT_SIMPLIFY_METRES, MAX_SIMPLIFY_METRES

MAX_ID = 2**63 - 1  # ids are bigint
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 100
MAX_OFFSET = 10**9


class SimplifyQuerySerializer(serializers.Serializer):
    simplify = serializers.FloatField(
        required=False,
        min_value=0,
        max_value=MAX_SIMPLIFY_METRES,
        help_text=format_lazy(
            _(
                "Simplification tolerance in metres (0 for the full boundary). By default "
                "each area is simplified by its level's tolerance: {defaults}."
            ),
            defaults=", ".join(
                f"{level.name.lower()} {metres:g} m"
                for level, metres in DEFAULT_SIMPLIFY_METRES.items()
            ),
        ),
    )


class AreaPageQuerySerializer(SimplifyQuerySerializer):
    """The areas list's paging and simplification; its filters are
    ``filters.AreaFilter``."""

    limit = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_PAGE_SIZE,
        default=DEFAULT_PAGE_SIZE,
        help_text=_("Features per page."),
    )
    offset = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_OFFSET,
        default=0,
        help_text=_("Features to skip."),
    )


@extend_schema_field({"type": "string", "enum": ["wgs84", "gcj02"], "default": "wgs84"})
class CoordinateSystemField(serializers.CharField):
    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        try:
            return parse_coordinate_system(text)
        except InvalidCoordinates:
            raise serializers.ValidationError(
                _("Unknown coordinate system “%(crs)s”: use wgs84 or gcj02.") % {"crs": text}
            ) from None


class LocateQuerySerializer(serializers.Serializer):
    lng = serializers.FloatField(min_value=-180, max_value=180, help_text=_("Longitude."))
    lat = serializers.FloatField(min_value=-90, max_value=90, help_text=_("Latitude."))
    crs = CoordinateSystemField(
        required=False,
        default="wgs84",
        help_text=_(
            "Coordinate system of the point: wgs84 (GPS, browsers) or gcj02 "
            "(Chinese map SDKs). Never guessed."
        ),
    )


# --- Responses (documentation of what geojson.py builds) -------------------------


def _constant(value: str, *, owner: str) -> serializers.CharField:
    """A property that always holds ``value`` (a one-value enum). drf-spectacular
    names enums after their property; ``owner`` keeps the several GeoJSON
    ``type`` properties apart (each becomes its own ``<Owner>TypeEnum``)."""

    @extend_schema_field({"type": "string", "enum": [value], "x-spec-enum-id": owner})
    class Constant(serializers.CharField):
        pass

    return Constant()


@extend_schema_field(
    {
        "type": "array",
        "description": "Polygons; each a list of rings; each ring a closed list of "
        "[longitude, latitude] positions (WGS-84).",
        "items": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "array",
                "minItems": 4,
                "items": {
                    "type": "array",
                    "minItems": 2,
                    "maxItems": 2,
                    "items": {"type": "number"},
                },
            },
        },
    }
)
class _CoordinatesField(serializers.JSONField):
    pass


class MultiPolygonSerializer(serializers.Serializer):
    type = _constant("MultiPolygon", owner="MultiPolygon")
    coordinates = _CoordinatesField()


class AreaRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    name_en = serializers.CharField(allow_blank=True)
    level = serializers.ChoiceField(choices=Level.choices)


class AreaPropertiesSerializer(AreaRefSerializer):
    parent = serializers.IntegerField(allow_null=True, help_text=_("Id of the parent area."))


class AreaDetailPropertiesSerializer(AreaPropertiesSerializer):
    ancestors = AreaRefSerializer(many=True, help_text=_("From the city down to the parent."))


class AreaFeatureSerializer(serializers.Serializer):
    type = _constant("Feature", owner="AreaFeature")
    id = serializers.IntegerField()
    geometry = MultiPolygonSerializer()
    properties = AreaPropertiesSerializer()


class AreaDetailFeatureSerializer(AreaFeatureSerializer):
    type = _constant("Feature", owner="AreaDetailFeature")
    properties = AreaDetailPropertiesSerializer()


@extend_schema_serializer(many=False)  # one collection, though the list action returns it
class AreaFeatureCollectionSerializer(serializers.Serializer):
    type = _constant("FeatureCollection", owner="AreaFeatureCollection")
    features = AreaFeatureSerializer(many=True)
    count = serializers.IntegerField(help_text=_("Areas matching the filters, on all pages."))
    next = serializers.URLField(allow_null=True, help_text=_("The next page, if any."))
    previous = serializers.URLField(allow_null=True, help_text=_("The previous page, if any."))


class WGS84PointSerializer(serializers.Serializer):
    lng = serializers.FloatField()
    lat = serializers.FloatField()


class LocatedPointSerializer(serializers.Serializer):
    point = WGS84PointSerializer(help_text=_("The point in WGS-84."))
    grid = AreaRefSerializer()
    ancestors = AreaRefSerializer(many=True, help_text=_("From the city down to the community."))


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


class ErrorSerializer(serializers.Serializer):
    """The project's one error format (core/api_errors.py)."""

    error = ErrorBodySerializer()
