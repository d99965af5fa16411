"""Working time on the official calendar (loaded by migration cases/0002)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from cases.holidays import calendar_load_official
from cases.models import CalendarDay, CalendarYear
from cases.working_time import CalendarMissing, load_calendar

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(y, m, d, hh=0, mm=0):
    return dt.datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


@pytest.fixture
def calendar():
    return load_calendar()


def test_default_day_is_seven_and_a_half_hours(calendar):
    assert calendar.minutes_per_day == 450


def test_two_hours_across_the_lunch_break(calendar):
    # Wednesday 11:00: one hour before lunch, one after 13:30
    assert calendar.add_working_minutes(at(2026, 3, 4, 11), 120) == at(2026, 3, 4, 14, 30)


def test_a_deadline_ending_exactly_at_noon_stays_at_noon(calendar):
    assert calendar.add_working_minutes(at(2026, 3, 4, 11), 60) == at(2026, 3, 4, 12)


def test_two_hours_over_a_weekend(calendar):
    # Friday 16:30: one hour on Friday, one on Monday morning
    assert calendar.add_working_minutes(at(2026, 3, 6, 16, 30), 120) == at(2026, 3, 9, 9, 30)


def test_a_case_reported_at_23_00_starts_counting_next_morning(calendar):
    reported = at(2026, 3, 4, 23)
    assert calendar.add_working_minutes(reported, 120) == at(2026, 3, 5, 10, 30)
    assert calendar.add_working_days(reported, 1) == at(2026, 3, 5, 17, 30)


def test_over_spring_festival_with_its_make_up_saturday(calendar):
    # 2026: holiday 15-23 February; Saturdays 14 and 28 February are working days.
    friday = at(2026, 2, 13, 16)
    assert calendar.is_working_day(dt.date(2026, 2, 14))
    assert not calendar.is_working_day(dt.date(2026, 2, 16))  # a Monday in the holiday
    # 1 working day: 1.5 h on Friday, 6 h on the make-up Saturday
    assert calendar.add_working_days(friday, 1) == at(2026, 2, 14, 16)
    # 3 working days: Friday 1.5 h, Saturday 7.5 h, then nothing until Tuesday 24th
    assert calendar.add_working_days(friday, 3) == at(2026, 2, 25, 16)


def test_working_minutes_between_skip_nights_weekends_and_holidays(calendar):
    assert calendar.working_minutes_between(at(2026, 3, 4, 11), at(2026, 3, 4, 14, 30)) == 120
    assert calendar.working_minutes_between(at(2026, 3, 6, 16, 30), at(2026, 3, 9, 9, 30)) == 120
    assert calendar.working_minutes_between(at(2026, 2, 14, 17, 30), at(2026, 2, 24, 8, 30)) == 0
    assert calendar.working_minutes_between(at(2026, 3, 5), at(2026, 3, 4)) == 0


def test_adding_then_measuring_agree(calendar):
    start = at(2026, 9, 30, 15, 10)  # the day before the National Day holiday
    end = calendar.add_working_minutes(start, 1000)
    assert calendar.working_minutes_between(start, end) == pytest.approx(1000)


def test_a_year_without_a_calendar_is_refused_until_an_admin_adds_it(calendar):
    with pytest.raises(CalendarMissing, match="2027") as caught:
        calendar.add_working_days(at(2026, 12, 31, 17), 1)
    assert caught.value.year == 2027

    year = CalendarYear.objects.create(year=2027, source=CalendarYear.Source.MANUAL)
    CalendarDay.objects.create(date=dt.date(2027, 1, 1), year=year, kind="holiday", name="元旦")

    # 0.5 h on 31 December; 1 January 2027 a holiday, then a weekend; 7 h on Monday 4th
    assert load_calendar().add_working_days(at(2026, 12, 31, 17), 1) == at(2027, 1, 4, 17)


def test_official_reload_keeps_years_entered_by_hand():
    CalendarYear.objects.filter(year=2026).update(source=CalendarYear.Source.MANUAL)
    CalendarDay.objects.filter(date=dt.date(2026, 2, 14)).delete()

    loaded = calendar_load_official()

    assert 2026 not in loaded and 2025 in loaded
    assert not CalendarDay.objects.filter(date=dt.date(2026, 2, 14)).exists()


def test_load_command_refuses_unpublished_years():
    with pytest.raises(CommandError, match="2030"):
        call_command("load_holiday_calendar", "2030")
