"""Working time: what counts towards a deadline measured in working hours or
working days.

A day is a working day when it is a make-up working day (调休), or a Monday
to Friday that is not a public holiday. On a working day the clock runs
during the working periods (by default 08:30-12:00 and 13:30-17:30, 7.5
hours) in the city's time zone, and stands still otherwise: over lunch,
overnight, at weekends and on holidays.

Every year of ``holidays.CALENDAR_YEARS`` (2000-2099) has a calendar, stored
or, when its row is missing, computed from the best source on loading. A
year outside that range has unknown holidays, so any computation that
touches it raises ``CalendarMissing`` rather than guess.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.translation import gettext as _

from core.errors import DomainError

MAX_SPAN_DAYS = 3 * 366  # no deadline runs further than this


class CalendarMissing(DomainError, LookupError):
    """A service is unavailable until an administrator adds the year (503)."""

    code = "calendar_missing"
    status = 503

    def __init__(self, year: int):
        self.year = year
        super().__init__(
            _(
                "There is no working calendar for %(year)s: an administrator must add the "
                "year's public holidays and make-up working days before deadlines in it "
                "can be computed."
            )
            % {"year": year}
        )


@dataclass(frozen=True)
class WorkingCalendar:
    periods: tuple[tuple[dt.time, dt.time], ...]
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]
    years: frozenset[int]
    tz: dt.tzinfo

    def __post_init__(self):
        if not self.periods:
            raise ValueError("a working calendar needs at least one working period")
        for (s1, e1), (s2, _e2) in zip(self.periods, self.periods[1:], strict=False):
            if s2 < e1:
                raise ValueError(f"working periods overlap: {s1}-{e1} and {s2}")

    @property
    def minutes_per_day(self) -> float:
        return sum(_minutes_between_times(s, e) for s, e in self.periods)

    def is_working_day(self, day: dt.date) -> bool:
        if day.year not in self.years:
            raise CalendarMissing(day.year)
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def _periods_on(self, day: dt.date):
        for start, end in self.periods:
            yield (
                dt.datetime.combine(day, start, tzinfo=self.tz),
                dt.datetime.combine(day, end, tzinfo=self.tz),
            )

    def add_working_minutes(self, start: dt.datetime, minutes: float) -> dt.datetime:
        """The moment ``minutes`` of working time after ``start``."""
        if minutes < 0:
            raise ValueError("minutes must not be negative")
        moment = start.astimezone(self.tz)
        remaining = dt.timedelta(minutes=minutes)
        day = moment.date()
        for _offset in range(MAX_SPAN_DAYS):
            if self.is_working_day(day):
                for period_start, period_end in self._periods_on(day):
                    if moment >= period_end:
                        continue
                    begin = max(moment, period_start)
                    available = period_end - begin
                    if remaining <= available:
                        return begin + remaining
                    remaining -= available
            day += dt.timedelta(days=1)
            moment = dt.datetime.combine(day, dt.time.min, tzinfo=self.tz)
        raise ValueError(f"{minutes} working minutes run past {MAX_SPAN_DAYS} days")

    def add_working_days(self, start: dt.datetime, days: float) -> dt.datetime:
        """``days`` full working days of working time after ``start``: the same
        clock time ``days`` working days later when ``start`` is in working
        time, the end of the last day's work when it is not."""
        return self.add_working_minutes(start, days * self.minutes_per_day)

    def working_minutes_between(self, start: dt.datetime, end: dt.datetime) -> float:
        """Working minutes in [start, end); 0 when end is not after start."""
        if end <= start:
            return 0.0
        start, end = start.astimezone(self.tz), end.astimezone(self.tz)
        total = dt.timedelta()
        day = start.date()
        while day <= end.date():
            if self.is_working_day(day):
                for period_start, period_end in self._periods_on(day):
                    overlap = min(end, period_end) - max(start, period_start)
                    if overlap > dt.timedelta():
                        total += overlap
            day += dt.timedelta(days=1)
        return total.total_seconds() / 60


def _minutes_between_times(start: dt.time, end: dt.time) -> float:
    anchor = dt.date(2000, 1, 1)
    return (dt.datetime.combine(anchor, end) - dt.datetime.combine(anchor, start)).seconds / 60


def load_calendar() -> WorkingCalendar:
    """The working calendar as stored (periods, holidays, make-up days, years);
    a year of the century without a stored row (deleted, or not loaded yet) is
    computed from its best source, so no deadline in it is ever refused."""
    from .holidays import CALENDAR_YEARS, best_schedule
    from .models import CalendarDay, CalendarYear, WorkingPeriod

    days = list(CalendarDay.objects.values_list("date", "kind"))
    holidays = {d for d, kind in days if kind == CalendarDay.Kind.HOLIDAY}
    workdays = {d for d, kind in days if kind == CalendarDay.Kind.WORKDAY}
    years = set(CalendarYear.objects.values_list("year", flat=True))
    for year in set(CALENDAR_YEARS) - years:
        schedule = best_schedule(year)
        holidays.update(schedule.holidays)
        workdays.update(schedule.workdays)
        years.add(year)
    return WorkingCalendar(
        periods=tuple(WorkingPeriod.objects.order_by("start").values_list("start", "end")),
        holidays=frozenset(holidays),
        workdays=frozenset(workdays),
        years=frozenset(years),
        tz=ZoneInfo(settings.TIME_ZONE),
    )
