"""One person, several roles; role scopes as configured by an admin."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from cases import services
from cases.selectors import cases_visible_to
from organisation.models import Role, RoleMembership
from tests.cases.conftest import case_in, fresh
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_one_person_acts_in_whichever_of_their_roles_applies(world):
    both = UserFactory(username="both")
    RoleMembership.objects.create(user=both, role=Role.DISPATCHER, area=world.city.subdistrict)
    RoleMembership.objects.create(user=both, role=Role.SUPERVISOR, area=world.city.district)
    case = case_in(world, "reported")
    services.case_register(case=case, actor=both)
    services.case_issue_directive(
        case=case,
        actor=both,
        kind="supervision",
        message="督办",
        due_at=timezone.now() + dt.timedelta(hours=2),
    )
    roles = list(case.events.filter(actor=both).values_list("action", "actor_role"))
    assert roles == [("registered", "dispatcher"), ("supervision_ordered", "supervisor")]


def test_a_handler_of_two_departments_sees_both_queues(world):
    first = case_in(world, "dispatched")
    second = services.case_dispatch(
        case=case_in(world, "registered"), actor=world.dispatcher, department=world.szgs
    )
    assert set(cases_visible_to(world.handler)) == {first}
    RoleMembership.objects.create(user=world.handler, role=Role.HANDLER, department=world.szgs)
    assert set(cases_visible_to(fresh(world.handler))) == {first, second}
    services.case_acknowledge(case=second, actor=world.handler)


def test_a_command_centre_is_at_community_level_or_above(world):
    grid = world.city.grids["320402001001001"]
    at_grid = RoleMembership(user=world.citizen, role=Role.DISPATCHER, area=grid)
    with pytest.raises(ValidationError) as exc:
        at_grid.full_clean()
    assert "area" in exc.value.message_dict
    RoleMembership(user=world.citizen, role=Role.DISPATCHER, area=world.city.community).full_clean()


def test_a_department_group_follows_its_handlers(world):
    group = world.szgs.group
    assert set(group.user_set.all()) == {world.other_handler}
    membership = RoleMembership.objects.create(
        user=world.handler, role=Role.HANDLER, department=world.szgs
    )
    assert set(group.user_set.all()) == {world.other_handler, world.handler}
    membership.delete()
    assert set(group.user_set.all()) == {world.other_handler}


def test_a_co_handling_grant_reaches_a_handler_who_joins_later(world):
    case = case_in(world, "dispatched")
    services.case_add_cohandler(case=case, actor=world.dispatcher, department=world.szgs)
    newcomer = UserFactory(username="newcomer")
    assert not cases_visible_to(newcomer).filter(pk=case.pk).exists()
    RoleMembership.objects.create(user=newcomer, role=Role.HANDLER, department=world.szgs)
    assert cases_visible_to(fresh(newcomer)).filter(pk=case.pk).exists()


def test_leaving_a_department_leaves_its_group(world):
    membership = world.other_handler.roles.get()
    membership.role, membership.department, membership.area = (
        Role.SUPERVISOR, None, world.city.district,
    )  # fmt: skip
    membership.save()
    assert not world.szgs.group.user_set.filter(pk=world.other_handler.pk).exists()
    membership.role, membership.department, membership.area = Role.HANDLER, world.cgj, None
    membership.save()
    assert world.cgj.group.user_set.filter(pk=world.other_handler.pk).exists()
    assert not world.szgs.group.user_set.filter(pk=world.other_handler.pk).exists()
