"""Who sees which cases (``cases_visible_to``, ``case_get``), whose contact
details they see, and that the filter runs in the database.

The cases, in the small city plus one grid in the other subdistrict of the
district (320402002) and one in the other district (320404):

    a  G1   reported by the grid worker                 reported
    b  G1   dispatched to 城管 CGJ                       dispatched
    c  G4   reported by the other worker, with CGJ      in progress
    d  G4   reported by the other worker, to 市政 SZGS   dispatched
    e  G1   a citizen's tip (their account)             reported
    f  G1   returned by CGJ                             returned
    g  320402002 (same district, other subdistrict)     reported anonymously
    h  320404 (other district)                          reported anonymously
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from cases import services
from cases.errors import CaseNotFound
from cases.models import Case, Status
from cases.policy import scope_of, sees
from cases.selectors import case_get, cases_visible_to, contact_for
from grids.models import Area, GridAssignment, Level
from tests.cases.conftest import IN_G4, case_in, fresh, report
from tests.factories import AreaFactory, rect

pytestmark = pytest.mark.django_db

IN_FAR_SUBDISTRICT = (119.98, 31.72)
IN_FAR_DISTRICT = (120.05, 31.65)

# Reporter contact details, in full and masked.
FULL = {"name": "张三", "phone": "13912345678", "email": ""}
MASKED = {"name": "张*", "phone": "139****5678", "email": ""}

EVERYTHING = set("abcdefgh")
EXPECTED = {
    "admin": EVERYTHING,
    "city_dispatcher": EVERYTHING,
    "dispatcher": set("abcdef"),
    "far_dispatcher": {"g"},
    "handler": {"b", "c"},
    "other_handler": {"d"},
    "supervisor": set("abcdefg"),
    "far_supervisor": {"h"},
    "grid_worker": {"a", "b", "e", "f"},
    "other_worker": {"c", "d"},
    "citizen": {"e"},
}


def _grid_under(parent: Area, code: str, box: tuple[float, float, float, float]) -> Area:
    """A community and one grid below ``parent`` (and a subdistrict when
    ``parent`` is a district), covering ``box``."""
    if parent.level == Level.DISTRICT:
        parent = AreaFactory(
            level=Level.SUBDISTRICT, code=code[:9], parent=parent, boundary=rect(*box)
        )
    community = AreaFactory(
        level=Level.COMMUNITY, code=code[:12], parent=parent, boundary=rect(*box)
    )
    return AreaFactory(level=Level.GRID, code=code, parent=community, boundary=rect(*box))


@pytest.fixture
def cases(world) -> dict[str, Case]:
    far_subdistrict = Area.objects.get(code="320402002")
    far_district = Area.objects.get(code="320404")
    _grid_under(far_subdistrict, "320402002001001", (119.96, 31.70, 120.00, 31.74))
    _grid_under(far_district, "320404001001001", (120.00, 31.60, 120.10, 31.70))

    d = report(world, point=IN_G4, reporter=world.other_worker)
    services.case_register(case=d, actor=world.dispatcher)
    services.case_dispatch(case=d, actor=world.dispatcher, department=world.szgs)
    made = {
        "a": report(world),
        "b": case_in(world, Status.DISPATCHED),
        "c": case_in(world, Status.IN_PROGRESS, point=IN_G4, reporter=world.other_worker),
        "d": d,
        "e": report(world, source="citizen", reporter=world.citizen),
        "f": case_in(world, Status.RETURNED),
        "g": report(world, point=IN_FAR_SUBDISTRICT, source="citizen", reporter=None),
        "h": report(world, point=IN_FAR_DISTRICT, source="citizen", reporter=None),
    }
    made = {name: Case.objects.get(pk=case.pk) for name, case in made.items()}
    # The set-up is what the table above says.
    assert made["d"].department == world.szgs and made["d"].status == Status.DISPATCHED
    assert made["c"].department == world.cgj and made["c"].grid.code.endswith("004")
    assert made["f"].department is None and made["f"].status == Status.RETURNED
    assert made["g"].subdistrict.code == "320402002"
    assert made["h"].district.code == "320404"
    return made


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_each_role_sees_exactly_its_cases(world, cases, role):
    user = fresh(world.users[role])
    names = {case.pk: name for name, case in cases.items()}
    seen = {names[pk] for pk in cases_visible_to(user).values_list("pk", flat=True)}
    assert seen == EXPECTED[role]
    assert cases_visible_to(user).count() == len(EXPECTED[role])  # no duplicate rows


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_the_scope_in_memory_sees_what_the_query_sees(world, cases, role):
    """``sees`` (a live connection's check of each event, no query) gives
    the answer of ``visible_q`` for every role and case."""
    user = fresh(world.users[role])
    scope = scope_of(user)
    visible = set(cases_visible_to(user).values_list("pk", flat=True))
    for name, case in cases.items():
        fields = {
            "case_id": case.pk,
            "area_path": case.area_path,
            "department_id": case.department_id,
            "grid_id": case.grid_id,
        }
        assert sees(scope, **fields, reporter_id=case.reporter_id) is (case.pk in visible), name
    assert not sees(scope_of(AnonymousUser()), **fields)


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_case_get_refuses_what_is_out_of_scope(world, cases, role):
    user = fresh(world.users[role])
    for name, case in cases.items():
        if name in EXPECTED[role]:
            got = case_get(user, case.pk)
            assert (got.pk, got.number) == (case.pk, case.number)
        else:
            with pytest.raises(CaseNotFound) as raised:
                case_get(user, case.pk)
            assert raised.value.case_id == case.pk
            assert raised.value.status == 404


def test_case_get_on_a_missing_or_malformed_id(world, cases):
    admin = fresh(world.admin)
    missing = max(case.pk for case in cases.values()) + 1000
    for pk in (missing, "not-a-number", None):
        with pytest.raises(CaseNotFound):
            case_get(admin, pk)


def test_anonymous_sees_nothing(world, cases, django_assert_num_queries):
    anonymous = AnonymousUser()
    with django_assert_num_queries(0):
        assert list(cases_visible_to(anonymous)) == []
    with pytest.raises(CaseNotFound):
        case_get(anonymous, cases["a"].pk)


def test_a_handler_loses_sight_of_a_returned_case_and_regains_it_on_redispatch(world):
    case = case_in(world, Status.DISPATCHED)
    assert case_get(fresh(world.handler), case.pk) == case
    services.case_return(case=case, actor=world.handler, reason="不属于本部门")
    with pytest.raises(CaseNotFound):
        case_get(fresh(world.handler), case.pk)
    services.case_dispatch(case=case, actor=world.dispatcher, department=world.szgs)
    with pytest.raises(CaseNotFound):
        case_get(fresh(world.handler), case.pk)
    assert case_get(fresh(world.other_handler), case.pk) == case


def test_a_grid_worker_sees_own_reports_after_leaving_the_grid(world):
    case = report(world)
    GridAssignment.objects.filter(user=world.grid_worker).delete()
    worker = fresh(world.grid_worker)
    assert case_get(worker, case.pk) == case  # the reporter
    other = report(world, point=IN_G4, reporter=world.other_worker)
    with pytest.raises(CaseNotFound):
        case_get(worker, other.pk)


def test_the_scope_query_agrees_with_the_assignments_and_grants_as_the_orm_reads_them(world):
    """scope_of reads everything in one statement; it must give what the
    model-level definitions give (grids.selectors.assigned_on, the grants)."""
    from datetime import timedelta

    from django.contrib.auth.models import Group

    from cases.models import CaseFollower, CaseGroupObjectPermission, CaseUserObjectPermission
    from grids.selectors import grids_of_worker

    worker = world.grid_worker
    today = timezone.localdate()
    grid = Area.objects.filter(level=Level.GRID).exclude(
        pk__in=[g.pk for g in grids_of_worker(worker)]
    )[0]
    # Ended yesterday, starting tomorrow, and in force from today until today.
    GridAssignment.objects.create(
        user=worker, grid=grid, start_date=today - timedelta(days=9), end_date=today - timedelta(1)
    )
    GridAssignment.objects.create(user=worker, grid=grid, start_date=today + timedelta(1))
    case = report(world)
    other = report(world, point=IN_G4, reporter=world.other_worker)
    services.case_add_cohandler(case=case, actor=world.dispatcher, user=worker)
    team = Group.objects.create(name="巡查组")
    worker.groups.add(team)
    services.case_add_cohandler(case=other, actor=world.dispatcher, department=world.szgs)
    CaseGroupObjectPermission.objects.create(
        group=team,
        content_object=other,
        permission=CaseUserObjectPermission.objects.filter(content_object=case)[0].permission,
    )
    CaseFollower.objects.get_or_create(case=other, user=worker)

    scope = scope_of(fresh(worker))
    assert scope.grid_ids == {g.pk for g in grids_of_worker(worker)}
    assert grid.pk not in scope.grid_ids
    assert scope.group_ids == {team.pk}
    assert scope.extra_case_ids == {case.pk, other.pk}
    assert scope.cohandled_case_ids == {case.pk, other.pk}
    GridAssignment.objects.create(user=worker, grid=grid, start_date=today, end_date=today)
    assert grid.pk in scope_of(fresh(worker)).grid_ids
    assert scope_of(fresh(worker)).grid_ids == {g.pk for g in grids_of_worker(worker)}
    # Roles: each membership gives its part.
    dispatcher = scope_of(fresh(world.dispatcher))
    assert dispatcher.dispatcher_areas == ((world.city.subdistrict.path, Level.SUBDISTRICT),)
    assert dispatcher.grid_ids == frozenset() and not dispatcher.is_admin
    assert scope_of(fresh(world.handler)).department_ids == {world.cgj.pk}
    assert scope_of(fresh(world.users["supervisor"])).supervisor_paths == (
        world.city.district.path,
    )


def test_the_reporter_of_a_merged_duplicate_follows_the_original(world):
    original = case_in(
        world,
        Status.REGISTERED,
        source="citizen",
        reporter=None,
        reporter_name="张三",
        reporter_phone="13912345678",
    )
    duplicate = report(world, source="citizen", reporter=world.citizen)
    citizen = fresh(world.citizen)
    with pytest.raises(CaseNotFound):
        case_get(citizen, original.pk)

    services.case_merge(case=duplicate, actor=world.dispatcher, original=original)
    citizen = fresh(world.citizen)
    assert case_get(citizen, original.pk) == original
    assert set(cases_visible_to(citizen).values_list("pk", flat=True)) == {
        original.pk,
        duplicate.pk,
    }
    # Following is not reporting: the original's reporter stays masked.
    assert contact_for(citizen, original) == MASKED


# --- Reporter contact details --------------------------------------------------------------


@pytest.fixture
def tip(world) -> Case:
    """An anonymous citizen's tip, registered and dispatched to CGJ."""
    case = report(
        world,
        source="citizen",
        reporter=None,
        reporter_name="张三",
        reporter_phone="13912345678",
    )
    assert case.reporter is None
    services.case_register(case=case, actor=world.dispatcher)
    services.case_dispatch(case=case, actor=world.dispatcher)
    return Case.objects.get(pk=case.pk)


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("dispatcher", FULL),
        ("city_dispatcher", FULL),
        ("handler", FULL),
        ("admin", FULL),
        ("supervisor", MASKED),
        ("grid_worker", MASKED),
    ],
)
def test_reporter_contact_is_masked_unless_in_charge(world, tip, role, expected):
    user = fresh(world.users[role])
    case = case_get(user, tip.pk)
    assert contact_for(user, case) == expected


