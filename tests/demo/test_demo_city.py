from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count

from demo.city import build_tree, partition
from grids.models import Area, GridAssignment, Level
from grids.selectors import grid_for_point
from grids.topology import check_topology
from organisation.models import Department, Role, RoleMembership

pytestmark = pytest.mark.django_db


def test_partition_tiles_the_rectangle_exactly():
    rects = partition((0.0, 0.0, 4.0, 1.0), [1, 2, 3, 2])
    total = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in rects)
    assert total == pytest.approx(4.0)
    assert [round((x1 - x0) * (y1 - y0), 9) for x0, y0, x1, y1 in rects] == [0.5, 1.0, 1.5, 1.0]


def test_layout_is_deterministic_and_varied():
    first, second = build_tree(7), build_tree(7)
    grid_rects = [
        g.rect for d in first.children for s in d.children for c in s.children for g in c.children
    ]
    assert grid_rects == [
        g.rect for d in second.children for s in d.children for c in s.children for g in c.children
    ]
    sizes = sorted((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in grid_rects)
    assert sizes[-1] / sizes[0] > 20  # small dense grids and large rural ones


def test_seed_builds_changzhou_scale_city_with_departments_and_users():
    out = StringIO()
    call_command("seed_demo_city", stdout=out)

    counts = dict(Area.objects.values_list("level").annotate(n=Count("id")))
    assert counts == {
        Level.CITY: 1,
        Level.DISTRICT: 7,
        Level.SUBDISTRICT: 62,
        Level.COMMUNITY: 1030,
        Level.GRID: 5891,
    }
    assert check_topology() == []
    assert Department.objects.count() == 22
    assert set(RoleMembership.objects.values_list("role", flat=True)) == set(Role.values)
    assert GridAssignment.objects.filter(user__username="gridworker").count() == 3
    assert "gridworker" in out.getvalue()

    # every grid's path runs through its four ancestors
    grid = Area.objects.filter(level=Level.GRID).order_by("?").first()
    assert len(grid.ancestor_ids) == 5
    centre = grid.boundary.point_on_surface
    assert grid_for_point(lng=centre.x, lat=centre.y).id == grid.id

    # a second run is safe and leaves the city as it was
    out = StringIO()
    call_command("seed_demo_city", stdout=out)
    assert "already present" in out.getvalue()
    assert Area.objects.count() == 1 + 7 + 62 + 1030 + 5891


def test_reset_rebuilds_the_city_with_its_departments_and_users():
    call_command("seed_demo_city", stdout=StringIO())
    first_city_id = Area.objects.get(code="320400").id

    call_command("seed_demo_city", "--reset", stdout=StringIO())

    assert Area.objects.get(code="320400").id != first_city_id
    assert Area.objects.filter(level=Level.GRID).count() == 5891
    assert Department.objects.count() == 22
    assert GridAssignment.objects.filter(user__username="gridworker").count() == 3


def test_an_existing_city_with_the_demo_code_is_left_alone(small_city):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="left alone"):
        call_command("seed_demo_city", stdout=StringIO())

    assert Area.objects.count() == 10


def test_existing_accounts_keep_their_password():
    from tests.factories import DEMO_PASSWORD, UserFactory

    UserFactory(username="admin", is_superuser=False)

    call_command("seed_demo_city", stdout=StringIO())

    from organisation.models import User

    admin = User.objects.get(username="admin")
    assert admin.check_password(DEMO_PASSWORD) and not admin.is_superuser


def test_demo_cases_are_filed_once_and_then_the_city_cannot_be_reset():
    from cases.models import Case, CaseEvent

    call_command("seed_demo_city", "--cases", stdout=StringIO())
    statuses = set(Case.objects.values_list("status", flat=True))
    assert statuses == {
        "reported", "verifying", "registered", "dispatched", "returned", "in_progress",
        "suspended", "handled", "closed", "rejected",
    }  # fmt: skip
    cases, events = Case.objects.count(), CaseEvent.objects.count()
    call_command("seed_demo_city", "--cases", stdout=StringIO())
    assert (Case.objects.count(), CaseEvent.objects.count()) == (cases, events)
    with pytest.raises(CommandError, match="append-only"):
        call_command("seed_demo_city", "--reset", stdout=StringIO())
    assert Case.objects.count() == cases
