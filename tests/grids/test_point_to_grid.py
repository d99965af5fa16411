import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from grids.coords import InvalidCoordinates, wgs84_to_gcj02
from grids.selectors import OutsideJurisdiction, grid_for_point, grids_for_points

pytestmark = pytest.mark.django_db


def test_point_inside_a_grid_resolves_to_it(small_city):
    match = grid_for_point(lng=119.905, lat=31.735)

    grid = small_city.grids["320402001001001"]
    assert (match.id, match.code, match.name) == (grid.id, grid.code, grid.name)


def test_match_carries_the_ancestor_ids(small_city):
    match = grid_for_point(lng=119.935, lat=31.705)

    assert match.ancestor_ids == [
        small_city.city.id,
        small_city.district.id,
        small_city.subdistrict.id,
        small_city.community.id,
        small_city.grids["320402001001004"].id,
    ]


@pytest.mark.parametrize(
    ("lng", "lat", "expected"),
    [
        # vertical edge between 001 (west) and 002 (east)
        (119.92, 31.73, "320402001001001"),
        # horizontal edge between 001 (north) and 003 (south)
        (119.91, 31.72, "320402001001001"),
        # edge between 002 and 004
        (119.93, 31.72, "320402001001002"),
        # edge between 004 (community 1) and nothing east of it: 004 only
        (119.94, 31.71, "320402001001004"),
        # edge between 002 (community 1) and 005 (community 2)
        (119.94, 31.73, "320402001001002"),
    ],
)
def test_point_on_a_shared_edge_resolves_to_the_lowest_code(small_city, lng, lat, expected):
    assert grid_for_point(lng=lng, lat=lat).code == expected


def test_point_on_a_vertex_shared_by_four_grids_resolves_to_the_lowest_code(small_city):
    assert grid_for_point(lng=119.92, lat=31.72).code == "320402001001001"


def test_vertex_rule_is_independent_of_insert_order(small_city):
    # Recreate the lowest-coded grid so it is the newest row; the answer must not move.
    grid = small_city.grids["320402001001001"]
    boundary, code, parent = grid.boundary, grid.code, grid.parent
    grid.delete()
    from tests.factories import AreaFactory

    AreaFactory(level=5, code=code, parent=parent, boundary=boundary)

    assert grid_for_point(lng=119.92, lat=31.72).code == code


def test_point_outside_every_grid_is_outside_the_jurisdiction(small_city):
    with pytest.raises(OutsideJurisdiction) as caught:
        grid_for_point(lng=116.397, lat=39.909)

    error = caught.value
    assert (error.lng, error.lat, error.crs) == (116.397, 39.909, "wgs84")
    assert "116.397" in str(error) and "39.909" in str(error)


def test_point_in_a_gap_between_grids_is_outside_the_jurisdiction(small_city):
    # Inside community 2 but in its south half, which no grid covers.
    with pytest.raises(OutsideJurisdiction):
        grid_for_point(lng=119.95, lat=31.705)


@pytest.mark.parametrize(
    ("lng", "lat", "message"),
    [
        (181, 31.7, "longitude"),
        (119.9, -91, "latitude"),
        (float("nan"), 31.7, "finite"),
        ("east", 31.7, "numbers"),
        (None, 31.7, "numbers"),
    ],
)
def test_impossible_coordinates_are_refused_with_the_reason(small_city, lng, lat, message):
    with pytest.raises(InvalidCoordinates, match=message):
        grid_for_point(lng=lng, lat=lat)


def test_unknown_coordinate_system_is_refused(small_city):
    with pytest.raises(InvalidCoordinates, match="bd09"):
        grid_for_point(lng=119.905, lat=31.735, crs="bd09")


def test_gcj02_point_is_converted_before_resolution(small_city):
    # A WGS-84 point 30 m inside grid 003's east edge. Its GCJ-02 image lies
    # several hundred metres away: read as WGS-84 it would land elsewhere.
    wgs = (119.9197, 31.7150)
    gcj = wgs84_to_gcj02(*wgs)
    assert grid_for_point(lng=gcj[0], lat=gcj[1], crs="wgs84").code != "320402001001003"

    match = grid_for_point(lng=gcj[0], lat=gcj[1], crs="gcj02")

    assert match.code == "320402001001003"


def test_gcj02_point_outside_echoes_the_point_as_given(small_city):
    with pytest.raises(OutsideJurisdiction) as caught:
        grid_for_point(lng=121.5, lat=31.2, crs="gcj02")

    assert (caught.value.lng, caught.value.lat, caught.value.crs) == (121.5, 31.2, "gcj02")
    assert caught.value.wgs84 != (121.5, 31.2)


def test_bulk_resolution_matches_single_resolution_in_one_query(small_city):
    points = [
        (119.905, 31.735),
        (119.92, 31.72),  # shared vertex
        (116.397, 39.909),  # outside
        (119.95, 31.705),  # gap
        (119.955, 31.735),
        (119.935, 31.705),
    ]

    with CaptureQueriesContext(connection) as queries:
        matches = grids_for_points(points)

    assert len(queries) == 1
    assert [m.code if m else None for m in matches] == [
        "320402001001001",
        "320402001001001",
        None,
        None,
        "320402001002001",
        "320402001001004",
    ]
    for point, match in zip(points, matches, strict=True):
        if match is not None:
            assert grid_for_point(lng=point[0], lat=point[1]) == match


def test_bulk_resolution_accepts_gcj02(small_city):
    wgs = [(119.9197, 31.7150), (119.9395, 31.7395)]
    gcj = [wgs84_to_gcj02(*p) for p in wgs]

    matches = grids_for_points(gcj, crs="gcj02")

    assert [m.code for m in matches] == ["320402001001003", "320402001001002"]


def test_bulk_resolution_names_the_bad_point(small_city):
    with pytest.raises(InvalidCoordinates, match="point #1"):
        grids_for_points([(119.905, 31.735), (119.9, 95)])


def test_bulk_resolution_of_nothing_is_empty(small_city):
    assert grids_for_points([]) == []