def test_a_cohandling_department_sees_the_contact_masked(world, tip):
    services.case_add_cohandler(case=tip, actor=world.dispatcher, department=world.szgs)
    other_handler = fresh(world.other_handler)
    case = case_get(other_handler, tip.pk)
    assert contact_for(other_handler, case) == MASKED


def test_after_escalation_the_subdistrict_centre_sees_the_contact_masked(world):
    case = report(
        world, source="citizen", reporter=None, reporter_name="张三", reporter_phone="13912345678"
    )
    services.case_register(case=case, actor=world.dispatcher)
    services.case_escalate(case=case, actor=world.dispatcher, reason="跨街道")
    case = Case.objects.get(pk=case.pk)
    assert contact_for(fresh(world.dispatcher), case) == MASKED
    assert contact_for(fresh(world.city_dispatcher), case) == FULL


def test_the_reporter_sees_their_own_contact(world):
    case = report(world, source="citizen", reporter=world.citizen, reporter_phone="13912345678")
    citizen = fresh(world.citizen)
    assert contact_for(citizen, case_get(citizen, case.pk))["phone"] == "13912345678"
    assert contact_for(fresh(world.supervisor), case)["phone"] == "139****5678"


# --- In the database ---------------------------------------------------------------------------


def test_visibility_is_one_filter_on_the_case_table(world, cases):
    # A grant, so the group and user branches are in play as well.
    services.case_add_cohandler(case=cases["b"], actor=world.dispatcher, department=world.szgs)
    services.case_add_cohandler(case=cases["b"], actor=world.dispatcher, user=world.citizen)
    for role in EXPECTED:
        qs = cases_visible_to(fresh(world.users[role]))
        sql, _params = qs.query.get_compiler(using=qs.db).as_sql()
        assert str(qs.query)  # compiles to SQL
        head = re.split(r" WHERE | ORDER BY ", sql, maxsplit=1)[0]
        assert head.endswith('FROM "cases_case"'), f"{role}: the outer query joins: {head}"
        # No joins in the outer query: the filter works with FOR UPDATE OF the case.
        assert len(list(qs.select_for_update(of=("self",)).values_list("pk", flat=True))) >= 1


@pytest.mark.parametrize(
    ("role", "count"),
    [
        ("admin", 20),
        ("dispatcher", 20),
        ("supervisor", 20),
        ("grid_worker", 10),
        ("other_worker", 10),
        ("handler", 0),
        ("other_handler", 1),
        ("citizen", 1),
    ],
)
def test_listing_twenty_cases_takes_a_bounded_number_of_queries(
    world, role, count, django_assert_max_num_queries, django_assert_num_queries
):
    made = [
        report(world) if i % 2 else report(world, point=IN_G4, reporter=world.other_worker)
        for i in range(20)
    ]
    services.case_add_cohandler(case=made[0], actor=world.dispatcher, department=world.szgs)
    services.case_add_cohandler(case=made[0], actor=world.dispatcher, user=world.citizen)

    user = fresh(world.users[role])
    # Loading the user's scope (roles, grids, groups, followed and granted
    # cases: one query) and the list itself.
    with django_assert_num_queries(2):
        rows = list(cases_visible_to(user))
    assert len(rows) == count
    # With the scope loaded, listing is one query, whatever the number of cases.
    with django_assert_num_queries(1):
        assert len(list(cases_visible_to(user))) == count
