"""Areas as GeoJSON features (RFC 7946), shaped in the database.

Boundaries are simplified and written as GeoJSON by PostGIS
(``ST_SimplifyPreserveTopology`` then ``ST_AsGeoJSON``): no boundary is ever
loaded into GEOS objects in Python, and a page of features is one query.

Tolerances are given in metres and converted to degrees of latitude (the
boundaries are stored in WGS-84). A degree of longitude is shorter than a
degree of latitude away from the equator, so east-west the tolerance is
slightly tighter than asked (about 0.85 x at Changzhou's 31.7° N): it never
simplifies more than requested.

``ST_SimplifyPreserveTopology`` keeps every polygon valid but simplifies each
area on its own, so a shared edge between two neighbours may be simplified
differently on each side (slivers of at most the tolerance). The defaults keep
that below a pixel at the zoom an area's siblings are usually shown at.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.gis.db.models.functions import AsGeoJSON, GeomOutputGeoFunc
from django.db.models import Case, FloatField, QuerySet, Value, When
from rest_framework.renderers import JSONRenderer

from ..models import Area, Level

METRES_PER_DEGREE = 111_320.0
MAX_SIMPLIFY_METRES = 1000.0

# Default tolerance per level, in metres: about one screen pixel at the zoom
# where the level's siblings are shown together (a district's communities at
# a subdistrict-wide view, a community's grids at a community-wide view...).
DEFAULT_SIMPLIFY_METRES = {
    Level.CITY: 100.0,
    Level.DISTRICT: 50.0,
    Level.SUBDISTRICT: 20.0,
    Level.COMMUNITY: 10.0,
    Level.GRID: 2.0,
}

# Decimal places of coordinates: RFC 7946 §11.2 recommends 6 (about 10 cm),
# ample once a boundary is simplified by a metre or more. Full geometry keeps 8
# (about 1 mm), below the precision of any survey.
SIMPLIFIED_PRECISION = 6
FULL_PRECISION = 8

FEATURE_FIELDS = ("id", "code", "name", "name_en", "level", "parent_id")
REF_FIELDS = ("id", "code", "name", "name_en", "level")


class GeoJSONRenderer(JSONRenderer):
    """The registered media type of GeoJSON, for clients that ask for it."""

    media_type = "application/geo+json"
    format = "geojson"


class SimplifyPreserveTopology(GeomOutputGeoFunc):
    function = "ST_SimplifyPreserveTopology"
    arity = 2


class Multi(GeomOutputGeoFunc):
    """GEOS returns a one-part MultiPolygon simplified as a Polygon: make it
    multi again, so every feature has the type the API promises."""

    function = "ST_Multi"
    arity = 1


def _degrees(metres: float) -> float:
    return metres / METRES_PER_DEGREE


def _tolerance(simplify: float | None):
    """Tolerance in degrees: the one asked for, or each area's level default."""
    if simplify is not None:
        return Value(_degrees(simplify), output_field=FloatField())
    return Case(
        *(
            When(level=level, then=Value(_degrees(metres)))
            for level, metres in DEFAULT_SIMPLIFY_METRES.items()
        ),
        output_field=FloatField(),
    )


def with_geojson(queryset: QuerySet, *, simplify: float | None) -> QuerySet:
    """Rows of the feature fields plus ``geojson`` (text), simplified by
    ``simplify`` metres (None: the level default; 0: full geometry)."""
    if simplify == 0:
        geometry = AsGeoJSON("boundary", precision=FULL_PRECISION)
    else:
        simplified = Multi(SimplifyPreserveTopology("boundary", _tolerance(simplify)))
        geometry = AsGeoJSON(simplified, precision=SIMPLIFIED_PRECISION)
    return queryset.annotate(geojson=geometry).values(*FEATURE_FIELDS, "path", "geojson")


def properties(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "code": row["code"],
        "name": row["name"],
        "name_en": row["name_en"],
        "level": row["level"],
        "parent": row["parent_id"],
    }


def feature(row: dict[str, Any], **extra_properties: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": row["id"],
        "geometry": json.loads(row["geojson"]),
        "properties": {**properties(row), **extra_properties},
    }


def area_ref(row: dict[str, Any]) -> dict[str, Any]:
    return {key: row[key] for key in REF_FIELDS}


def city_outline() -> dict:
    """The city and its districts as one FeatureCollection, simplified by
    their level's defaults: the outline public maps draw over their base
    layer, or instead of one."""
    rows = with_geojson(
        Area.objects.filter(level__lte=Level.DISTRICT).order_by("level", "code"), simplify=None
    )
    return {"type": "FeatureCollection", "features": [feature(row) for row in rows]}
