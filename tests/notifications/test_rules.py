"""Who is notified of what (notifications.rules), asserted both ways: the
people a rule names get the notification, and the people around them (other
departments, other command centres, supervisors elsewhere, the actor) do not."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from cases import services, sweep
from cases.models import Case, DirectiveKind, Source, Status
from grids.models import Area
from notifications import rules
from notifications.checks import check_channels
from notifications.models import Notification
from organisation.models import Role, RoleMembership
from tests.cases.conftest import IN_G4, case_in, jpeg, report
from tests.factories import UserFactory

from .conftest import digests, inbox, stored

pytestmark = pytest.mark.django_db

TOMORROW = dt.timedelta(days=1)


@pytest.fixture
def district_dispatcher(world):
    user = UserFactory(username="district_dispatcher")
    RoleMembership.objects.create(user=user, role=Role.DISPATCHER, area=world.city.district)
    return user


def tip(world, **kwargs):
    """A citizen's tip without an account, with contact details."""
    kwargs.setdefault("reporter", None)
    kwargs.setdefault("reporter_email", "zhang@example.com")
    kwargs.setdefault("reporter_phone", "139 1234 5678")
    return report(world, source=Source.CITIZEN, **kwargs)


def directive(world, case, actor, kind=DirectiveKind.REMINDER):
    return services.case_issue_directive(
        case=case, actor=actor, kind=kind, message="请今日内处理", due_at=timezone.now() + TOMORROW
    )


# --- Dispatch, return, escalation ---------------------------------------------------


def test_a_dispatch_goes_to_the_departments_handlers_only(world):
    case = services.case_dispatch(case=case_in(world, Status.REGISTERED), actor=world.dispatcher)
    assert stored(case, action="dispatched") == {("dispatch", "inbox", "handler")}
    assert inbox(world.other_handler) == set() and inbox(world.dispatcher) == set()


def test_a_redispatch_goes_to_the_new_department(world):
    case = case_in(world, Status.RETURNED)
    services.case_dispatch(case=case, actor=world.dispatcher, department=world.szgs)
    assert stored(case, action="redispatched") == {("dispatch", "inbox", "other_handler")}


def test_a_return_goes_to_the_command_centre_in_charge(world):
    case = case_in(world, Status.RETURNED)
    assert stored(case, action="returned") == {("return", "inbox", "dispatcher")}
    for user in (world.city_dispatcher, world.far_dispatcher, world.handler, world.supervisor):
        assert ("return", "returned") not in inbox(user)


def test_an_escalation_goes_to_the_centre_above_and_a_return_then_to_it(world, district_dispatcher):
    case = case_in(world, Status.REGISTERED)
    services.case_escalate(case=case, actor=world.dispatcher, reason="跨街道问题")
    assert stored(case, action="escalated") == {("escalation", "inbox", "district_dispatcher")}

    services.case_dispatch(case=case, actor=district_dispatcher)
    services.case_return(case=case, actor=world.handler, reason="不属于本部门")
    # the case is the district centre's now, not the subdistrict's
    assert stored(case, action="returned") == {("return", "inbox", "district_dispatcher")}

    services.case_escalate(case=case, actor=district_dispatcher, reason="需市级协调")
    assert stored(case, action="escalated") == {
        ("escalation", "inbox", "district_dispatcher"),
        ("escalation", "inbox", "city_dispatcher"),
    }


# --- Reminders, supervision orders, rework -------------------------------------------


def test_a_reminder_goes_to_whoever_holds_the_case(world):
    dispatched = case_in(world, Status.DISPATCHED)
    directive(world, dispatched, world.supervisor)
    assert stored(dispatched, action="reminded") == {("reminder", "inbox", "handler")}

    registered = case_in(world, Status.REGISTERED)
    directive(world, registered, world.supervisor)
    assert stored(registered, action="reminded") == {("reminder", "inbox", "dispatcher")}


def test_a_supervision_order_goes_to_the_department(world):
    case = case_in(world, Status.IN_PROGRESS)
    directive(world, case, world.supervisor, DirectiveKind.SUPERVISION)
    assert stored(case, action="supervision_ordered") == {("supervision", "inbox", "handler")}
    assert inbox(world.supervisor) == set() and inbox(world.other_handler) == set()


