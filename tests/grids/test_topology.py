from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from grids.models import Area, Level
from grids.topology import check_topology
from tests.factories import AreaFactory, rect

pytestmark = pytest.mark.django_db


@pytest.fixture
def tidy_tree(db):
    """A tree in which every level tiles its parent exactly."""
    box = (119.90, 31.70, 119.94, 31.74)
    city = AreaFactory(level=Level.CITY, code="320400", boundary=rect(*box))
    district = AreaFactory(level=Level.DISTRICT, code="320402", parent=city, boundary=rect(*box))
    sub = AreaFactory(
        level=Level.SUBDISTRICT, code="320402001", parent=district, boundary=rect(*box)
    )
    community = AreaFactory(
        level=Level.COMMUNITY, code="320402001001", parent=sub, boundary=rect(*box)
    )
    for code, cell in {
        "320402001001001": (119.90, 31.72, 119.92, 31.74),
        "320402001001002": (119.92, 31.72, 119.94, 31.74),
        "320402001001003": (119.90, 31.70, 119.94, 31.72),
    }.items():
        AreaFactory(level=Level.GRID, code=code, parent=community, boundary=rect(*cell))
    return community


def test_a_tidy_tree_has_no_problems(tidy_tree):
    assert check_topology() == []
    out = StringIO()
    call_command("check_topology", stdout=out)
    assert "No topology problems" in out.getvalue()


def test_planted_overlap_between_sibling_grids_is_caught(tidy_tree):
    # Grid 002 grows 0.005 degrees west into grid 001.
    Area.objects.filter(code="320402001001002").update(boundary=rect(119.915, 31.72, 119.94, 31.74))

    problems = check_topology()

    overlaps = [p for p in problems if p.kind == "overlap"]
    assert [p.codes for p in overlaps] == [("320402001001001", "320402001001002")]
    # 0.005 deg x 0.02 deg at 31.7 N is about 473 m x 2,218 m
    assert overlaps[0].area_m2 == pytest.approx(1.05e6, rel=0.02)


def test_touching_grids_do_not_overlap(tidy_tree):
    assert not [p for p in check_topology() if p.kind == "overlap"]


def test_child_outside_its_parent_is_caught(tidy_tree):
    Area.objects.filter(code="320402001001003").update(boundary=rect(119.90, 31.69, 119.94, 31.72))

    kinds = {(p.kind, p.codes) for p in check_topology()}

    assert ("outside_parent", ("320402001001003", "320402001001")) in kinds


def test_gap_among_children_is_caught(tidy_tree):
    Area.objects.filter(code="320402001001003").update(boundary=rect(119.90, 31.70, 119.93, 31.72))

    gaps = [p for p in check_topology() if p.kind == "gap"]

    assert [p.codes for p in gaps] == [("320402001001",)]


def test_slivers_under_the_tolerance_are_ignored(tidy_tree):
    # A 1e-9 degree overlap: 0.1 mm wide over 2.2 km, about 0.2 m2
    Area.objects.filter(code="320402001001002").update(
        boundary=rect(119.919999999, 31.72, 119.94, 31.74)
    )

    assert check_topology(tolerance_m2=1.0) == []
    assert check_topology(tolerance_m2=0.0) != []


def test_check_can_be_limited_to_a_subtree_and_fails_the_command(tidy_tree):
    Area.objects.filter(code="320402001001002").update(boundary=rect(119.915, 31.72, 119.94, 31.74))
    out = StringIO()

    with pytest.raises(CommandError, match="1 topology problem"):
        call_command("check_topology", "--root", "320402001001", stdout=out)

    assert "320402001001001 and 320402001001002 overlap" in out.getvalue()
    with pytest.raises(CommandError, match="No area has code"):
        call_command("check_topology", "--root", "999999")
