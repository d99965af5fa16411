"""The deadline sweep: yellow and red lights, their events, the overdue policy,
re-runs, publishing after commit, batches, the Celery task and two sweeps at once."""

import datetime as dt
import threading
import time
from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone

from cases import sweep, tasks
from cases.models import (
    Case,
    CaseDirective,
    CaseEvent,
    DirectiveKind,
    Light,
    OverdueAction,
    OverduePolicy,
    Stage,
    Status,
)
from cases.publishing import case_events_committed
from cases.working_time import load_calendar
from tests.cases.conftest import case_in, report

pytestmark = pytest.mark.django_db

MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def now():
    return timezone.now()


def crossed(case, now, *, yellow: bool = True, red: bool = False) -> Case:
    """Move the case's yellow and due times so that it crossed yellow (and red) by ``now``."""
    Case.objects.filter(pk=case.pk).update(
        yellow_at=now - 2 * HOUR if yellow else now + HOUR,
        due_at=now - MINUTE if red else now + 2 * HOUR,
    )
    return Case.objects.get(pk=case.pk)


def stored(case) -> Case:
    return Case.objects.get(pk=case.pk)


def events(case, action=None):
    qs = CaseEvent.objects.filter(case=case)
    if action:
        qs = qs.filter(action=action)
    return list(qs.order_by("id"))


@pytest.fixture
def received():
    """The messages published after commit (the sweep publishes a batch at once)."""
    messages = []

    def receiver(sender, messages, **kwargs):
        received.extend(message for message, _groups, _origin in messages)

    received = messages
    case_events_committed.connect(receiver, weak=False)
    yield messages
    case_events_committed.disconnect(receiver)


# --- Yellow and red ------------------------------------------------------------------------


def test_a_case_crossing_yellow_turns_yellow_with_one_event(world, now):
    case = crossed(report(world), now)
    version = case.version

    result = sweep.sla_sweep(now=now)

    after = stored(case)
    assert (result.yellow, result.red, result.escalated, result.supervised) == (1, 0, 0, 0)
    assert after.light == Light.YELLOW
    assert after.version == version + 1
    assert after.overdue_count == 0
    assert after.status == Status.REPORTED and after.command_level == 3
    (event,) = events(case, "sla_yellow")
    assert event.actor_id is None
    assert event.from_status == event.to_status == Status.REPORTED
    assert event.payload["stage"] == Stage.REGISTER
    assert event.dedupe_key == f"yellow:{case.pk}:{case.stage_seq}"
    assert event.created_at == now
    assert result.events == [event.pk]
    assert not events(case, "sla_red")


def test_a_case_not_yet_yellow_is_left_alone(world, now):
    case = crossed(report(world), now, yellow=False)
    result = sweep.sla_sweep(now=now)
    assert (result.yellow, result.red, result.batches) == (0, 0, 0)
    assert stored(case).light == Light.GREEN and stored(case).version == case.version
    assert [e.action for e in events(case)] == ["reported"]


def test_a_yellow_case_crossing_red_gets_one_red_event(world, now):
    # Inspection stage: the overdue policy only flags it.
    case = crossed(case_in(world, Status.HANDLED), now)
    sweep.sla_sweep(now=now)
    assert stored(case).light == Light.YELLOW

    later = now + 3 * HOUR  # past due_at (now + 2 h)
    result = sweep.sla_sweep(now=later)

    after = stored(case)
    assert (result.yellow, result.red, result.escalated, result.supervised) == (0, 1, 0, 0)
    assert after.light == Light.RED
    assert after.overdue_count == 1
    assert after.version == case.version + 2
    assert after.status == Status.HANDLED and not after.is_supervised
    (event,) = events(case, "sla_red")
    assert event.actor_id is None and event.created_at == later
    assert event.payload["stage"] == Stage.INSPECT
    assert event.dedupe_key == f"red:{case.pk}:{case.stage_seq}"
    assert len(events(case, "sla_yellow")) == 1
    assert not CaseDirective.objects.filter(case=case).exists()


def test_a_case_that_crossed_yellow_and_red_since_the_last_sweep_gets_only_red(world, now):
    case = crossed(case_in(world, Status.HANDLED), now, red=True)

    result = sweep.sla_sweep(now=now)

    after = stored(case)
    assert (result.yellow, result.red) == (0, 1)
    assert after.light == Light.RED and after.overdue_count == 1
    assert after.version == case.version + 1
    assert len(events(case, "sla_red")) == 1
    assert not events(case, "sla_yellow")
    assert after.due_at == case.due_at and after.yellow_at == case.yellow_at