def test_rework_and_reopening_go_back_to_the_department(world):
    case = case_in(world, Status.HANDLED)
    services.case_inspect(case=case, actor=world.grid_worker, passed=False, note="井盖松动")
    assert stored(case, action="rework") == {("rework", "inbox", "handler")}

    services.case_report_back(case=case, actor=world.handler, note="已加固", photos=[jpeg()])
    services.case_inspect(case=case, actor=world.grid_worker, passed=True)
    services.case_reopen(case=case, actor=world.dispatcher, reason="市民反映仍未修好")
    assert stored(case, action="reopened") == {("rework", "inbox", "handler")}


# --- Deadlines -------------------------------------------------------------------------


def _cross(case, *, red: bool) -> None:
    now = timezone.now()
    Case.objects.filter(pk=case.pk).update(
        yellow_at=now - dt.timedelta(hours=2),
        due_at=now - dt.timedelta(minutes=1) if red else now + dt.timedelta(hours=2),
    )


@pytest.mark.parametrize(
    ("status", "holder", "not_holders"),
    [
        (Status.REPORTED, "dispatcher", ["handler", "grid_worker", "city_dispatcher"]),
        (Status.DISPATCHED, "handler", ["dispatcher", "other_handler"]),
        (Status.IN_PROGRESS, "handler", ["dispatcher", "other_handler"]),
        (Status.HANDLED, "grid_worker", ["other_worker", "handler", "dispatcher"]),
    ],
)
def test_a_yellow_light_goes_to_whoever_holds_the_stage(world, status, holder, not_holders):
    case = case_in(world, status)
    _cross(case, red=False)
    sweep.sla_sweep()
    # told in the run's digest, not one by one
    assert stored(case, action="sla_yellow") == set()
    assert digests(kind="yellow") == {("yellow", "inbox", holder, 1)}
    for name in not_holders:
        assert ("yellow", None) not in inbox(world.users[name])


def test_a_red_light_also_goes_to_the_supervisors_above_the_case(world):
    community_supervisor = UserFactory(username="community_supervisor")
    RoleMembership.objects.create(
        user=community_supervisor, role=Role.SUPERVISOR, area=world.city.community
    )
    next_door = UserFactory(username="next_door_supervisor")
    RoleMembership.objects.create(user=next_door, role=Role.SUPERVISOR, area=world.city.community2)
    case = case_in(world, Status.DISPATCHED)
    _cross(case, red=True)
    sweep.sla_sweep()
    assert digests(kind="red") == {
        ("red", "inbox", "handler", 1),
        ("red", "inbox", "supervisor", 1),
        ("red", "inbox", "community_supervisor", 1),
    }
    # the overdue policy's supervision order goes to the department
    assert digests(kind="supervision") == {("supervision", "inbox", "handler", 1)}
    assert inbox(world.far_supervisor) == set() and inbox(next_door) == set()
    assert stored(case, action="sla_red") == stored(case, action="supervision_ordered") == set()


def test_an_automatic_escalation_goes_to_the_centre_above(world, district_dispatcher):
    case = case_in(world, Status.REGISTERED)
    _cross(case, red=True)
    sweep.sla_sweep()
    # red for the centre that holds it now, and the supervisors; the
    # escalation for the centre above
    assert digests(kind="red") == {
        ("red", "inbox", "district_dispatcher", 1),
        ("red", "inbox", "supervisor", 1),
    }
    assert digests(kind="escalation") == {("escalation", "inbox", "district_dispatcher", 1)}
    assert ("red", None) not in inbox(world.dispatcher)


# --- Closure and citizens' tips -------------------------------------------------------------


def test_a_closure_goes_to_the_reporter_who_did_not_inspect_it(world):
    case = case_in(world, Status.HANDLED)
    services.case_inspect(case=case, actor=world.dispatcher, passed=True)
    assert stored(case, action="closed") == {("closure", "inbox", "grid_worker")}


