"""Reads of the area tree that other parts of the system reuse.

Point to grid
-------------
A point resolves to exactly one grid:

* inside a grid: that grid;
* on a boundary shared by several grids (an edge or a vertex, where
  ``ST_Intersects`` holds for each of them): the grid with the lowest code,
  so the answer never depends on row order or on the plan;
* inside no grid (outside the city, or in a gap): ``OutsideJurisdiction``,
  which echoes the point as given and as resolved in WGS-84.

Both forms run one statement on the partial GiST index over grid boundaries;
neither loads a boundary into Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.db import fetchone_prepared

from . import codes
from .coords import CoordinateSystem, many_to_wgs84, parse_coordinate_system, to_wgs84
from .models import Area, Level

_GRID_COLUMNS = "a.id, a.code, a.name, a.path"

POINT_TO_GRID_SQL = f"""
    SELECT {_GRID_COLUMNS}
    FROM grids_area a
    WHERE a.level = {Level.GRID.value}
      AND ST_Intersects(a.boundary, ST_SetSRID(ST_MakePoint(%s, %s), 4326))
    ORDER BY a.code
    LIMIT 1
"""

POINTS_TO_GRIDS_SQL = f"""
    SELECT p.ord, g.id, g.code, g.name, g.path
    FROM unnest(%s::float8[], %s::float8[]) WITH ORDINALITY AS p(lng, lat, ord)
    LEFT JOIN LATERAL (
        SELECT {_GRID_COLUMNS}
        FROM grids_area a
        WHERE a.level = {Level.GRID.value}
          AND ST_Intersects(a.boundary, ST_SetSRID(ST_MakePoint(p.lng, p.lat), 4326))
        ORDER BY a.code
        LIMIT 1
    ) g ON true
    ORDER BY p.ord
"""


@dataclass(frozen=True, slots=True)
class GridMatch:
    """The grid a point falls in, without its boundary."""

    id: int
    code: str
    name: str
    path: str

    @property
    def ancestor_ids(self) -> list[int]:
        """[city, district, subdistrict, community, grid] ids."""
        return codes.path_ids(self.path)

    def as_area(self) -> Area:
        """The grid as an Area with only these fields loaded, as ``only()``
        gives it: any other field is read from the database when used."""
        return Area.from_db(
            DEFAULT_DB_ALIAS,
            ["id", "code", "name", "path"],
            [self.id, self.code, self.name, self.path],
        )


class OutsideJurisdiction(LookupError):
    """The point lies in no grid of the jurisdiction."""

    code = "outside_jurisdiction"

    def __init__(self, lng: float, lat: float, crs: str, wgs84: tuple[float, float]):
        self.lng, self.lat, self.crs, self.wgs84 = lng, lat, crs, wgs84
        super().__init__(
            _(
                "The point (%(lng)s, %(lat)s) in %(crs)s is outside the jurisdiction: "
                "it lies in no grid."
            )
            % {"lng": lng, "lat": lat, "crs": crs}
        )


def grid_for_point(
    *, lng: float, lat: float, crs: CoordinateSystem | str = CoordinateSystem.WGS84
) -> GridMatch:
    """The one grid containing the point (see the module docstring for the rule)."""
    system = parse_coordinate_system(crs) if isinstance(crs, str) else crs
    w_lng, w_lat = to_wgs84(lng, lat, system)
    row = fetchone_prepared(POINT_TO_GRID_SQL, (w_lng, w_lat))
    if row is None:
        raise OutsideJurisdiction(lng, lat, system.value, (w_lng, w_lat))
    return GridMatch(*row)


def grids_for_points(
    points: Sequence[tuple[float, float]], *, crs: CoordinateSystem | str = CoordinateSystem.WGS84
) -> list[GridMatch | None]:
    """One grid (or None when outside) per point, in input order, in one query."""
    lngs, lats = many_to_wgs84(points, crs)
    if not lngs:
        return []
    with connection.cursor() as cursor:
        cursor.execute(POINTS_TO_GRIDS_SQL, (lngs, lats))
        rows = cursor.fetchall()
    return [GridMatch(*row[1:]) if row[1] is not None else None for row in rows]


def area_by_code(code: str) -> Area:
    return Area.objects.without_geometry().get(code=code)


def assigned_on(day: date, prefix: str = "") -> Q:
    """Grid assignments in force on ``day``, as a filter on GridAssignment
    (or through the relation ``prefix``, e.g. ``"assignments__"``)."""
    return Q(**{f"{prefix}start_date__lte": day}) & (
        Q(**{f"{prefix}end_date__isnull": True}) | Q(**{f"{prefix}end_date__gte": day})
    )


def grids_of_worker(user, *, on: date | None = None) -> list[Area]:
    """The grids assigned to ``user`` on date ``on`` (today when omitted)."""
    day = on or timezone.localdate()
    # One filter() call: all the conditions must hold for the same assignment.
    return list(
        Area.objects.without_geometry()
        .filter(assigned_on(day, "assignments__"), assignments__user=user)
        .distinct()
        .order_by("code")
    )
