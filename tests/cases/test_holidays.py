"""Where calendar years come from (cases.holidays), and what loading a better
source over a provisional year does to the open deadlines that run through it."""

import dataclasses
import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils.dateparse import parse_datetime

from cases import holidays, sweep, tasks
from cases.holidays import calendar_load, official_schedule, provisional_schedule
from cases.models import CalendarDay, CalendarYear, Case, CaseEvent, Category
from tests.cases.conftest import report

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(y, m, d, hh=0, mm=0):
    return dt.datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def weekdays_off(schedule) -> set[dt.date]:
    return {d for d in schedule.holidays if d.weekday() < 5 and d not in schedule.workdays}


# --- The provisional rule ----------------------------------------------------------------


@pytest.mark.parametrize("year", [2025, 2026])
def test_the_provisional_weekdays_off_are_all_official_ones(year):
    official, provisional = official_schedule(year), provisional_schedule(year)
    assert len(weekdays_off(provisional)) == 13
    # The official schedule adds bridging days, paid for by make-up Saturdays.
    assert weekdays_off(provisional) < weekdays_off(official)
    assert all(day in official.holidays for day, _name in holidays.statutory_days(year))


@pytest.mark.parametrize("year", range(2027, 2100))
def test_a_provisional_year_has_its_13_weekdays_off(year):
    schedule = provisional_schedule(year)
    assert len(weekdays_off(schedule)) == 13
    assert schedule.workdays == {}


def test_a_statutory_day_on_a_weekend_is_made_up_on_the_next_free_weekday():
    # 2027: Spring Festival eve Friday 5 February, days 1-3 Saturday 6 to Monday 8
    schedule = provisional_schedule(2027)
    assert schedule.holidays[dt.date(2027, 2, 5)] == "春节"
    assert schedule.holidays[dt.date(2027, 2, 8)] == "春节"
    assert schedule.holidays[dt.date(2027, 2, 9)] == "春节补休"
    assert schedule.holidays[dt.date(2027, 2, 10)] == "春节补休"
    assert dt.date(2027, 2, 11) not in schedule.holidays


def test_mid_autumn_on_national_day_is_made_up_as_well():
    # 2028: Mid-Autumn is Tuesday 3 October, also National Day's third day.
    schedule = provisional_schedule(2028)
    assert schedule.holidays[dt.date(2028, 10, 3)] == "中秋、国庆节"
    assert {dt.date(2028, 10, 4), dt.date(2028, 10, 5)} <= set(schedule.holidays)


# --- An official year replaces a provisional one --------------------------------------------


@pytest.fixture
def official_2027(monkeypatch):
    """The State Council publishes 2027: 4 January bridges New Year's Day to
    the weekend, made up on Saturday 9 January."""
    provisional = provisional_schedule(2027)
    published = dataclasses.replace(
        provisional,
        source=holidays.OFFICIAL,
        holidays={**provisional.holidays, dt.date(2027, 1, 4): "元旦"},
        workdays={dt.date(2027, 1, 9): "元旦"},
    )
    real = holidays.official_schedule
    monkeypatch.setattr(
        holidays, "official_schedule", lambda year: published if year == 2027 else real(year)
    )
    return published


