"""The deadline sweep: turn lights yellow and red as stages cross 80% and 100%
of their limit, record it, publish it, and apply the overdue policy.

It selects through two partial indexes (green cases by ``yellow_at``, green
or yellow cases by ``due_at``), in batches, each batch one transaction that
locks its rows with ``FOR UPDATE SKIP LOCKED``. So:

* a re-run changes nothing: a marked case no longer matches its index;
* two sweeps at once split the work: rows one has locked the other skips,
  and a row it waited for no longer matches once it is marked;
* as a last guard, each threshold event carries a unique key
  (case, stage number, colour), so a second event for the same crossing
  cannot be stored.

Red is swept before yellow: a case that crossed both since the last sweep
is marked red once, not yellow then red. Then reminders and supervision
orders still open past their own deadline are marked overdue
(cases.directive_sweep). Overdue policy per stage
(``OverduePolicy``): escalate a case still with a command centre one level
up, or issue a supervision order (督办) to the department; applied once per
red crossing, in the same transaction. An escalated case starts a new
dispatch deadline at the centre above.

One run at a time: a run holds a PostgreSQL advisory lock for its whole
length, and a run that cannot take it (the last one is still going: beat
fires every minute) stops at once and changes nothing. The lock is the
session's, so a worker that dies lets go of it with its connection.

Each batch's events are inserted in one statement and published after its
commit in one go (cases.bulk_events); people hear of them in one
digest per run: ``sweep_finished`` is sent once the run has committed its
batches (notifications.services).
"""

from __future__ import annotations

import datetime as dt
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from grids.models import Level

from . import deadlines
from .bulk_events import CASE_FIELDS, DEADLINE_FIELDS, record_events, stage_event
from .deadlines import current_calendar
from .directive_sweep import directives_sweep_batch
from .models import (
    OPEN_STATUSES,
    Case,
    CaseDirective,
    Clock,
    DirectiveKind,
    Light,
    OverdueAction,
    OverduePolicy,
    Status,
)
from .publishing import sweep_finished
from .working_time import CalendarMissing, load_calendar

logger = logging.getLogger(__name__)

# pg_try_advisory_lock key of a running sweep: 'swep' in ASCII.
SWEEP_LOCK = 0x73776570

# Cases still with a command centre: overdue, they climb a level (per the
# stage's policy). A tip out for verification is the centre's too: it sent
# it, and only it can take it back (recall_verification).
COMMAND_CENTRE_STATUSES = (Status.REPORTED, Status.VERIFYING, Status.REGISTERED, Status.RETURNED)


@dataclass
class SweepResult:
    yellow: int = 0
    red: int = 0
    escalated: int = 0
    supervised: int = 0
    directives_overdue: int = 0
    batches: int = 0
    # True when another run held the lock and this one did nothing.
    skipped: bool = False
    events: list[int] = field(default_factory=list, repr=False)


@dataclass
class _Run:
    """What one sweep reads once and shares between its batches."""

    now: dt.datetime
    batch: int
    policy: dict
    hours: dict
    calendar: object = None


def sla_sweep(*, now: dt.datetime | None = None, batch: int | None = None) -> SweepResult:
    with _alone() as alone:
        if not alone:
            logger.info("deadline sweep: the previous run is still going; this one stops")
            return SweepResult(skipped=True)
        run = _Run(
            now=now or timezone.now(),
            batch=batch or settings.CASES_SWEEP_BATCH,
            policy=dict(OverduePolicy.objects.values_list("stage", "on_red")),
            hours=dict(OverduePolicy.objects.values_list("stage", "order_working_hours")),
        )
        result = SweepResult()
        while _sweep_batch(Light.RED, run, result) == run.batch:
            pass
        while _sweep_batch(Light.YELLOW, run, result) == run.batch:
            pass
        while _directives(run, result) == run.batch:
            pass
        for receiver, error in sweep_finished.send_robust(sender=Case, result=result):
            if isinstance(error, Exception):
                logger.error("deadline sweep: %r failed after the run", receiver, exc_info=error)
        return result


