"""Stage deadlines: which limit applies, when a stage turns yellow and red,
and how suspension and extensions move them.

A stage's limit is held in minutes on its clock: natural minutes, or working
minutes on the working calendar (working hours times 60, working days times
the working minutes of a day). While the case is suspended the clock stops; the
minutes it stood still are added to ``stage_paused``. Then, for both clocks,

    due_at    = start + (limit + paused)              on the stage's clock
    yellow_at = start + (80% of limit + paused)

which the sweep compares with now through two partial indexes. While
suspended, both are empty: nothing can turn yellow or red.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings

from core.config_cache import ConfigCache

from .models import (
    STAGE_OF_STATUS,
    CalendarDay,
    CalendarYear,
    Case,
    Clock,
    Light,
    SlaRule,
    Stage,
    TimeUnit,
    WorkingPeriod,
)
from .working_time import WorkingCalendar, load_calendar

# --- Configuration, cached per process (core.config_cache) ---------------------

_calendar = ConfigCache(load_calendar, models=[CalendarDay, CalendarYear, WorkingPeriod])


def current_calendar() -> WorkingCalendar:
    """The stored calendar; reloaded after an edit in this process, and at
    most CONFIG_CACHE_SECONDS late for edits made in another."""
    return _calendar.get()


def forget_calendar() -> None:
    """Reload the calendar on next use (after a bulk write, which sends no signal)."""
    _calendar.clear()


# --- Limits ------------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    amount: int
    unit: TimeUnit

    @property
    def clock(self) -> Clock:
        return Clock.NATURAL if self.unit == TimeUnit.NATURAL_MINUTES else Clock.WORKING

    def clock_minutes(self, calendar: WorkingCalendar) -> float:
        if self.unit == TimeUnit.WORKING_DAYS:
            return self.amount * calendar.minutes_per_day
        if self.unit == TimeUnit.WORKING_HOURS:
            return self.amount * 60.0
        return float(self.amount)


def _load_limits() -> dict[tuple[int | None, str, str], Limit]:
    rules = SlaRule.objects.values_list("category_id", "urgency", "stage", "amount", "unit")
    return {(c, u, s): Limit(amount, TimeUnit(unit)) for c, u, s, amount, unit in rules}


_limits = ConfigCache(_load_limits, models=[SlaRule])


def limit_for(*, category_id: int | None, urgency: str, stage: Stage) -> Limit:
    """The most specific rule: category and urgency, category, urgency, default;
    then the settings' default."""
    rules = _limits.get()
    for key in (
        (category_id, urgency, stage),
        (category_id, "", stage),
        (None, urgency, stage),
        (None, "", stage),
    ):
        if (limit := rules.get(key)) is not None:
            return limit
    amount, unit = settings.CASES_DEFAULT_SLA[stage]
    return Limit(amount, TimeUnit(unit))


# --- Moving the clock --------------------------------------------------------------


def add_clock(calendar: WorkingCalendar, clock: str, start: dt.datetime, minutes: float):
    if clock == Clock.NATURAL:
        return start + dt.timedelta(minutes=minutes)
    return calendar.add_working_minutes(start, minutes)


def clock_between(calendar: WorkingCalendar, clock: str, start: dt.datetime, end: dt.datetime):
    if clock == Clock.NATURAL:
        return max((end - start).total_seconds() / 60, 0.0)
    return calendar.working_minutes_between(start, end)


def _place(case: Case, calendar: WorkingCalendar) -> None:
    """Set yellow_at and due_at from the start, limit and paused minutes."""
    share = settings.CASES_YELLOW_SHARE
    start, clock = case.stage_started_at, case.stage_clock
    case.due_at = add_clock(calendar, clock, start, case.stage_limit + case.stage_paused)
    case.yellow_at = add_clock(calendar, clock, start, share * case.stage_limit + case.stage_paused)


def stage_start(
    case: Case,
    *,
    now: dt.datetime,
    calendar: WorkingCalendar | None = None,
    stage: Stage | None = None,
) -> None:
    """Start the deadline of the stage the case's status is in (none when
    final), or of ``stage``: the command centre's answer to a reopen request
    on a closed case is due within the register stage's limit."""
    stage = stage or STAGE_OF_STATUS.get(case.status)
    case.stage_seq += 1
    case.suspended_at = None
    case.stage_paused = 0.0
    if stage is None:
        case.stage, case.stage_unit, case.stage_clock = "", "", ""
        case.stage_started_at = case.yellow_at = case.due_at = None
        case.stage_limit = 0.0
        case.light = ""
        return
    calendar = calendar or current_calendar()
    limit = limit_for(category_id=case.category_id, urgency=case.urgency, stage=stage)
    case.stage, case.stage_unit, case.stage_clock = stage, limit.unit, limit.clock
    case.stage_started_at = now
    case.stage_limit = limit.clock_minutes(calendar)
    case.light = Light.GREEN
    _place(case, calendar)


def stage_pause(case: Case, *, now: dt.datetime) -> None:
    case.suspended_at = now
    case.yellow_at = case.due_at = None


def stage_resume(case: Case, *, now: dt.datetime, calendar: WorkingCalendar | None = None):
    calendar = calendar or current_calendar()
    if case.suspended_at is not None:
        case.stage_paused += clock_between(calendar, case.stage_clock, case.suspended_at, now)
    case.suspended_at = None
    _place(case, calendar)


def stage_replace(case: Case, *, now: dt.datetime, calendar: WorkingCalendar | None = None) -> None:
    """Recompute the due times after the limit changed (an approved extension).
    A yellow light goes back to green if the new yellow time is ahead; the
    deadline then counts as a new one (``stage_seq``) so that crossing yellow
    again is recorded again. Red stays red: the stage was overdue."""
    if case.suspended_at is None and case.stage_started_at is not None:
        _place(case, calendar or current_calendar())
        if case.light == Light.YELLOW and case.yellow_at > now:
            case.light = Light.GREEN
            case.stage_seq += 1


def extension_minutes(case: Case, amount: int, calendar: WorkingCalendar | None = None) -> float:
    """``amount`` in the current stage's unit, as minutes on its clock."""
    return Limit(amount, TimeUnit(case.stage_unit)).clock_minutes(calendar or current_calendar())


def light_now(case: Case, *, now: dt.datetime) -> str:
    """The light as of ``now`` (the stored one may lag the sweep by a minute)."""
    return light_at(case.light, case.due_at, case.yellow_at, now)


def light_at(light: str, due_at, yellow_at, now: dt.datetime) -> str:
    """``light_now`` of a case with this stored light and these deadlines."""
    if not light or light == Light.RED or due_at is None:
        return light
    if now >= due_at:
        return Light.RED
    if yellow_at is not None and now >= yellow_at:
        return Light.YELLOW
    return light