def test_a_new_stage_is_green_again_and_can_turn_red_again(world, now):
    from cases import services

    case = crossed(case_in(world, Status.DISPATCHED), now, red=True)
    sweep.sla_sweep(now=now)
    assert stored(case).light == Light.RED

    services.case_acknowledge(case=case.pk, actor=world.handler)
    acknowledged = stored(case)
    assert acknowledged.light == Light.GREEN and acknowledged.stage == Stage.HANDLE
    crossed(acknowledged, now, red=True)
    sweep.sla_sweep(now=now)

    after = stored(case)
    assert after.light == Light.RED and after.overdue_count == 2
    keys = [e.dedupe_key for e in events(case, "sla_red")]
    assert keys == [f"red:{case.pk}:{case.stage_seq}", f"red:{case.pk}:{acknowledged.stage_seq}"]


# --- The overdue policy -----------------------------------------------------------------


def test_the_policy_is_loaded_by_migration():
    assert dict(OverduePolicy.objects.values_list("stage", "on_red")) == {
        Stage.REGISTER: OverdueAction.ESCALATE,
        Stage.VERIFY: OverdueAction.NONE,
        Stage.DISPATCH: OverdueAction.ESCALATE,
        Stage.ACKNOWLEDGE: OverdueAction.SUPERVISE,
        Stage.HANDLE: OverdueAction.SUPERVISE,
        Stage.INSPECT: OverdueAction.NONE,
    }


@pytest.mark.parametrize("status", [Status.REPORTED, Status.REGISTERED, Status.RETURNED])
def test_an_overdue_case_at_a_command_centre_is_escalated_once(world, now, status):
    case = crossed(case_in(world, status), now, red=True)
    assert case.command_level == 3

    result = sweep.sla_sweep(now=now)

    after = stored(case)
    assert (result.red, result.escalated, result.supervised) == (1, 1, 0)
    assert after.command_level == 2
    assert after.status == status
    assert after.overdue_count == 1
    # The centre above gets a new deadline of its own, starting green.
    assert after.light == Light.GREEN and after.stage_seq == case.stage_seq + 1
    assert after.stage_started_at == now and after.due_at > now
    assert after.version == case.version + 2  # red, then escalated
    (escalated,) = events(case, "escalated")
    assert escalated.actor_id is None and escalated.actor_role == ""
    assert escalated.from_status == escalated.to_status == status
    assert escalated.payload == {
        "from_level": 3,
        "to_level": 2,
        "reason": "overdue",
        "automatic": True,
        "due_at": escalated.payload["due_at"],
    }
    assert dt.datetime.fromisoformat(escalated.payload["due_at"]) == after.due_at
    assert escalated.dedupe_key == f"escalate:{case.pk}:{case.stage_seq}"
    assert len(events(case, "sla_red")) == 1
    assert not CaseDirective.objects.filter(case=case).exists()
    assert not after.is_supervised

    # The district centre (level 2) now holds it; the subdistrict dispatcher is
    # no longer in charge of it.
    from cases.policy import role_for
    from tests.cases.conftest import fresh

    assert role_for(fresh(world.dispatcher), after, "dispatch") is None
    assert role_for(fresh(world.city_dispatcher), after, "dispatch") is not None


def test_an_unanswered_case_climbs_to_the_city_and_stops_there(world, now):
    case = crossed(case_in(world, Status.REGISTERED), now, red=True)
    sweep.sla_sweep(now=now)
    crossed(stored(case), now, red=True)
    sweep.sla_sweep(now=now)
    assert stored(case).command_level == 1
    crossed(stored(case), now, red=True)
    result = sweep.sla_sweep(now=now)
    assert (result.red, result.escalated) == (1, 0)
    after = stored(case)
    assert after.command_level == 1 and after.light == Light.RED and after.overdue_count == 3
    assert [e.payload["to_level"] for e in events(case, "escalated")] == [2, 1]


def test_a_case_at_the_city_centre_is_not_escalated_further(world, now):
    case = case_in(world, Status.REGISTERED)
    Case.objects.filter(pk=case.pk).update(command_level=1)
    case = crossed(case, now, red=True)

    result = sweep.sla_sweep(now=now)

    assert (result.red, result.escalated) == (1, 0)
    assert stored(case).command_level == 1
    assert not events(case, "escalated")


