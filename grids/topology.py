"""Topology check of the area tree.

Three kinds of problem, each measured in square metres on the spheroid so a
tolerance can absorb the slivers real survey data always has:

outside_parent  part of an area lies outside its parent
overlap         two areas of the same level share interior
gap             part of an area is covered by none of its children
                (an area above grid level with no children at all is one gap)
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from .models import Area, Level

OUTSIDE_PARENT_SQL = """
    SELECT c.code, p.code, m2
    FROM grids_area c
    JOIN grids_area p ON p.id = c.parent_id
    CROSS JOIN LATERAL (
        SELECT ST_Area(ST_Difference(c.boundary, p.boundary)::geography) AS m2
    ) d
    WHERE c.path LIKE %(prefix)s
      AND NOT ST_CoveredBy(c.boundary, p.boundary)
      AND m2 > %(tolerance)s
    ORDER BY c.code
"""

OVERLAP_SQL = """
    SELECT a.code, b.code, m2
    FROM grids_area a
    JOIN grids_area b
      ON b.level = a.level AND b.id > a.id AND ST_Intersects(a.boundary, b.boundary)
    CROSS JOIN LATERAL (
        SELECT ST_Area(ST_Intersection(a.boundary, b.boundary)::geography) AS m2
    ) i
    WHERE a.path LIKE %(prefix)s AND b.path LIKE %(prefix)s
      AND ST_Relate(a.boundary, b.boundary, '2********')
      AND m2 > %(tolerance)s
    ORDER BY a.code, b.code
"""

GAP_SQL = f"""
    SELECT p.code, m2
    FROM grids_area p
    CROSS JOIN LATERAL (
        SELECT ST_Area(
            COALESCE(ST_Difference(p.boundary, ST_Union(c.boundary)), p.boundary)::geography
        ) AS m2
        FROM grids_area c
        WHERE c.parent_id = p.id
    ) g
    WHERE p.path LIKE %(prefix)s
      AND p.level < {Level.GRID.value}
      AND m2 > %(tolerance)s
    ORDER BY p.code
"""


@dataclass(frozen=True)
class TopologyProblem:
    kind: str
    codes: tuple[str, ...]
    area_m2: float

    def describe(self) -> str:
        area = f"{self.area_m2:,.1f} m²"
        if self.kind == "outside_parent":
            return f"{self.codes[0]} lies partly outside its parent {self.codes[1]} ({area})"
        if self.kind == "overlap":
            return f"{self.codes[0]} and {self.codes[1]} overlap ({area})"
        return f"{self.codes[0]} is not covered by its children ({area})"


def check_topology(*, root: Area | None = None, tolerance_m2: float = 1.0) -> list[TopologyProblem]:
    """Every problem under ``root`` (the whole tree when None)."""
    params = {"prefix": (root.path if root else "/") + "%", "tolerance": tolerance_m2}
    problems: list[TopologyProblem] = []
    with connection.cursor() as cursor:
        cursor.execute(OUTSIDE_PARENT_SQL, params)
        problems += [
            TopologyProblem("outside_parent", (c, p), m2) for c, p, m2 in cursor.fetchall()
        ]
        cursor.execute(OVERLAP_SQL, params)
        problems += [TopologyProblem("overlap", (a, b), m2) for a, b, m2 in cursor.fetchall()]
        cursor.execute(GAP_SQL, params)
        problems += [TopologyProblem("gap", (p,), m2) for p, m2 in cursor.fetchall()]
    return problems
