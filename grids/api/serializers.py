"""Query parameters of the areas API, and the shapes of its responses.

Query serializers check types and ranges and name the bad parameter. The
response serializers document the GeoJSON the views build (see
``geojson.py``): rendering thousands of coordinates through DRF fields would
cost more than the query, so they describe the output rather than produce it.
"""

from __future__ import annotations

import math
import re

from django.contrib.gis.geos import Polygon
from django.core.validators import RegexValidator
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

_NUMBER = r"\s*[-+]?(\d+(\.\d*)?|\.\d+)\s*"
BBOX_PATTERN = rf"^{_NUMBER}(,{_NUMBER}){{3}}$"


def _id_field(help_text) -> serializers.IntegerField:
    return serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text=help_text
    )


@extend_schema_field(
    {"type": "string", "pattern": BBOX_PATTERN, "example": "119.90,31.70,119.96,31.74"}
)
class BBoxField(serializers.CharField):
    """min_lng,min_lat,max_lng,max_lat in WGS-84, as a polygon."""

    def to_internal_value(self, data) -> Polygon:
        text = super().to_internal_value(data)
        parts = text.split(",")
        try:
            if len(parts) != 4:
                raise ValueError(text)
            x0, y0, x1, y1 = (float(part) for part in parts)
        except ValueError:
            raise serializers.ValidationError(
                _("Give four numbers: min_lng,min_lat,max_lng,max_lat.")
            ) from None
        if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
            raise serializers.ValidationError(_("The numbers of the box must be finite."))
        if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
            raise serializers.ValidationError(_("The box is empty or outside WGS-84 bounds."))
        box = Polygon.from_bbox((x0, y0, x1, y1))
        box.srid = 4326
        return box


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


class AreaListQuerySerializer(SimplifyQuerySerializer):
    parent = _id_field(_("Only the children of this area (id)."))
    within = _id_field(_("Only this area and everything under it (id)."))
    level = serializers.ChoiceField(
        choices=Level.choices,
        required=False,
        help_text=_("1 city, 2 district, 3 subdistrict, 4 community, 5 grid."),
    )
    code = serializers.CharField(
        required=False,
        validators=[
            RegexValidator(re.compile(r"^[0-9]{6,15}$"), _("An area code is 6 to 15 digits."))
        ],
        help_text=_("Exactly this area code."),
    )
    bbox = BBoxField(
        required=False,
        help_text=_(
            "Areas whose boundary intersects this box: min_lng,min_lat,max_lng,max_lat "
            "(WGS-84; each min below its max)."
        ),
    )
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
