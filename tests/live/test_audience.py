"""Who hears of an event (the audience stored on it), and who may follow which group."""

import pytest
from guardian.shortcuts import assign_perm

from cases import audience, policy, services
from cases.audience import area_group, case_group, department_group, user_group
from cases.models import CaseEvent, CaseFollower, Status
from grids import codes
from tests.cases.conftest import IN_G4, case_in, fresh, report
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def last_event(case) -> CaseEvent:
    return CaseEvent.objects.filter(case=case).order_by("-id").first()


def test_group_names_come_from_one_helper_and_parse_back():
    assert department_group(3) == "dept.3"
    assert area_group(71) == "area.71"
    assert case_group(9) == "case.9"
    assert user_group(7) == "user.7"
    assert audience.parse_group("dept.3") == ("dept", 3)
    for bad in ["dept", "dept.", "dept.x", "team.3", "dept.-1", "dept.３", "dept.3.4", ""]:
        assert audience.parse_group(bad) is None, bad
    with pytest.raises(ValueError):
        audience.group_name("team", 1)


def test_a_report_goes_to_its_areas_the_case_and_the_reporter(world):
    case = report(world)
    groups = last_event(case).audience
    path = codes.path_ids(case.area_path)
    assert len(path) == 5  # city, district, subdistrict, community, grid
    assert groups == [case_group(case.pk), *map(area_group, path), user_group(case.reporter_id)]


def test_a_dispatch_goes_to_the_department(world):
    case = case_in(world, Status.DISPATCHED)
    assert department_group(world.cgj.pk) in last_event(case).audience
    assert department_group(world.szgs.pk) not in last_event(case).audience


def test_a_redispatch_goes_to_the_queue_it_left_and_the_new_one(world):
    case = case_in(world, Status.RETURNED)
    # the return itself: the department it left hears of it
    assert department_group(world.cgj.pk) in last_event(case).audience
    services.case_dispatch(case=case, actor=fresh(world.dispatcher), department=world.szgs)
    groups = last_event(case).audience
    assert department_group(world.szgs.pk) in groups
    assert department_group(world.cgj.pk) not in groups  # it had left already
    services.case_return(case=case, actor=fresh(world.other_handler), reason="不属于本部门")
    assert department_group(world.szgs.pk) in last_event(case).audience


def test_followers_named_people_and_cohandling_departments_hear_of_it(world):
    case = case_in(world, Status.DISPATCHED)
    follower, named = UserFactory(username="follower"), UserFactory(username="named")
    CaseFollower.objects.create(case=case, user=follower)
    assign_perm("view_case", named, case)
    assign_perm("cohandle_case", world.szgs.group, case)
    services.case_acknowledge(case=case, actor=fresh(world.handler))
    groups = last_event(case).audience
    assert user_group(follower.pk) in groups and user_group(named.pk) in groups
    assert department_group(world.szgs.pk) in groups  # co-handling (协办)
    assert department_group(world.cgj.pk) in groups


def test_sweep_events_carry_their_audience(world):
    import datetime as dt

    from django.utils import timezone

    from cases import sweep

    case = case_in(world, Status.DISPATCHED)
    result = sweep.sla_sweep(now=timezone.now() + dt.timedelta(days=30))
    events = CaseEvent.objects.filter(pk__in=result.events, case=case)
    assert events.exists()
    for event in events:
        assert case_group(case.pk) in event.audience
        assert department_group(world.cgj.pk) in event.audience


# --- who may follow what ---------------------------------------------------------------