@pytest.mark.parametrize(
    ("status", "stage"),
    [(Status.IN_PROGRESS, Stage.HANDLE), (Status.DISPATCHED, Stage.ACKNOWLEDGE)],
)
def test_an_overdue_department_case_gets_one_supervision_order(world, now, status, stage):
    case = crossed(case_in(world, status), now, red=True)
    assert case.stage == stage and not case.is_supervised

    result = sweep.sla_sweep(now=now)

    after = stored(case)
    assert (result.red, result.escalated, result.supervised) == (1, 0, 1)
    assert after.is_supervised
    assert after.command_level == 3 and after.status == status
    assert after.version == case.version + 2
    (directive,) = CaseDirective.objects.filter(case=case)
    assert directive.kind == DirectiveKind.SUPERVISION
    assert directive.issued_by is None
    assert directive.settled_at is None
    assert directive.created_at == now
    assert directive.due_at == load_calendar().add_working_minutes(now, 8 * 60)
    (ordered,) = events(case, "supervision_ordered")
    assert ordered.actor_id is None
    assert ordered.payload["automatic"] is True and ordered.payload["reason"] == "overdue"
    assert ordered.dedupe_key == f"supervise:{case.pk}:{case.stage_seq}"
    assert not events(case, "escalated")


def test_the_supervision_deadline_follows_the_policy(world, now):
    OverduePolicy.objects.filter(stage=Stage.HANDLE).update(order_working_hours=3)
    case = crossed(case_in(world, Status.IN_PROGRESS), now, red=True)
    sweep.sla_sweep(now=now)
    (directive,) = CaseDirective.objects.filter(case=case)
    assert directive.due_at == load_calendar().add_working_minutes(now, 3 * 60)


def test_a_case_already_under_supervision_gets_no_second_order(world, now):
    case = case_in(world, Status.IN_PROGRESS)
    Case.objects.filter(pk=case.pk).update(is_supervised=True)
    case = crossed(case, now, red=True)

    result = sweep.sla_sweep(now=now)

    assert (result.red, result.supervised) == (1, 0)
    assert not CaseDirective.objects.filter(case=case).exists()
    assert not events(case, "supervision_ordered")


def test_inspection_overdue_is_only_flagged(world, now):
    case = crossed(case_in(world, Status.HANDLED), now, red=True)
    result = sweep.sla_sweep(now=now)
    assert (result.red, result.escalated, result.supervised) == (1, 0, 0)
    after = stored(case)
    assert after.command_level == 3 and not after.is_supervised


def test_the_policy_can_be_switched_off(world, now):
    OverduePolicy.objects.update(on_red=OverdueAction.NONE)
    reported = crossed(report(world), now, red=True)
    in_progress = crossed(case_in(world, Status.IN_PROGRESS), now, red=True)

    result = sweep.sla_sweep(now=now)

    assert (result.red, result.escalated, result.supervised) == (2, 0, 0)
    assert stored(reported).command_level == 3
    assert not stored(in_progress).is_supervised
    assert not CaseDirective.objects.exists()


# --- Re-runs, untouched cases --------------------------------------------------------------


def test_running_the_sweep_again_changes_nothing(world, now):
    yellow = crossed(report(world), now)
    escalated = crossed(case_in(world, Status.REGISTERED), now, red=True)
    supervised = crossed(case_in(world, Status.IN_PROGRESS), now, red=True)
    flagged = crossed(case_in(world, Status.HANDLED), now, red=True)
    cases = [yellow, escalated, supervised, flagged]

    first = sweep.sla_sweep(now=now)
    assert (first.yellow, first.red, first.escalated, first.supervised) == (1, 3, 1, 1)

    def snapshot():
        return (
            {c.pk: (c.version, c.light, c.command_level, c.overdue_count, c.is_supervised)
             for c in Case.objects.all()},
            CaseEvent.objects.count(),
            CaseDirective.objects.count(),
        )  # fmt: skip

    before = snapshot()
    for later in (now, now + MINUTE, now + 5 * MINUTE):
        again = sweep.sla_sweep(now=later)
        assert (again.yellow, again.red, again.escalated, again.supervised) == (0, 0, 0, 0)
        assert again.batches == 0 and again.events == []
        assert snapshot() == before
    # the escalated case runs a new deadline at the centre above
    assert [stored(c).light for c in cases] == [Light.YELLOW, Light.GREEN, Light.RED, Light.RED]


