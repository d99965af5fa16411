"""REST API for the area tree: areas as GeoJSON and point-to-grid lookup.

Views are thin: they check the query parameters, run one query built in
``geojson.py`` or call one selector, and render.

GeoJSON is served as ``application/json`` by default, like the rest of the
API (browsers' fetch, Leaflet and OpenLayers read it as JSON), and as
``application/geo+json`` (RFC 7946) to clients that ask for it in ``Accept``.
Errors are always ``application/json``: they are not GeoJSON.
"""

from __future__ import annotations

import re

from django.http import Http404
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from core.api_query import valid_filters, valid_query
from core.browsable_api import BrowsableAPIRenderer

from .. import codes
from ..coords import to_wgs84
from ..models import Area
from ..selectors import OutsideJurisdiction, grid_for_point
from . import serializers as s
from .filters import AreaFilter
from .geojson import REF_FIELDS, GeoJSONRenderer, area_ref, feature, with_geojson

_ID = re.compile(r"[0-9]{1,19}")
_JSON = "application/json"
_GEOJSON = GeoJSONRenderer.media_type


class OutsideJurisdictionError(exceptions.APIException):
    """No grid contains the point: there is nothing to find there."""

    status_code = status.HTTP_404_NOT_FOUND
    default_code = "outside_jurisdiction"


class StrictFormatNegotiation(DefaultContentNegotiation):
    """``?format=`` left blank is an unknown format (404, as DRF answers for
    any other unknown one), not a silent fall-back to the Accept header."""

    def select_renderer(self, request, renderers, format_suffix=None):
        if request.query_params.get(self.settings.URL_FORMAT_OVERRIDE) == "":
            raise Http404(_("Unknown format."))
        return super().select_renderer(request, renderers, format_suffix)


def _errors(*codes: int) -> dict:
    return {(code, _JSON): s.ErrorSerializer for code in codes}


def _geojson(serializer) -> dict:
    return {(200, _JSON): serializer, (200, _GEOJSON): serializer}


def _page(queryset, *, limit: int, offset: int, simplify: float | None) -> tuple[list, int]:
    """One page of feature rows, and how many rows there are in all.

    The ids are paged first and only the page's boundaries are shaped: PostGIS
    would otherwise simplify and encode every row the offset skips."""
    ids = queryset.values("pk")[offset : offset + limit]
    page = Area.objects.filter(pk__in=ids).order_by("code")
    rows = list(with_geojson(page, simplify=simplify))
    if 0 < len(rows) < limit or (not rows and offset == 0):
        return rows, offset + len(rows)  # the last page: nothing to count
    return rows, queryset.count()


def _links(url: str, *, limit: int, offset: int, count: int) -> dict:
    following, preceding = offset + limit, max(offset - limit, 0)
    if offset == 0:
        previous = None
    elif preceding:
        previous = replace_query_param(url, "offset", preceding)
    else:
        previous = remove_query_param(url, "offset")
    return {
        "next": replace_query_param(url, "offset", following) if following < count else None,
        "previous": previous,
    }


def _ancestors(ids: list[int]) -> list[dict]:
    rows = Area.objects.filter(pk__in=ids).order_by("level").values(*REF_FIELDS)
    return [area_ref(row) for row in rows]


class AreaViewSet(viewsets.GenericViewSet):
    """The five-level area tree (city, district, subdistrict, community, grid)."""

    queryset = Area.objects.without_geometry()
    # Any segment reaches ``retrieve``, so "/areas/0.5/" is a 404 in the API's
    # error format rather than Django's HTML page.
    lookup_value_regex = "[^/]+"
    pagination_class = None
    renderer_classes = [JSONRenderer, GeoJSONRenderer, BrowsableAPIRenderer]
    content_negotiation_class = StrictFormatNegotiation
    # For the schema and the browsable API's filter form; ``list`` applies it.
    filter_backends = [DjangoFilterBackend]
    filterset_class = AreaFilter

    @extend_schema(
        summary="Areas as a GeoJSON FeatureCollection",
        parameters=[s.AreaPageQuerySerializer],
        responses={**_geojson(s.AreaFeatureCollectionSerializer), **_errors(400, 403, 404)},
    )
    def list(self, request):
        """Areas by code, filtered, with boundaries simplified in the database.
        Pages of at most 500 features; ``next`` links to the following page."""
        queryset, params = valid_filters(
            request,
            filterset_class=AreaFilter,
            queryset=Area.objects.order_by("code"),
            serializer_class=s.AreaPageQuerySerializer,
        )
        limit, offset = params["limit"], params["offset"]
        rows, count = _page(queryset, limit=limit, offset=offset, simplify=params.get("simplify"))
        return Response(
            {
                "type": "FeatureCollection",
                "features": [feature(row) for row in rows],
                "count": count,
                **_links(request.build_absolute_uri(), limit=limit, offset=offset, count=count),
            }
        )

    @extend_schema(
        summary="One area as a GeoJSON Feature, with its ancestors",
        parameters=[s.SimplifyQuerySerializer],
        responses={**_geojson(s.AreaDetailFeatureSerializer), **_errors(400, 403, 404)},
    )
    def retrieve(self, request, pk=None):
        """One area, its boundary simplified as in the list, and its ancestors
        from the city down."""
        params = valid_query(s.SimplifyQuerySerializer, request)
        if not _ID.fullmatch(str(pk)) or int(pk) > s.MAX_ID:
            raise exceptions.NotFound(_("No such area."))
        queryset = Area.objects.filter(pk=int(pk))
        row = with_geojson(queryset, simplify=params.get("simplify")).first()
        if row is None:
            raise exceptions.NotFound(_("No such area."))
        return Response(feature(row, ancestors=_ancestors(codes.path_ids(row["path"])[:-1])))

    @extend_schema(
        summary="The grid a point lies in",
        parameters=[s.LocateQuerySerializer],
        responses={(200, _JSON): s.LocatedPointSerializer, **_errors(400, 403, 404)},
    )
    @action(detail=False, methods=["get"], renderer_classes=[JSONRenderer, BrowsableAPIRenderer])
    def locate(self, request):
        """The one grid containing the point (on an edge shared by several grids,
        the lowest code), its ancestors, and the point in WGS-84. A point in no
        grid is ``outside_jurisdiction`` (404)."""
        params = valid_query(s.LocateQuerySerializer, request)
        lng, lat, crs = params["lng"], params["lat"], params["crs"]
        try:
            w_lng, w_lat = to_wgs84(lng, lat, crs)
            match = grid_for_point(lng=lng, lat=lat, crs=crs)
        except OutsideJurisdiction as exc:
            raise OutsideJurisdictionError(str(exc)) from exc
        except ValueError as exc:
            raise exceptions.ValidationError(str(exc)) from exc
        *ancestors, grid = _ancestors(match.ancestor_ids)
        return Response(
            {"point": {"lng": w_lng, "lat": w_lat}, "grid": grid, "ancestors": ancestors}
        )

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        failed = getattr(response, "exception", False)
        if failed and isinstance(getattr(response, "accepted_renderer", None), GeoJSONRenderer):
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = _JSON
        return response
