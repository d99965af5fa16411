"""Where each year's public holidays and make-up working days come from.

Three sources, best first:

1. ``official``: the chinesecalendar package, which follows the State
   Council's yearly notice (放假安排) with its bridging days and make-up
   working days (调休).
2. ``holidays``: the holidays package, for the years whose notice it has
   transcribed (its substituted days); it often follows a new notice sooner.
3. ``provisional``: computed here from the statutory holidays of the 2024
   revision of the State Council's rules (全国年节及纪念日放假办法): New
   Year's Day 1 day, Spring Festival's eve and first 3 days, Qingming,
   Labour Day 2 days, Dragon Boat, Mid-Autumn, National Day 3 days: 13 days.
   A statutory day on a weekend (or on another statutory day) is made up on
   the next weekday that is not already a holiday, so the year keeps its 13
   weekdays off. Bridging days and make-up Saturdays cannot be predicted and
   are left out. Lunar dates and the Qingming solar term come from
   lunar_python.

Every year of ``CALENDAR_YEARS`` has a calendar: migration cases/0007 stores
them, ``calendar_load`` (the daily beat task and ``load_holiday_calendar``)
replaces a year when a better source has it, and a year missing from the
table is computed on the fly (``working_time.load_calendar``). A year an
administrator edited (``manual``) is never replaced.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass

import chinese_calendar
import holidays as holidays_package
from chinese_calendar.constants import Holiday
from django.db import transaction
from django.utils import timezone
from holidays.countries.china import ChinaStaticHolidays
from lunar_python import Lunar

from .deadlines import forget_calendar
from .models import CalendarDay, CalendarYear
from .sweep import deadlines_replace

CALENDAR_YEARS = range(2000, 2100)

OFFICIAL, HOLIDAYS, PROVISIONAL = "official", "holidays", "provisional"
# Higher is better; a load never replaces a year by a worse source.
RANK = {PROVISIONAL: 1, HOLIDAYS: 2, OFFICIAL: 3}

_CHINESE_NAMES = {holiday.value: holiday.chinese for holiday in Holiday}
MAKE_UP_WORKDAY = "调休上班"
_ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Schedule:
    """One year's exceptions to the Monday-to-Friday week, and their source."""

    year: int
    source: str
    holidays: dict[dt.date, str]
    workdays: dict[dt.date, str]


# --- The sources ----------------------------------------------------------------------


@functools.cache
def official_years() -> frozenset[int]:
    return frozenset(day.year for day in chinese_calendar.holidays)


def official_schedule(year: int) -> Schedule | None:
    if year not in official_years():
        return None
    return Schedule(
        year=year,
        source=OFFICIAL,
        holidays={
            day: _CHINESE_NAMES.get(name, name)
            for day, name in chinese_calendar.holidays.items()
            if day.year == year
        },
        workdays={
            day: _CHINESE_NAMES.get(name, name)
            for day, name in chinese_calendar.workdays.items()
            if day.year == year
        },
    )


def holidays_package_schedule(year: int) -> Schedule | None:
    """The holidays package's year, only when it has transcribed that year's
    notice: for other years it estimates them by a rule of its own."""
    if year not in ChinaStaticHolidays.special_public_holidays:
        return None
    # A notice may make a day of the previous December a working day: ask for
    # the next year too and keep this year's days.
    days = holidays_package.China(years=(year, year + 1), language="zh_CN")
    return Schedule(
        year=year,
        source=HOLIDAYS,
        holidays={day: name for day, name in days.items() if day.year == year},
        workdays={day: MAKE_UP_WORKDAY for day in days.weekend_workdays if day.year == year},
    )


def statutory_days(year: int) -> list[tuple[dt.date, str]]:
    """The 13 statutory public holidays of ``year`` (2024 revision)."""

    def lunar(month: int, day: int) -> dt.date:
        solar = Lunar.fromYmd(year, month, day).getSolar()
        return dt.date(solar.getYear(), solar.getMonth(), solar.getDay())

    spring = lunar(1, 1)
    qingming = Lunar.fromYmd(year, 3, 1).getJieQiTable()["清明"]
    return [
        (dt.date(year, 1, 1), "元旦"),
        *((spring + offset * _ONE_DAY, "春节") for offset in range(-1, 3)),
        (dt.date(qingming.getYear(), qingming.getMonth(), qingming.getDay()), "清明"),
        (dt.date(year, 5, 1), "劳动节"),
        (dt.date(year, 5, 2), "劳动节"),
        (lunar(5, 5), "端午"),
        (lunar(8, 15), "中秋"),
        *((dt.date(year, 10, day), "国庆节") for day in (1, 2, 3)),
    ]


