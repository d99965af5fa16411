"""Stage deadlines: which limit applies, due and yellow times on the working
calendar, a missing calendar year, suspension, extensions and ``light_now``."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from cases import deadlines, services
from cases.deadlines import Limit, light_now, limit_for
from cases.models import (
    CalendarYear,
    Case,
    CaseAttachment,
    CaseEvent,
    Category,
    CategoryClass,
    Clock,
    Light,
    PendingRequest,
    SlaRule,
    Stage,
    Status,
    TimeUnit,
    Urgency,
)
from cases.working_time import CalendarMissing, load_calendar
from tests.cases.conftest import case_in, jpeg, report

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
WH, WD, NM = TimeUnit.WORKING_HOURS, TimeUnit.WORKING_DAYS, TimeUnit.NATURAL_MINUTES


def at(y, m, d, hh=0, mm=0):
    return dt.datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


@pytest.fixture
def calendar(world):
    return load_calendar()


@pytest.fixture
def test_category(world):
    """A category of our own without any rule (the standard ones have five each)."""
    major = CategoryClass.objects.get(family="component", code="06")
    category = Category(
        major=major, minor_code="97", name="测试类", name_en="Test category", is_active=True
    )
    category.save()
    category.default_department = world.cgj
    category.save()
    return category


def rule(category=None, urgency="", stage=Stage.REGISTER, amount=1, unit=WH):
    return SlaRule.objects.create(
        category=category, urgency=urgency, stage=stage, amount=amount, unit=unit
    )


def stored(case) -> Case:
    return Case.objects.get(pk=case.pk)


# --- Which limit applies ---------------------------------------------------------------


def test_without_any_rule_the_settings_default_applies(test_category, settings):
    settings.CASES_DEFAULT_SLA = {**settings.CASES_DEFAULT_SLA, "register": (7, "working_days")}
    limit = limit_for(category_id=test_category.pk, urgency=Urgency.NORMAL, stage=Stage.REGISTER)
    assert limit == Limit(7, WD)
    limit = limit_for(category_id=None, urgency=Urgency.URGENT, stage=Stage.HANDLE)
    assert limit == Limit(*settings.CASES_DEFAULT_SLA["handle"])


def test_the_most_specific_rule_wins(test_category, world):
    def limit(urgency, category=test_category):
        return limit_for(category_id=category.pk, urgency=urgency, stage=Stage.REGISTER)

    # Rules of other categories and of other stages never apply.
    rule(world.category, Urgency.NORMAL, amount=99, unit=NM)
    rule(test_category, Urgency.NORMAL, stage=Stage.DISPATCH, amount=98, unit=NM)

    rule(None, "", amount=11, unit=NM)  # the default
    assert limit(Urgency.NORMAL) == Limit(11, NM)
    assert limit(Urgency.URGENT) == Limit(11, NM)

    rule(None, Urgency.URGENT, amount=22, unit=NM)  # urgency beats the default
    assert limit(Urgency.URGENT) == Limit(22, NM)
    assert limit(Urgency.NORMAL) == Limit(11, NM)

    rule(test_category, "", amount=3, unit=WH)  # category beats urgency
    assert limit(Urgency.URGENT) == Limit(3, WH)
    assert limit(Urgency.NORMAL) == Limit(3, WH)

    rule(test_category, Urgency.URGENT, amount=4, unit=WD)  # category and urgency beat all
    assert limit(Urgency.URGENT) == Limit(4, WD)
    assert limit(Urgency.NORMAL) == Limit(3, WH)
    assert limit(Urgency.CRITICAL) == Limit(3, WH)


def test_urgency_rule_applies_to_a_case_without_category():
    rule(None, Urgency.CRITICAL, stage=Stage.REGISTER, amount=5, unit=NM)
    assert limit_for(category_id=None, urgency=Urgency.CRITICAL, stage=Stage.REGISTER) == Limit(
        5, NM
    )


def test_limit_clock_minutes(calendar):
    assert Limit(2, WD).clock_minutes(calendar) == 900
    assert Limit(3, WH).clock_minutes(calendar) == 180
    assert Limit(45, NM).clock_minutes(calendar) == 45
    assert Limit(2, WD).clock == Clock.WORKING and Limit(45, NM).clock == Clock.NATURAL


def test_a_new_case_takes_its_limit_from_the_most_specific_rule(world, test_category):
    rule(test_category, "", amount=3, unit=WH)
    rule(test_category, Urgency.CRITICAL, amount=20, unit=NM)

    normal = report(world, category=test_category, urgency=Urgency.NORMAL, now=at(2026, 3, 4, 9))
    critical = report(
        world, category=test_category, urgency=Urgency.CRITICAL, now=at(2026, 3, 4, 9)
    )

    normal, critical = stored(normal), stored(critical)
    assert (normal.stage, normal.stage_unit, normal.stage_clock) == (
        Stage.REGISTER,
        WH,
        Clock.WORKING,
    )
    assert normal.stage_limit == 180 and normal.due_at == at(2026, 3, 4, 12)
    assert (critical.stage_unit, critical.stage_clock, critical.stage_limit) == (
        NM,
        Clock.NATURAL,
        20,
    )
    assert critical.due_at == at(2026, 3, 4, 9, 20)


# --- Due times on the working calendar --------------------------------------------------
# BJ0101 (the world's category) is a standard profile: registration in 2 working hours,
# so it turns yellow after 96 working minutes.


@pytest.mark.parametrize(
    ("reported", "yellow", "due"),
    [
        # Wednesday 11:00: one hour before lunch, one after 13:30
        (at(2026, 3, 4, 11), at(2026, 3, 4, 14, 6), at(2026, 3, 4, 14, 30)),
        # Friday 16:30: one hour on Friday, the rest on Monday morning
        (at(2026, 3, 6, 16, 30), at(2026, 3, 9, 9, 6), at(2026, 3, 9, 9, 30)),
        # Wednesday 23:00: the clock starts at 08:30 on Thursday
        (at(2026, 3, 4, 23), at(2026, 3, 5, 10, 6), at(2026, 3, 5, 10, 30)),
        # Saturday afternoon: nothing counts before Monday 08:30
        (at(2026, 3, 7, 15), at(2026, 3, 9, 10, 6), at(2026, 3, 9, 10, 30)),
        # Lunch time: the clock starts at 13:30
        (at(2026, 3, 4, 12, 15), at(2026, 3, 4, 15, 6), at(2026, 3, 4, 15, 30)),
    ],
    ids=["lunch-break", "weekend", "reported-at-23", "saturday", "reported-at-lunch"],
)
def test_registration_deadline_on_the_working_calendar(world, reported, yellow, due):
    case = stored(report(world, now=reported))
    assert case.stage == Stage.REGISTER and case.light == Light.GREEN
    assert case.stage_started_at == reported
    assert case.stage_limit == 120 and case.stage_clock == Clock.WORKING
    assert case.yellow_at == yellow
    assert case.due_at == due


@pytest.mark.parametrize(
    ("amount", "yellow", "due"),
    [
        # 1.5 h on Friday 13 February, then the make-up Saturday 14th
        (1, at(2026, 2, 14, 14, 30), at(2026, 2, 14, 16)),
        # Friday 1.5 h + Saturday 7.5 h, nothing 15-23 February, Tuesday 24th 7.5 h,
        # 6 h on Wednesday 25th; 80% (1080 min) is reached at 10:00 that day
        (3, at(2026, 2, 25, 10), at(2026, 2, 25, 16)),
    ],
)
def test_working_days_over_spring_festival_2026(world, test_category, amount, yellow, due):
    rule(test_category, "", amount=amount, unit=WD)
    case = stored(report(world, category=test_category, now=at(2026, 2, 13, 16)))
    assert case.stage_unit == WD and case.stage_limit == amount * 450
    assert case.yellow_at == yellow
    assert case.due_at == due


def test_a_case_reported_at_23_00_has_a_full_working_day(world, test_category):
    rule(test_category, "", amount=1, unit=WD)
    case = stored(report(world, category=test_category, now=at(2026, 3, 4, 23)))
    assert case.due_at == at(2026, 3, 5, 17, 30)
    # 80% of 450 = 360 working minutes: 3.5 h before lunch, 2.5 h after
    assert case.yellow_at == at(2026, 3, 5, 16)


def test_natural_minutes_ignore_the_calendar(world):
    # SJ0401 pavement collapse: an emergency, registered within 10 natural minutes,
    # even at 3 at night in the Spring Festival holiday.
    emergency = Category.objects.get(code="SJ0401")
    case = stored(report(world, category=emergency, now=at(2026, 2, 17, 3)))
    assert (case.stage_unit, case.stage_clock, case.stage_limit) == (NM, Clock.NATURAL, 10)
    assert case.yellow_at == at(2026, 2, 17, 3, 8)
    assert case.due_at == at(2026, 2, 17, 3, 10)


def test_yellow_at_is_eighty_percent_of_the_limit(world, test_category, calendar, settings):
    rule(test_category, "", amount=10, unit=WH)
    start = at(2026, 3, 2, 9, 17)
    case = stored(report(world, category=test_category, now=start))
    assert calendar.working_minutes_between(start, case.yellow_at) == pytest.approx(480)
    assert calendar.working_minutes_between(start, case.due_at) == pytest.approx(600)

    settings.CASES_YELLOW_SHARE = 0.5
    case = stored(report(world, category=test_category, now=start))
    assert calendar.working_minutes_between(start, case.yellow_at) == pytest.approx(300)


# --- A year without a calendar -----------------------------------------------------------


@pytest.fixture
def missing_year(world):
    """The first year after the last one with a calendar (at least two years ahead:
    the world fixture adds next year)."""
    year = max(CalendarYear.objects.values_list("year", flat=True)) + 1
    assert year >= timezone.localdate().year + 2
    return year


def test_a_deadline_in_a_year_without_calendar_is_refused_and_nothing_is_stored(
    world, missing_year, django_capture_on_commit_callbacks
):
    cases, events = Case.objects.count(), CaseEvent.objects.count()
    attachments = CaseAttachment.objects.count()

    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(CalendarMissing) as caught,
    ):
        report(world, photos=[jpeg()], now=at(missing_year, 3, 1, 10))

    assert caught.value.year == missing_year
    message = str(caught.value)
    assert str(missing_year) in message
    assert "no working calendar" in message and "administrator" in message
    assert caught.value.code == "calendar_missing"
    assert Case.objects.count() == cases
    assert CaseEvent.objects.count() == events
    assert CaseAttachment.objects.count() == attachments
    assert callbacks == []  # nothing to publish


def test_a_deadline_running_into_a_year_without_calendar_is_refused(world, missing_year):
    # 17:00 on 31 December of the last year with a calendar: the 2 hours run into
    # the next year, whose holidays nobody knows yet.
    cases = Case.objects.count()
    with pytest.raises(CalendarMissing, match=str(missing_year)):
        report(world, now=at(missing_year - 1, 12, 31, 17))
    assert Case.objects.count() == cases


def test_stage_start_raises_calendar_missing(world, missing_year):
    case = report(world, now=at(2026, 3, 4, 9))
    with pytest.raises(CalendarMissing, match=str(missing_year)):
        deadlines.stage_start(case, now=at(missing_year, 6, 1, 9))


def test_natural_minutes_need_no_calendar(world, missing_year):
    emergency = Category.objects.get(code="SJ0401")
    case = stored(report(world, category=emergency, now=at(missing_year, 3, 1, 10)))
    assert case.due_at == at(missing_year, 3, 1, 10, 10)


# --- Suspension stops the clock ----------------------------------------------------------


def test_pause_and_resume_move_the_deadline_by_the_working_time_suspended(world, calendar):
    case = report(world, now=at(2026, 3, 2, 9))  # Monday 09:00, 2 working hours
    assert case.due_at == at(2026, 3, 2, 11)

    deadlines.stage_pause(case, now=at(2026, 3, 2, 10))
    assert case.due_at is None and case.yellow_at is None
    assert light_now(case, now=at(2026, 3, 9)) == Light.GREEN  # nothing turns red

    # Suspended from Monday 10:00 to Tuesday 10:00: one working day, 450 minutes.
    deadlines.stage_resume(case, now=at(2026, 3, 3, 10))
    assert case.suspended_at is None
    assert case.stage_paused == 450
    # 570 working minutes from Monday 09:00: Monday 420, Tuesday 150 -> 11:00
    assert case.due_at == at(2026, 3, 3, 11)
    assert case.yellow_at == at(2026, 3, 3, 10, 36)


def test_a_suspension_over_a_weekend_and_a_holiday_counts_only_working_time(world):
    case = report(world, now=at(2026, 4, 30, 9))  # Thursday before the May Day holiday
    deadlines.stage_pause(case, now=at(2026, 4, 30, 17))
    deadlines.stage_resume(case, now=at(2026, 5, 6, 8))
    assert case.stage_paused == 30  # 17:00-17:30 on 30 April only (1-5 May is a holiday)
    # 120 + 30 working minutes from Thursday 09:00
    assert case.due_at == at(2026, 4, 30, 11, 30)


def test_natural_clock_pauses_in_natural_minutes(world):
    emergency = Category.objects.get(code="SJ0401")
    case = report(world, category=emergency, now=at(2026, 2, 17, 3))
    deadlines.stage_pause(case, now=at(2026, 2, 17, 3, 5))
    deadlines.stage_resume(case, now=at(2026, 2, 17, 4, 5))
    assert case.stage_paused == 60
    assert case.due_at == at(2026, 2, 17, 4, 10)
    assert case.yellow_at == at(2026, 2, 17, 4, 8)


def test_suspension_through_the_services(world, calendar):
    case = case_in(world, Status.SUSPENDED)
    suspended = stored(case)
    assert suspended.status == Status.SUSPENDED
    assert suspended.due_at is None and suspended.yellow_at is None
    assert suspended.suspended_at is not None
    assert suspended.stage == Stage.HANDLE

    # The stage started eight days ago and was suspended a day later.
    now = timezone.now()
    start, paused_since = now - dt.timedelta(days=8), now - dt.timedelta(days=7)
    Case.objects.filter(pk=case.pk).update(stage_started_at=start, suspended_at=paused_since)
    limit = suspended.stage_limit
    assert limit == 3 * 450  # BJ0101 handling: 3 working days
    due_before = calendar.add_working_minutes(start, limit)

    services.case_resume(case=case.pk, actor=world.dispatcher)

    resumed = stored(case)
    resumed_at = CaseEvent.objects.filter(case=case, action="resumed").get().created_at
    spent = calendar.working_minutes_between(paused_since, resumed_at)
    assert resumed.status == Status.IN_PROGRESS and resumed.suspended_at is None
    assert resumed.stage_paused == pytest.approx(spent, abs=0.01)
    assert resumed.due_at == calendar.add_working_minutes(start, limit + resumed.stage_paused)
    assert resumed.yellow_at == calendar.add_working_minutes(
        start, 0.8 * limit + resumed.stage_paused
    )
    # The deadline moved by exactly the working time spent suspended.
    assert calendar.working_minutes_between(due_before, resumed.due_at) == pytest.approx(
        spent, abs=0.01
    )


# --- Extensions ------------------------------------------------------------------------


@pytest.fixture
def emergency(world):
    category = Category.objects.get(code="SJ0401")
    category.default_department = world.cgj
    category.save()
    return category


def _ask(world, case, amount):
    return services.case_request_extension(
        case=case.pk, actor=world.handler, amount=amount, reason="需要采购材料"
    )


def test_an_approved_extension_adds_working_days(world, calendar):
    case = stored(case_in(world, Status.IN_PROGRESS))
    assert (case.stage, case.stage_unit, case.stage_limit) == (Stage.HANDLE, WD, 1350)
    due_before, start = case.due_at, case.stage_started_at

    asked = _ask(world, case, 2)
    assert asked.pending_request == PendingRequest.EXTENSION
    assert asked.pending_extension == 900
    assert stored(case).due_at == due_before  # nothing moves before the decision

    services.case_decide_extension(case=case.pk, actor=world.dispatcher, approve=True)

    after = stored(case)
    assert after.stage_limit == 1350 + 900
    assert after.extension_count == 1
    assert after.pending_request == PendingRequest.NONE and after.pending_extension == 0
    assert after.due_at == calendar.add_working_minutes(start, 2250)
    assert after.due_at == calendar.add_working_minutes(due_before, 900)
    assert calendar.working_minutes_between(due_before, after.due_at) == pytest.approx(900)
    assert after.yellow_at == calendar.add_working_minutes(start, 0.8 * 2250)
    event = CaseEvent.objects.filter(case=case, action="extension_approved").get()
    assert event.payload["minutes"] == 900
    requested = CaseEvent.objects.filter(case=case, action="extension_requested").get()
    assert requested.payload["amount"] == 2 and requested.payload["unit"] == WD


def test_an_approved_extension_adds_natural_minutes(world, emergency):
    case = stored(case_in(world, Status.IN_PROGRESS, category=emergency))
    assert (case.stage_unit, case.stage_limit) == (NM, 120)
    due_before, yellow_before = case.due_at, case.yellow_at

    _ask(world, case, 30)
    services.case_decide_extension(case=case.pk, actor=world.dispatcher, approve=True)

    after = stored(case)
    assert after.stage_limit == 150
    assert after.due_at - due_before == dt.timedelta(minutes=30)
    assert after.yellow_at - yellow_before == dt.timedelta(minutes=24)  # 80% of 30


def test_an_extension_approved_while_suspended_applies_on_resume(world, calendar):
    case = stored(case_in(world, Status.IN_PROGRESS))
    _ask(world, case, 1)
    # The extension is still pending when the case is suspended (another request
    # cannot be made; the command centre suspends it directly in this test).
    Case.objects.filter(pk=case.pk).update(
        status=Status.SUSPENDED, suspended_at=timezone.now(), due_at=None, yellow_at=None
    )
    services.case_decide_extension(case=case.pk, actor=world.dispatcher, approve=True)
    during = stored(case)
    assert during.status == Status.SUSPENDED
    assert during.due_at is None and during.yellow_at is None
    assert during.stage_limit == 1800

    services.case_resume(case=case.pk, actor=world.dispatcher)
    after = stored(case)
    assert after.due_at == calendar.add_working_minutes(
        after.stage_started_at, 1800 + after.stage_paused
    )


def test_a_denied_extension_changes_nothing(world):
    case = stored(case_in(world, Status.IN_PROGRESS))
    _ask(world, case, 2)

    services.case_decide_extension(
        case=case.pk, actor=world.dispatcher, approve=False, note="理由不充分"
    )

    after = stored(case)
    assert (after.due_at, after.yellow_at, after.stage_limit, after.stage_paused) == (
        case.due_at,
        case.yellow_at,
        case.stage_limit,
        case.stage_paused,
    )
    assert after.extension_count == 0
    assert after.pending_request == PendingRequest.NONE and after.pending_extension == 0
    assert CaseEvent.objects.filter(case=case, action="extension_denied").count() == 1


@pytest.mark.parametrize("amount", [0, -1, 1001, 1.5, True])
def test_an_extension_must_be_a_whole_number_from_1_to_1000(world, amount):
    from cases.errors import CaseInputError

    case = stored(case_in(world, Status.IN_PROGRESS))
    with pytest.raises(CaseInputError):
        _ask(world, case, amount)
    assert stored(case).pending_request == PendingRequest.NONE


# --- light_now -------------------------------------------------------------------------


def test_light_now():
    yellow_at, due_at = at(2026, 3, 4, 10), at(2026, 3, 4, 11)
    green = Case(light=Light.GREEN, yellow_at=yellow_at, due_at=due_at)

    assert light_now(green, now=at(2026, 3, 4, 9, 59)) == Light.GREEN
    assert light_now(green, now=yellow_at) == Light.YELLOW
    assert light_now(green, now=at(2026, 3, 4, 10, 59)) == Light.YELLOW
    assert light_now(green, now=due_at) == Light.RED
    assert light_now(green, now=at(2026, 3, 5)) == Light.RED

    yellow = Case(light=Light.YELLOW, yellow_at=yellow_at, due_at=due_at)
    assert light_now(yellow, now=at(2026, 3, 4, 10, 30)) == Light.YELLOW
    assert light_now(yellow, now=due_at) == Light.RED

    # Red stays red (the sweep marked it; an extension does not undo it).
    red = Case(light=Light.RED, yellow_at=yellow_at, due_at=at(2026, 3, 9))
    assert light_now(red, now=at(2026, 3, 4, 9)) == Light.RED

    # Suspended: no due times, the stored light stands.
    paused = Case(light=Light.YELLOW, yellow_at=None, due_at=None)
    assert light_now(paused, now=at(2030, 1, 1)) == Light.YELLOW

    # Closed (no stage): no light at all.
    closed = Case(light="", yellow_at=None, due_at=None)
    assert light_now(closed, now=at(2030, 1, 1)) == ""


def test_light_now_on_a_stored_case(world):
    case = stored(report(world, now=at(2026, 3, 4, 11)))
    assert light_now(case, now=at(2026, 3, 4, 11, 30)) == Light.GREEN
    assert light_now(case, now=at(2026, 3, 4, 14, 6)) == Light.YELLOW
    assert light_now(case, now=at(2026, 3, 4, 14, 30)) == Light.RED