@pytest.mark.parametrize(
    "who, allowed, refused",
    [
        ("handler", ["dept:cgj"], ["dept:szgs", "area:city", "area:g1"]),
        ("other_handler", ["dept:szgs"], ["dept:cgj"]),
        (
            "dispatcher",
            ["area:subdistrict", "area:community", "area:g1"],
            ["area:city", "dept:cgj"],
        ),
        ("city_dispatcher", ["area:city", "area:g4"], ["dept:szgs"]),
        ("far_dispatcher", [], ["area:subdistrict", "area:g1"]),
        ("supervisor", ["area:district", "area:g1"], ["area:city"]),
        ("far_supervisor", [], ["area:district", "area:g1"]),
        ("grid_worker", ["area:g1"], ["area:g4", "area:community", "dept:cgj"]),
        ("other_worker", ["area:g4"], ["area:g1"]),
        ("citizen", [], ["area:g1", "dept:cgj", "area:city"]),
        ("admin", ["area:city", "dept:cgj", "dept:szgs"], []),
    ],
)
def test_who_may_follow_which_group(world, who, allowed, refused):
    city = world.city
    targets = {
        "dept:cgj": department_group(world.cgj.pk),
        "dept:szgs": department_group(world.szgs.pk),
        "area:city": area_group(city.city.pk),
        "area:district": area_group(city.district.pk),
        "area:subdistrict": area_group(city.subdistrict.pk),
        "area:community": area_group(city.grids["320402001001001"].parent_id),
        "area:g1": area_group(city.grids["320402001001001"].pk),
        "area:g4": area_group(city.grids["320402001001004"].pk),
    }
    user = world.users[who]
    for name in allowed:
        assert audience.may_join(user, targets[name]), (who, name)
    for name in refused:
        assert not audience.may_join(user, targets[name]), (who, name)
    # A live connection's answer from the scope in memory, where it gives one, is the same.
    scope = policy.scope_of(user)
    for name in allowed + refused:
        assert audience.may_join_in(scope, targets[name]) in (None, name in allowed), (who, name)


def test_standing_groups_are_answered_from_the_scope_without_the_database(
    world, django_assert_num_queries
):
    city = world.city
    g1, g4 = city.grids["320402001001001"], city.grids["320402001001004"]
    handler, worker, admin = (
        policy.scope_of(world.users[who]) for who in ("handler", "grid_worker", "admin")
    )
    with django_assert_num_queries(0):
        assert audience.may_join_in(handler, department_group(world.cgj.pk)) is True
        assert audience.may_join_in(handler, department_group(world.szgs.pk)) is False
        assert audience.may_join_in(handler, user_group(world.handler.pk)) is True
        assert audience.may_join_in(handler, user_group(world.other_handler.pk)) is False
        assert audience.may_join_in(handler, area_group(g1.pk)) is False
        assert audience.may_join_in(worker, area_group(g1.pk)) is True
        assert audience.may_join_in(worker, area_group(g4.pk)) is False
        assert audience.may_join_in(admin, area_group(city.city.pk)) is True
        assert audience.may_join_in(handler, "dept.x") is False
    # Only the database knows what lies under a command centre's areas, and who sees a case.
    dispatcher = policy.scope_of(world.dispatcher)
    assert audience.may_join_in(dispatcher, area_group(city.subdistrict.pk)) is None
    assert audience.may_join_in(handler, case_group(1)) is None


def test_own_user_group_only_and_unknown_ids_refused(world):
    handler = world.handler
    assert audience.may_join(handler, user_group(handler.pk))
    assert not audience.may_join(handler, user_group(world.other_handler.pk))
    assert not audience.may_join(handler, department_group(999999))
    assert not audience.may_join(world.admin, case_group(999999))
    assert not audience.may_join(handler, "dept.x")
    from django.contrib.auth.models import AnonymousUser

    assert not audience.may_join(AnonymousUser(), department_group(world.cgj.pk))


def test_a_case_group_follows_case_visibility(world):
    in_g1 = case_in(world, Status.REGISTERED)
    in_g4 = report(world, point=IN_G4, reporter=world.other_worker)
    assert audience.may_join(world.grid_worker, case_group(in_g1.pk))
    assert not audience.may_join(world.grid_worker, case_group(in_g4.pk))
    assert not audience.may_join(world.handler, case_group(in_g1.pk))  # not dispatched yet
    services.case_dispatch(case=in_g1, actor=fresh(world.dispatcher))
    assert audience.may_join(world.handler, case_group(in_g1.pk))
    assert not audience.may_join(world.other_handler, case_group(in_g1.pk))


def test_standing_groups(world):
    city = world.city
    g1 = city.grids["320402001001001"]
    assert audience.standing_groups(world.handler) == [
        user_group(world.handler.pk),
        department_group(world.cgj.pk),
    ]
    assert audience.standing_groups(world.grid_worker) == [
        user_group(world.grid_worker.pk),
        area_group(g1.pk),
    ]
    assert audience.standing_groups(world.dispatcher) == [
        user_group(world.dispatcher.pk),
        area_group(city.subdistrict.pk),
    ]
    assert audience.standing_groups(world.citizen) == [user_group(world.citizen.pk)]
    assert audience.standing_groups(world.admin) is None