@contextmanager
def _alone():
    """Whether this run holds the sweep's lock (then for as long as it runs)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [SWEEP_LOCK])
        (held,) = cursor.fetchone()
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [SWEEP_LOCK])


def _restart(case: Case, now, calendar) -> None:
    """A new dispatch deadline at the centre above: if it runs out too, the
    case climbs again, up to the city. Without a calendar for the year the
    case stays red where it is, and the missing year is logged, rather than
    failing the batch on every run."""
    saved = {name: getattr(case, name) for name in DEADLINE_FIELDS}
    try:
        deadlines.stage_start(case, now=now, calendar=calendar)
    except CalendarMissing as exc:
        logger.error("deadline sweep: case %s keeps its deadline: %s", case.number, exc)
        for name, value in saved.items():
            setattr(case, name, value)


def _order_due(now, minutes: float, calendar) -> dt.datetime:
    try:
        return calendar.add_working_minutes(now, minutes)
    except CalendarMissing as exc:
        logger.error("deadline sweep: supervision order due in natural time: %s", exc)
        return now + dt.timedelta(minutes=minutes)


def _sweep_batch(light: str, run: _Run, result: SweepResult) -> int:
    now = run.now
    with transaction.atomic():
        if light == Light.RED:
            due = Case.objects.filter(
                light__in=[Light.GREEN, Light.YELLOW], due_at__isnull=False, due_at__lte=now
            ).order_by("due_at")
        else:
            due = Case.objects.filter(
                light=Light.GREEN, yellow_at__isnull=False, yellow_at__lte=now
            ).order_by("yellow_at")
        cases = list(due.select_for_update(skip_locked=True).only(*CASE_FIELDS)[: run.batch])
        if not cases:
            return 0
        result.batches += 1
        events, directives = [], []
        escalated = supervised = 0
        for case in cases:
            # Events are keyed by the deadline that was crossed.
            events.append(
                stage_event(case, f"sla_{light}", now, light, stage=case.stage, due_at=case.due_at)
            )
            case.light = light
            case.version += 1
            if light != Light.RED:
                continue
            case.overdue_count += 1
            action = run.policy.get(case.stage, OverdueAction.NONE)
            if (
                action == OverdueAction.ESCALATE
                and case.status in COMMAND_CENTRE_STATUSES
                and case.command_level > Level.CITY
            ):
                event = stage_event(
                    case, "escalated", now, "escalate",
                    from_level=case.command_level, to_level=case.command_level - 1,
                    reason="overdue", automatic=True,
                )  # fmt: skip
                case.command_level -= 1
                case.version += 1
                _restart(case, now, _calendar(run))
                event.payload["due_at"] = case.due_at
                events.append(event)
                escalated += 1
            elif (
                action == OverdueAction.SUPERVISE
                and not case.is_supervised
                and case.status in OPEN_STATUSES
            ):
                # A closed case late only in answering a reopen request is
                # the command centre's: no order to a department.
                minutes = 60 * run.hours.get(case.stage, 8)
                due_at = _order_due(now, minutes, _calendar(run))
                case.is_supervised = True
                case.version += 1
                directives.append(
                    CaseDirective(
                        case=case,
                        kind=DirectiveKind.SUPERVISION,
                        message="overdue",
                        due_at=due_at,
                        created_at=now,
                    )
                )
                events.append(
                    stage_event(
                        case, "supervision_ordered", now, "supervise",
                        due_at=due_at, reason="overdue", automatic=True,
                    )
                )  # fmt: skip
                supervised += 1
        _write(cases, now)
        CaseDirective.objects.bulk_create(directives)
        record_events(events)
        result.events.extend(e.pk for e in events)
        if light == Light.RED:
            result.red += len(cases)
        else:
            result.yellow += len(cases)
        result.escalated += escalated
        result.supervised += supervised
        return len(cases)


def _directives(run: _Run, result: SweepResult) -> int:
    events = directives_sweep_batch(now=run.now, batch=run.batch)
    if events:
        result.batches += 1
        result.events.extend(e.pk for e in events)
        result.directives_overdue += len(events)
    return len(events)


def _calendar(run: _Run):
    if run.calendar is None:
        run.calendar = current_calendar()
    return run.calendar


# Written back in one statement per batch: each case row is rewritten once.
_WRITE_COLUMNS = (
    ("light", "text"), ("version", "int"), ("overdue_count", "int"),
    ("command_level", "smallint"), ("is_supervised", "bool"), ("stage", "text"),
    ("stage_seq", "int"), ("stage_unit", "text"), ("stage_clock", "text"),
    ("stage_started_at", "timestamptz"), ("stage_limit", "float8"),
    ("stage_paused", "float8"), ("yellow_at", "timestamptz"), ("due_at", "timestamptz"),
    ("suspended_at", "timestamptz"),
)  # fmt: skip
_WRITE_SQL = (
    "UPDATE cases_case AS t SET "
    + ", ".join(f"{name} = v.{name}" for name, _type in _WRITE_COLUMNS)
    + ", updated_at = %s FROM unnest(%s::bigint[], "
    + ", ".join(f"%s::{sql_type}[]" for _name, sql_type in _WRITE_COLUMNS)
    + ") AS v(id, "
    + ", ".join(name for name, _type in _WRITE_COLUMNS)
    + ") WHERE t.id = v.id"
)


def _write(cases: list[Case], now: dt.datetime) -> None:
    columns = [[getattr(c, name) for c in cases] for name, _type in _WRITE_COLUMNS]
    with connection.cursor() as cursor:
        cursor.execute(_WRITE_SQL, [now, [c.pk for c in cases], *columns])


# --- After the calendar changed ------------------------------------------------------


def deadlines_replace(*, years: list[int], now: dt.datetime, batch: int = 1000) -> int:
    """Place again the deadlines of open stages on the working clock that run
    through one of ``years``, whose days just changed (``holidays.calendar_load``),
    with the rule every action uses (``deadlines.stage_replace``). Each case
    whose due or yellow time moved gets one ``deadline_moved`` event. A case
    whose new due time is already past is left to the next sweep to turn red.
    Runs in the caller's transaction. Returns the number of cases moved."""
    calendar = load_calendar()
    tz = calendar.tz
    through = Q()
    for year in years:
        start = dt.datetime(year, 1, 1, tzinfo=tz)
        through |= Q(stage_started_at__lt=start.replace(year=year + 1), due_at__gte=start)
    ids = list(
        Case.objects.filter(
            through, stage_clock=Clock.WORKING, suspended_at__isnull=True, due_at__isnull=False
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    moved = 0
    for offset in range(0, len(ids), batch):
        cases = list(
            Case.objects.select_for_update(of=("self",))
            .filter(pk__in=ids[offset : offset + batch])
            .order_by("pk")
            .only(*CASE_FIELDS)
        )
        changed, events = [], []
        for case in cases:
            before = case.due_at, case.yellow_at
            deadlines.stage_replace(case, now=now, calendar=calendar)
            if (case.due_at, case.yellow_at) == before:
                continue
            case.version += 1
            changed.append(case)
            events.append(
                stage_event(
                    case, "deadline_moved", now, f"calendar{now:%Y%m%d%H%M%S}",
                    stage=case.stage, years=years, previous_due_at=before[0],
                    due_at=case.due_at, automatic=True,
                )
            )  # fmt: skip
        if changed:
            _write(changed, now)
            record_events(events)
        moved += len(changed)
    return moved