def test_no_one_hears_of_their_own_action(world):
    # the grid worker reported it and closes it on inspection
    case = case_in(world, Status.CLOSED)
    assert stored(case, action="closed") == set()
    # a dispatcher who is also one of the department's handlers dispatches
    RoleMembership.objects.create(user=world.dispatcher, role=Role.HANDLER, department=world.cgj)
    case = services.case_dispatch(case=case_in(world, Status.REGISTERED), actor=world.dispatcher)
    assert stored(case, action="dispatched") == {("dispatch", "inbox", "handler")}


def test_inactive_people_are_not_notified(world):
    world.handler.is_active = False
    world.handler.save()
    case = services.case_dispatch(case=case_in(world, Status.REGISTERED), actor=world.dispatcher)
    assert stored(case, action="dispatched") == set()


def test_a_citizens_tip_reports_its_progress_by_email_and_sms(world):
    case = tip(world)
    services.case_register(case=case, actor=world.dispatcher)
    contacts = {("tip_status", "email", "zhang@example.com"), ("tip_status", "sms", "13912345678")}
    assert stored(case, action="registered") == contacts

    services.case_dispatch(case=case, actor=world.dispatcher)
    assert stored(case, action="dispatched") == {*contacts, ("dispatch", "inbox", "handler")}

    services.case_acknowledge(case=case, actor=world.handler)
    assert stored(case, action="acknowledged") == set()  # not a step citizens are told of

    services.case_report_back(case=case, actor=world.handler, note="已更换", photos=[jpeg()])
    assert stored(case, action="handled") == contacts

    services.case_inspect(case=case, actor=world.grid_worker, passed=True)
    assert stored(case, action="closed") == {
        ("closure", "email", "zhang@example.com"),
        ("closure", "sms", "13912345678"),
    }


def test_a_rejected_tip_is_told_so(world):
    case = tip(world, reporter_phone="")
    services.case_reject(case=case, actor=world.dispatcher, reason="重复举报, 已处理")
    assert stored(case, action="rejected") == {("tip_status", "email", "zhang@example.com")}


def test_a_citizen_account_gets_its_tips_progress_in_the_inbox_too(world):
    case = tip(world, reporter=world.citizen, reporter_email="")
    services.case_register(case=case, actor=world.dispatcher)
    assert stored(case, action="registered") == {
        ("tip_status", "inbox", "citizen"),
        ("tip_status", "sms", "13912345678"),
    }


def test_staff_reports_get_no_tip_progress(world):
    case = report(world, reporter_phone="13900000000")  # a grid worker's, with a resident's phone
    services.case_register(case=case, actor=world.dispatcher)
    assert ("tip_status", "inbox", "grid_worker") not in stored(case)
    # the resident who gave the phone number is told, without a link
    assert stored(case, action="registered") == {("tip_status", "sms", "13900000000")}


def test_bad_contact_details_are_skipped(world):
    case = tip(world, reporter_email="not-an-email", reporter_phone="call me")
    services.case_register(case=case, actor=world.dispatcher)
    assert stored(case) == set()


def test_a_merged_tip_is_told_and_its_reporter_follows_the_original(world):
    original = case_in(world, Status.REGISTERED, point=IN_G4, reporter=world.other_worker)
    duplicate = tip(world, reporter=world.citizen, reporter_email="li@example.com")
    services.case_merge(case=duplicate, actor=world.dispatcher, original=original)
    assert stored(duplicate, action="merged") == {
        ("tip_status", "inbox", "citizen"),
        ("tip_status", "email", "li@example.com"),
        ("tip_status", "sms", "13912345678"),
    }
    assert stored(original, action="duplicate_merged") == set()

    services.case_dispatch(case=original, actor=world.dispatcher)
    # the follower hears of the original (the original's reporter is staff)
    assert stored(original, action="dispatched") == {
        ("dispatch", "inbox", "handler"),
        ("tip_status", "inbox", "citizen"),
        ("tip_status", "email", "li@example.com"),
        ("tip_status", "sms", "13912345678"),
    }


def test_one_notification_per_person_and_channel_for_an_event(world):
    """The same phone given by the reporter and by a follower is texted once."""
    original = tip(world)
    duplicate = tip(world, reporter_email="ZHANG@example.com")
    services.case_merge(case=duplicate, actor=world.dispatcher, original=original)
    services.case_register(case=original, actor=world.dispatcher)
    assert stored(original, action="registered") == {
        ("tip_status", "email", "zhang@example.com"),
        ("tip_status", "sms", "13912345678"),
    }