def test_suspended_and_closed_cases_are_never_touched(world, now):
    suspended = case_in(world, Status.SUSPENDED)
    closed = case_in(world, Status.CLOSED)
    rejected = case_in(world, Status.REJECTED)
    # Their stages started long ago: the handling stage of the suspended case would be
    # long overdue had it not been suspended.
    Case.objects.filter(pk=suspended.pk).update(stage_started_at=now - dt.timedelta(days=60))
    # A closed case keeps no light; even a stale due time does not make it overdue.
    Case.objects.filter(pk=closed.pk).update(
        due_at=now - dt.timedelta(days=30), yellow_at=now - dt.timedelta(days=31)
    )
    before = {c.pk: (c.version, c.light, c.overdue_count) for c in Case.objects.all()}
    counts = CaseEvent.objects.count(), CaseDirective.objects.count()

    for later in (now, now + dt.timedelta(days=30), now + dt.timedelta(days=300)):
        result = sweep.sla_sweep(now=later)
        assert (result.yellow, result.red, result.batches) == (0, 0, 0)

    assert {c.pk: (c.version, c.light, c.overdue_count) for c in Case.objects.all()} == before
    assert (CaseEvent.objects.count(), CaseDirective.objects.count()) == counts
    assert stored(suspended).due_at is None and stored(suspended).yellow_at is None
    assert stored(closed).light == "" and stored(rejected).light == ""


# --- Publishing --------------------------------------------------------------------------


def test_each_sweep_event_is_published_once_after_commit(
    world, now, received, django_capture_on_commit_callbacks
):
    yellow = crossed(report(world), now)
    escalated = crossed(case_in(world, Status.REGISTERED), now, red=True)
    supervised = crossed(case_in(world, Status.IN_PROGRESS), now, red=True)
    received.clear()

    with django_capture_on_commit_callbacks(execute=True):
        result = sweep.sla_sweep(now=now)
        assert received == []  # nothing before the commit

    stored_events = CaseEvent.objects.filter(pk__in=result.events)
    assert len(result.events) == 5 == stored_events.count()
    ids = [m["id"] for m in received]
    assert sorted(ids) == sorted(result.events)
    assert len(ids) == len(set(ids))  # exactly once each
    by_case = Counter((m["case_id"], m["action"]) for m in received)
    assert by_case == {
        (yellow.pk, "sla_yellow"): 1,
        (escalated.pk, "sla_red"): 1,
        (escalated.pk, "escalated"): 1,
        (supervised.pk, "sla_red"): 1,
        (supervised.pk, "supervision_ordered"): 1,
    }
    for message in received:
        assert message["actor_id"] is None
        assert message["at"] == now.isoformat()
    red = next(m for m in received if m["action"] == "sla_red" and m["case_id"] == escalated.pk)
    # messages show the case as the batch's transaction left it
    assert red["light"] == stored(escalated).light == Light.GREEN
    assert red["case_number"] == escalated.number
    escalation = next(m for m in received if m["action"] == "escalated")
    assert escalation["command_level"] == 2

    # A second sweep publishes nothing.
    received.clear()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        sweep.sla_sweep(now=now)
    assert callbacks == [] and received == []


def test_a_failed_batch_stores_and_publishes_nothing(
    world, now, received, monkeypatch, django_capture_on_commit_callbacks
):
    escalated = crossed(case_in(world, Status.REGISTERED), now, red=True)
    supervised = crossed(case_in(world, Status.IN_PROGRESS), now, red=True)
    received.clear()
    counts = CaseEvent.objects.count(), CaseDirective.objects.count()

    def broken():
        raise RuntimeError("calendar unavailable")

    monkeypatch.setattr(sweep, "current_calendar", broken)
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
    ):
        sweep.sla_sweep(now=now)

    assert callbacks == [] and received == []
    assert (CaseEvent.objects.count(), CaseDirective.objects.count()) == counts
    for case in (escalated, supervised):
        after = stored(case)
        assert (after.light, after.version, after.overdue_count) == (
            Light.GREEN,
            case.version,
            0,
        )
    assert stored(escalated).command_level == 3


# --- Batches and the task ---------------------------------------------------------------


def test_a_batch_smaller_than_the_work_still_processes_every_case(world, now):
    reds = [crossed(case_in(world, Status.HANDLED), now, red=True) for _ in range(7)]
    yellows = [crossed(report(world), now) for _ in range(4)]

    result = sweep.sla_sweep(now=now, batch=3)

    assert (result.red, result.yellow) == (7, 4)
    assert result.batches == 3 + 2  # 3 + 3 + 1 red, 3 + 1 yellow
    assert all(stored(c).light == Light.RED for c in reds)
    assert all(stored(c).light == Light.YELLOW for c in yellows)
    assert CaseEvent.objects.filter(action="sla_red").count() == 7
    assert CaseEvent.objects.filter(action="sla_yellow").count() == 4