def test_an_official_year_replaces_the_provisional_one_and_moves_the_deadlines_in_it(
    world, official_2027, django_capture_on_commit_callbacks
):
    assert CalendarYear.objects.get(year=2027).is_provisional
    # 2 working hours from Thursday 31 December 17:00: 0.5 h, then 1.5 h on Monday 4th
    crossing = report(world, now=at(2026, 12, 31, 17))
    assert crossing.due_at == at(2027, 1, 4, 10)
    earlier = report(world, now=at(2026, 12, 30, 9))  # due and done within 2026
    later = report(world, now=at(2027, 3, 1, 9))  # in 2027, on days that do not change
    emergency = Category.objects.get(code="SJ0401")  # natural minutes: no calendar
    natural = report(world, category=emergency, now=at(2027, 1, 4, 9))
    cases = [crossing, earlier, later, natural]
    before = {
        c.pk: (c.due_at, c.yellow_at, c.version)
        for c in Case.objects.filter(pk__in=[c.pk for c in cases])
    }
    events = CaseEvent.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        loaded = calendar_load(now=at(2026, 12, 31, 18))

    assert loaded == {2027: CalendarYear.Source.OFFICIAL}
    year = CalendarYear.objects.get(year=2027)
    assert year.source == CalendarYear.Source.OFFICIAL and not year.is_provisional
    assert CalendarDay.objects.get(date=dt.date(2027, 1, 9)).kind == CalendarDay.Kind.WORKDAY
    # Monday 4 January is now a holiday: the 1.5 h move to Tuesday 5th.
    moved = Case.objects.get(pk=crossing.pk)
    assert moved.due_at == at(2027, 1, 5, 10)
    assert moved.yellow_at > before[crossing.pk][1]
    assert moved.version == before[crossing.pk][2] + 1
    event = CaseEvent.objects.get(action="deadline_moved")
    assert event.case_id == crossing.pk and event.actor is None
    assert event.payload["years"] == [2027]
    assert parse_datetime(event.payload["previous_due_at"]) == at(2027, 1, 4, 10)
    assert parse_datetime(event.payload["due_at"]) == at(2027, 1, 5, 10)
    assert CaseEvent.objects.count() == events + 1
    for case in (earlier, later, natural):
        stored = Case.objects.get(pk=case.pk)
        assert (stored.due_at, stored.yellow_at, stored.version) == before[case.pk]

    # Loading again changes nothing and records nothing.
    assert calendar_load(now=at(2026, 12, 31, 19)) == {}
    assert CaseEvent.objects.count() == events + 1


def test_a_case_whose_new_deadline_is_past_stays_for_the_sweep(world, official_2027):
    case = report(world, now=at(2026, 12, 31, 17))

    calendar_load(now=at(2027, 1, 6, 9))

    moved = Case.objects.get(pk=case.pk)
    assert moved.due_at == at(2027, 1, 5, 10)
    assert moved.light == "green"  # the next sweep turns it red, with its own event

    sweep.sla_sweep(now=at(2027, 1, 6, 9))

    [red] = CaseEvent.objects.filter(case=case, action="sla_red")
    assert parse_datetime(red.payload["due_at"]) == at(2027, 1, 5, 10)


def test_a_year_edited_by_an_administrator_is_not_replaced(world, official_2027):
    CalendarYear.objects.filter(year=2027).update(source=CalendarYear.Source.MANUAL)
    case = report(world, now=at(2026, 12, 31, 17))

    assert calendar_load() == {}

    assert Case.objects.get(pk=case.pk).due_at == at(2027, 1, 4, 10)
    assert not CaseEvent.objects.filter(action="deadline_moved").exists()


def test_the_beat_task_loads_a_newly_published_year(settings, official_2027):
    entry = settings.CELERY_BEAT_SCHEDULE["cases-calendar-load"]
    assert entry["task"] == tasks.calendar_load.name

    assert tasks.calendar_load.apply().get() == {"2027": "official"}
    assert tasks.calendar_load.apply().get() == {}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_loads_at_once_store_a_missing_year_once():
    CalendarYear.objects.filter(year=2040).delete()
    barrier = threading.Barrier(2)
    results, errors = [None, None], []

    def run(i):
        try:
            barrier.wait(timeout=10)
            results[i] = calendar_load(years=[2040])
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert not errors, errors
    assert sorted(results, key=len) == [{}, {2040: CalendarYear.Source.PROVISIONAL}]
    expected = provisional_schedule(2040).holidays
    assert dict(CalendarDay.objects.filter(year_id=2040).values_list("date", "name")) == expected