@pytest.mark.parametrize(
    ("status", "step"),
    [
        (Status.DISPATCHED, lambda w, c: services.case_acknowledge(case=c, actor=w.handler)),
        (Status.DISPATCHED, lambda w, c: services.case_comment(case=c, actor=w.handler, text="到")),
        (
            Status.IN_PROGRESS,
            lambda w, c: services.case_request_suspension(case=c, actor=w.handler, reason="等"),
        ),
    ],
)
def test_actions_without_a_rule_notify_no_one(world, status, step):
    case = case_in(world, status)
    before = Notification.objects.count()
    step(world, case)
    assert Notification.objects.count() == before


# --- Changing the table ------------------------------------------------------------------


def test_settings_add_channels_for_an_audience(world, settings):
    settings.NOTIFICATIONS_CHANNELS = {"dispatch": {"handlers": ["inbox", "sms", "email"]}}
    world.handler.phone = "138-0000-1111"
    world.handler.email = "handler@example.com"
    world.handler.save()
    case = services.case_dispatch(case=case_in(world, Status.REGISTERED), actor=world.dispatcher)
    assert stored(case, action="dispatched") == {
        ("dispatch", "inbox", "handler"),
        ("dispatch", "sms", "handler"),
        ("dispatch", "email", "handler"),
    }
    assert set(
        Notification.objects.filter(case=case, channel__in=["sms", "email"]).values_list(
            "address", flat=True
        )
    ) == {"13800001111", "handler@example.com"}


def test_settings_turn_an_audience_off(world, settings):
    settings.NOTIFICATIONS_CHANNELS = {"dispatch": {"handlers": []}}
    case = services.case_dispatch(case=case_in(world, Status.REGISTERED), actor=world.dispatcher)
    assert stored(case) == set()
    assert rules.rules_for("dispatched") == tuple(
        r for r in rules.rules() if r.kind == "tip_status"
    )


@pytest.mark.parametrize(
    "override",
    [
        {"nonsense": {"handlers": ["inbox"]}},
        {"dispatch": {"nobody": ["inbox"]}},
        {"dispatch": {"handlers": ["pigeon"]}},
        {"closure": {"contacts": ["inbox"]}},
        {"dispatch": {"handlers": "inbox"}},
        {"dispatch": ["handlers"]},
        ["dispatch"],
    ],
)
def test_a_wrong_setting_is_refused_by_the_system_check(settings, override):
    settings.NOTIFICATIONS_CHANNELS = override
    with pytest.raises(ImproperlyConfigured):
        rules.rules()
    [error] = check_channels(None)
    assert error.id == "notifications.E001"


def test_a_wrong_setting_does_not_stop_the_work(world, settings, caplog):
    settings.NOTIFICATIONS_CHANNELS = {"dispatch": {"handlers": ["pigeon"]}}
    with caplog.at_level(logging.ERROR, logger="notifications.receivers"):
        case = services.case_dispatch(
            case=case_in(world, Status.REGISTERED), actor=world.dispatcher
        )
    assert case.status == Status.DISPATCHED and stored(case, action="dispatched") == set()
    assert "unknown channels" in caplog.text


def test_the_default_table_passes_the_system_check():
    assert check_channels(None) == []


def test_every_kind_has_a_rule_and_no_action_is_ambiguous_within_a_kind():
    kinds = [rule.kind for rule in rules.RULES]
    assert len(kinds) == len(set(kinds))
    from notifications.models import Kind

    # calendar: about no case event (notifications.services.notify_provisional_calendar)
    assert set(kinds) == set(Kind.values) - {Kind.CALENDAR}


def test_the_command_level_picks_the_centre_on_the_cases_path(world):
    """A dispatcher elsewhere at the same level is not the case's centre."""
    other_district = Area.objects.get(code="320404")
    far = UserFactory(username="far_district_dispatcher")
    RoleMembership.objects.create(user=far, role=Role.DISPATCHER, area=other_district)
    case = case_in(world, Status.REGISTERED)
    services.case_escalate(case=case, actor=world.dispatcher, reason="跨街道问题")
    assert inbox(far) == set()
