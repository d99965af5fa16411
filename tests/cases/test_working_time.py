"""Working time on the official calendar (loaded by migration cases/0002)."""

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from cases.holidays import calendar_load
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


def test_a_year_outside_the_century_is_refused_until_an_admin_adds_it(calendar):
    with pytest.raises(CalendarMissing, match="2100") as caught:
        calendar.add_working_days(at(2099, 12, 31, 17), 1)
    assert caught.value.year == 2100

    year = CalendarYear.objects.create(year=2100, source=CalendarYear.Source.MANUAL)
    CalendarDay.objects.create(date=dt.date(2100, 1, 1), year=year, kind="holiday", name="元旦")

    # 0.5 h on Thursday 31 December; Friday 1 January a holiday, then a weekend; 7 h on Monday
    assert load_calendar().add_working_days(at(2099, 12, 31, 17), 1) == at(2100, 1, 4, 17)


def test_every_year_of_the_century_has_a_stored_calendar_with_its_source():
    sources = dict(CalendarYear.objects.values_list("year", "source"))
    assert set(range(2000, 2100)) <= set(sources)
    assert {sources[y] for y in range(2004, 2027)} == {CalendarYear.Source.OFFICIAL}
    # 2001-2003: notices the holidays package transcribed and chinesecalendar lacks
    assert {sources[y] for y in (2001, 2002, 2003)} == {CalendarYear.Source.HOLIDAYS}
    assert {sources[y] for y in range(2027, 2100)} == {CalendarYear.Source.PROVISIONAL}


def test_a_deadline_crossing_from_2026_into_2027(calendar):
    # Thursday 31 December 2026, 16:30: 1 h that day; 1 January 2027 (Friday) is
    # New Year's Day, then a weekend; the rest from Monday 4 January.
    assert calendar.add_working_days(at(2026, 12, 31, 16, 30), 1) == at(2027, 1, 4, 16, 30)
    # Ten working days from Monday 21 December: eight in 2026, then 4 and 5 January.
    assert calendar.add_working_days(at(2026, 12, 21, 9), 10) == at(2027, 1, 5, 9)


def test_a_deadline_in_a_provisional_year(calendar):
    # 2030: Spring Festival eve Saturday 2 February, days 1-3 on 3-5 February;
    # the eve and day 1 fall on the weekend and are made up on 6 and 7 February.
    assert not calendar.is_working_day(dt.date(2030, 2, 6))
    assert not calendar.is_working_day(dt.date(2030, 2, 7))
    assert calendar.is_working_day(dt.date(2030, 2, 8))
    # Friday 1 February 16:30: 1 h, then nothing until Friday 8 February (6.5 h)
    assert calendar.add_working_days(at(2030, 2, 1, 16, 30), 1) == at(2030, 2, 8, 16, 30)


def test_deadlines_never_lack_a_calendar_in_the_century(calendar):
    for year in range(2027, 2100):
        start = at(year, 12, 31, 17) if year < 2099 else at(year, 12, 1, 9)
        assert calendar.add_working_days(start, 1) > start


def test_a_deleted_year_is_computed_on_loading_rather_than_refused():
    CalendarYear.objects.filter(year=2040).delete()

    calendar = load_calendar()

    assert not calendar.is_working_day(dt.date(2040, 10, 1))
    assert calendar.is_working_day(dt.date(2040, 10, 8))


def test_official_reload_keeps_years_entered_by_hand():
    CalendarYear.objects.filter(year=2026).update(source=CalendarYear.Source.MANUAL)
    CalendarDay.objects.filter(date=dt.date(2026, 2, 14)).delete()
    CalendarYear.objects.filter(year=2025).update(source=CalendarYear.Source.PROVISIONAL)

    loaded = calendar_load()

    assert loaded == {2025: CalendarYear.Source.OFFICIAL}
    assert CalendarYear.objects.get(year=2026).source == CalendarYear.Source.MANUAL
    assert not CalendarDay.objects.filter(date=dt.date(2026, 2, 14)).exists()


def test_a_load_never_replaces_a_year_by_a_worse_source():
    CalendarYear.objects.filter(year=2030).update(source=CalendarYear.Source.OFFICIAL)
    CalendarDay.objects.filter(year_id=2030).delete()

    assert calendar_load(years=[2030]) == {}
    assert not CalendarDay.objects.filter(year_id=2030).exists()


def test_load_command_stores_a_year_from_its_best_source():
    CalendarYear.objects.filter(year=2031).delete()
    out = io.StringIO()

    call_command("load_holiday_calendar", "2031", stdout=out)

    assert "2031: provisional" in out.getvalue()
    assert CalendarYear.objects.get(year=2031).is_provisional
    assert CalendarDay.objects.filter(year_id=2031, date=dt.date(2031, 10, 1)).exists()


def test_load_command_refuses_years_outside_the_century():
    with pytest.raises(CommandError, match="2100"):
        call_command("load_holiday_calendar", "2100")