def test_a_batch_exactly_the_size_of_the_work(world, now):
    cases = [crossed(case_in(world, Status.HANDLED), now, red=True) for _ in range(4)]
    result = sweep.sla_sweep(now=now, batch=2)
    assert result.red == 4 and result.batches == 2
    assert {stored(c).light for c in cases} == {Light.RED}


def test_the_default_batch_size_comes_from_settings(world, now, settings):
    settings.CASES_SWEEP_BATCH = 2
    for _ in range(3):
        crossed(case_in(world, Status.HANDLED), now, red=True)
    result = sweep.sla_sweep(now=now)
    assert result.red == 3 and result.batches == 2


def test_the_celery_task_runs_the_sweep(world):
    now = timezone.now()
    red = crossed(case_in(world, Status.HANDLED), now, red=True)
    yellow = crossed(report(world), now)

    outcome = tasks.sla_sweep.delay()

    assert outcome.successful()
    assert outcome.get() == {
        "yellow": 1, "red": 1, "escalated": 0, "supervised": 0, "directives_overdue": 0,
        "skipped": False,
    }  # fmt: skip
    assert stored(red).light == Light.RED and stored(yellow).light == Light.YELLOW
    assert len(events(red, "sla_red")) == 1 and len(events(yellow, "sla_yellow")) == 1

    # Safe to run again.
    assert tasks.sla_sweep.delay().get() == {
        "yellow": 0, "red": 0, "escalated": 0, "supervised": 0, "directives_overdue": 0,
        "skipped": False,
    }  # fmt: skip


def test_the_task_is_scheduled_every_minute(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE["cases-deadline-sweep"]
    assert schedule["task"] == tasks.sla_sweep.name == "cases.tasks.sla_sweep"
    assert schedule["schedule"] == 60.0


# --- Two sweeps at once ------------------------------------------------------------------

N_CONCURRENT = 60


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_sweeps_started_at_once_mark_each_case_once(world):
    now = timezone.now()
    cases = [report(world) for _ in range(N_CONCURRENT)]
    Case.objects.filter(pk__in=[c.pk for c in cases]).update(
        yellow_at=now - 2 * HOUR, due_at=now - MINUTE
    )

    published = []
    lock = threading.Lock()

    def receiver(sender, messages, **kwargs):
        with lock:
            published.extend(message for message, _groups, _origin in messages)

    case_events_committed.connect(receiver, weak=False)
    barrier = threading.Barrier(2)
    results, errors = [None, None], []

    def run(i):
        try:
            barrier.wait(timeout=10)
            results[i] = sweep.sla_sweep(now=now, batch=5)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    try:
        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        case_events_committed.disconnect(receiver)

    assert not errors, errors
    assert all(not t.is_alive() for t in threads)
    # One run did the work: the other stopped at the lock, or came after it.
    assert sorted(r.red for r in results) == [0, N_CONCURRENT]
    assert results[0].red + results[1].red == N_CONCURRENT
    assert results[0].escalated + results[1].escalated == N_CONCURRENT
    assert results[0].yellow + results[1].yellow == 0

    ids = {c.pk for c in cases}
    reds = Counter(CaseEvent.objects.filter(action="sla_red").values_list("case_id", flat=True))
    assert reds == dict.fromkeys(ids, 1)
    escalations = Counter(
        CaseEvent.objects.filter(action="escalated").values_list("case_id", flat=True)
    )
    assert escalations == dict.fromkeys(ids, 1)
    assert not CaseEvent.objects.filter(action="sla_yellow").exists()
    for case in Case.objects.filter(pk__in=ids):
        assert case.light == Light.GREEN  # a new deadline at the centre above
        assert case.overdue_count == 1
        assert case.command_level == 2  # escalated once, not twice
        assert case.version == 4  # reported (2), red (3), escalated (4)

    # Each event was published exactly once, after its batch committed.
    published_ids = Counter(m["id"] for m in published)
    assert set(published_ids) == set(results[0].events) | set(results[1].events)
    assert set(published_ids.values()) == {1}
    assert len(published_ids) == 2 * N_CONCURRENT


# --- One run at a time ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_run_that_starts_while_another_is_going_stops_at_once(world):
    import psycopg

    now = timezone.now()
    case = crossed(case_in(world, Status.HANDLED), now, red=True)  # only flagged when red
    params = connection.get_connection_params()
    other = psycopg.connect(
        **{k: params[k] for k in ("dbname", "user", "password", "host", "port") if k in params},
        autocommit=True,
    )
    try:
        # Given a run still going on another connection (it holds the lock)
        other.execute("SELECT pg_advisory_lock(%s)", [sweep.SWEEP_LOCK])

        result = sweep.sla_sweep(now=now)

        # this one changes nothing
        assert result.skipped and result.red == result.yellow == 0
        assert stored(case).light == Light.GREEN and events(case, "sla_red") == []
    finally:
        # and when that worker dies, its connection lets go of the lock
        other.close()
    deadline = time.monotonic() + 10
    while advisory_locks() and time.monotonic() < deadline:
        time.sleep(0.05)  # the server ends the dead connection's backend

    result = sweep.sla_sweep(now=now)
    assert not result.skipped and result.red == 1
    assert stored(case).light == Light.RED
    # a finished run lets go of the lock too
    assert advisory_locks() == 0


def advisory_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks AS l JOIN pg_database AS d ON d.oid = l.database "
            "WHERE l.locktype = 'advisory' AND l.objid = %s AND d.datname = current_database()",
            [sweep.SWEEP_LOCK],
        )
        return cursor.fetchone()[0]


