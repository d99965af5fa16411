import pytest

from grids.coords import (
    CoordinateSystem,
    InvalidCoordinates,
    gcj02_to_wgs84,
    parse_coordinate_system,
    wgs84_to_gcj02,
)

# (WGS-84 lng, lat) -> (GCJ-02 lng, lat), published reference pairs of the
# GCJ-02 algorithm (eviltransform's test set; coordtransform's Beijing point).
REFERENCE_PAIRS = [
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),  # Shanghai
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),  # Shenzhen
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),  # Beijing
    ((116.404, 39.915), (116.41024449916938, 39.91640428150164)),  # Beijing, Tiananmen
]


@pytest.mark.parametrize(("wgs", "gcj"), REFERENCE_PAIRS)
def test_wgs84_to_gcj02_matches_reference_pairs(wgs, gcj):
    assert wgs84_to_gcj02(*wgs) == pytest.approx(gcj, abs=1e-9)


@pytest.mark.parametrize(("wgs", "gcj"), REFERENCE_PAIRS)
def test_gcj02_to_wgs84_inverts_reference_pairs(wgs, gcj):
    assert gcj02_to_wgs84(*gcj) == pytest.approx(wgs, abs=1e-8)


def test_offset_in_changzhou_is_hundreds_of_metres():
    lng, lat = 119.974, 31.811
    g_lng, g_lat = wgs84_to_gcj02(lng, lat)
    # roughly 95 km per degree of longitude and 111 km per degree of latitude here
    offset_m = (((g_lng - lng) * 95_000) ** 2 + ((g_lat - lat) * 111_000) ** 2) ** 0.5
    assert 100 < offset_m < 700


def test_points_outside_china_are_not_offset():
    assert wgs84_to_gcj02(2.3522, 48.8566) == (2.3522, 48.8566)
    assert gcj02_to_wgs84(2.3522, 48.8566) == (2.3522, 48.8566)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, CoordinateSystem.WGS84),
        ("", CoordinateSystem.WGS84),
        ("WGS84", CoordinateSystem.WGS84),
        ("wgs-84", CoordinateSystem.WGS84),
        ("GCJ-02", CoordinateSystem.GCJ02),
        ("gcj02", CoordinateSystem.GCJ02),
    ],
)
def test_coordinate_system_names(text, expected):
    assert parse_coordinate_system(text) is expected


def test_unknown_coordinate_system_names_the_choices():
    with pytest.raises(InvalidCoordinates, match="wgs84, gcj02"):
        parse_coordinate_system("bd-09")