def provisional_schedule(year: int) -> Schedule:
    statutory = sorted(statutory_days(year))
    reserved = {day for day, _name in statutory}
    days: dict[dt.date, str] = {}
    for day, name in statutory:
        if day.weekday() < 5 and day not in days:
            days[day] = name
            continue
        if name not in days.get(day, ""):
            days[day] = f"{days[day]}、{name}" if day in days else name
        substitute = day + _ONE_DAY
        while substitute.weekday() >= 5 or substitute in days or substitute in reserved:
            substitute += _ONE_DAY
        days[substitute] = f"{name}补休"
    return Schedule(year=year, source=PROVISIONAL, holidays=days, workdays={})


def best_schedule(year: int) -> Schedule:
    return official_schedule(year) or holidays_package_schedule(year) or provisional_schedule(year)


# --- A year still provisional ----------------------------------------------------------

# From this day (month, day) on, a next year that is still provisional is
# flagged to administrators: the State Council usually publishes in November.
WARN_FROM = (10, 1)


def provisional_year_ahead(*, today: dt.date | None = None) -> int | None:
    """Next year, when it is ``WARN_FROM`` or later and next year's calendar is
    only provisional; else None."""
    today = today or timezone.localdate()
    if (today.month, today.day) < WARN_FROM:
        return None
    year = today.year + 1
    source = CalendarYear.objects.filter(year=year).values_list("source", flat=True).first()
    return year if source in (None, PROVISIONAL) else None


# --- Storing years -------------------------------------------------------------------


def calendar_load(
    *, years: Iterable[int] | None = None, now: dt.datetime | None = None
) -> dict[int, str]:
    """Store the best schedule available for ``years`` (default: every year of
    ``CALENDAR_YEARS``). A year an administrator edited is kept, and a year is
    never replaced by a worse source. When a stored year's days change (an
    official year replaces a provisional one), the open deadlines that run
    through it are placed again (``sweep.deadlines_replace``), one event per
    case whose deadline moved. Returns ``{year: source}`` of the years stored.

    Safe when two processes load at once: the year rows are created with ON
    CONFLICT DO NOTHING and then locked, so the second waits and finds the
    days already there."""
    wanted = sorted(set(CALENDAR_YEARS if years is None else years))
    schedules = {year: best_schedule(year) for year in wanted}
    with transaction.atomic():
        existing = set(CalendarYear.objects.filter(year__in=wanted).values_list("year", flat=True))
        CalendarYear.objects.bulk_create(
            [CalendarYear(year=y, source=schedules[y].source) for y in wanted if y not in existing],
            ignore_conflicts=True,
        )
        stored = dict(
            CalendarYear.objects.select_for_update()
            .filter(year__in=wanted)
            .values_list("year", "source")
        )
        days: dict[int, set] = {year: set() for year in wanted}
        for day in CalendarDay.objects.filter(year_id__in=wanted):
            days[day.year_id].add((day.date, day.kind, day.name))
        loaded = {}
        for year, schedule in schedules.items():
            source = stored[year]
            if source == CalendarYear.Source.MANUAL or RANK.get(source, 0) > RANK[schedule.source]:
                continue
            if source != schedule.source or days[year] != _rows(schedule):
                loaded[year] = schedule.source
        CalendarDay.objects.filter(year_id__in=loaded).delete()
        CalendarDay.objects.bulk_create(
            CalendarDay(date=date, year_id=year, kind=kind, name=name)
            for year in loaded
            for date, kind, name in sorted(_rows(schedules[year]))
        )
        for source in set(loaded.values()):
            CalendarYear.objects.filter(
                year__in=[y for y, s in loaded.items() if s == source]
            ).update(source=source, loaded_at=now or timezone.now())
        # Bulk writes send no signal: this process reloads its calendar now.
        forget_calendar()
        transaction.on_commit(forget_calendar)
        changed = [year for year in loaded if year in existing]
        if changed:
            deadlines_replace(years=changed, now=now or timezone.now())
    return loaded


def calendar_year_edited(*, year: int, now: dt.datetime | None = None) -> int:
    """An administrator changed ``year``'s days: the year is theirs from now
    on (no load replaces it), and the open deadlines running through it are
    placed again. Returns the number of cases whose deadline moved."""
    with transaction.atomic():
        CalendarYear.objects.filter(year=year).update(
            source=CalendarYear.Source.MANUAL, loaded_at=now or timezone.now()
        )
        forget_calendar()
        transaction.on_commit(forget_calendar)
        return deadlines_replace(years=[year], now=now or timezone.now())


def _rows(schedule: Schedule) -> set[tuple[dt.date, str, str]]:
    return {(d, "holiday", name) for d, name in schedule.holidays.items()} | {
        (d, "workday", name) for d, name in schedule.workdays.items()
    }