# --- Reminders and supervision orders past their deadline ----------------------------


def directive(world, case, *, due, kind=DirectiveKind.REMINDER) -> CaseDirective:
    from cases import services

    made = services.case_issue_directive(
        case=case, actor=world.supervisor, kind=kind, message="请今日内处理",
        due_at=timezone.now() + HOUR,
    )  # fmt: skip
    CaseDirective.objects.filter(pk=made.pk).update(due_at=due)
    made.refresh_from_db()
    return made


@pytest.mark.parametrize("kind", [DirectiveKind.REMINDER, DirectiveKind.SUPERVISION])
def test_a_directive_past_its_deadline_is_marked_overdue_once_with_one_event(world, now, kind):
    case = case_in(world, Status.IN_PROGRESS)
    late = directive(world, case, due=now - MINUTE, kind=kind)
    version = stored(case).version

    result = sweep.sla_sweep(now=now)

    assert result.directives_overdue == 1
    late.refresh_from_db()
    assert late.overdue_at == now and late.is_overdue and late.settled_at is None
    [event] = events(case, "directive_overdue")
    assert event.actor_id is None and event.from_status == event.to_status == Status.IN_PROGRESS
    assert event.payload["directive"] == late.pk and event.payload["kind"] == kind
    assert event.payload["issued_by"] == world.supervisor.pk
    assert f"case.{case.pk}" in event.audience and f"dept.{world.cgj.pk}" in event.audience
    # the case itself is not changed
    assert stored(case).version == version and stored(case).light == Light.GREEN

    again = sweep.sla_sweep(now=now + HOUR)
    assert again.directives_overdue == 0 and len(events(case, "directive_overdue")) == 1


def test_a_directive_not_yet_due_or_settled_is_left_alone(world, now):
    case = case_in(world, Status.IN_PROGRESS)
    coming = directive(world, case, due=now + MINUTE)
    settled_case = case_in(world, Status.IN_PROGRESS)
    settled = directive(world, settled_case, due=now - MINUTE)
    CaseDirective.objects.filter(pk=settled.pk).update(settled_at=now - 2 * MINUTE)

    result = sweep.sla_sweep(now=now)

    assert result.directives_overdue == 0
    assert not CaseEvent.objects.filter(action="directive_overdue").exists()
    assert (
        CaseDirective.objects.filter(pk__in=[coming.pk, settled.pk], overdue_at=None).count() == 2
    )


def test_overdue_directives_are_swept_in_batches(world, now):
    cases = [case_in(world, Status.IN_PROGRESS) for _ in range(5)]
    for case in cases:
        directive(world, case, due=now - MINUTE)

    result = sweep.sla_sweep(now=now, batch=2)

    assert result.directives_overdue == 5
    assert CaseDirective.objects.filter(overdue_at=now).count() == 5
    ids = Counter(
        CaseEvent.objects.filter(action="directive_overdue").values_list("case_id", flat=True)
    )
    assert ids == dict.fromkeys([c.pk for c in cases], 1)


def test_the_sweep_selects_overdue_directives_by_their_partial_index(world):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'cases_directive_due'")
        (definition,) = cursor.fetchone()
    assert "(due_at)" in definition
    assert "settled_at IS NULL" in definition and "overdue_at IS NULL" in definition
