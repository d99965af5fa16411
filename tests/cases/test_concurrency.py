"""Two people acting on one case at once, stale versions, and the append-only log.

The race tests use real threads, each with its own database connection and
transaction, committed for real (``transaction=True``)."""

import threading

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.utils import Error as DjangoDbError

from cases import deadlines, services
from cases.errors import CaseConflict, CaseError, CaseNotFound
from cases.models import Case, CaseEvent, Status
from organisation.models import Role, RoleMembership
from tests.cases.conftest import case_in, fresh, wait_until_blocked_by_this_session
from tests.factories import UserFactory

RACE = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def race(*actions, first=None, hook_target=None):
    """Run each action in its own thread, all released together by a barrier.
    Return one (result, exception) pair per action.

    With ``first`` (an index), that action is made to win: a hook placed on
    ``hook_target`` (a ``(module, name)`` the services call after locking the
    row) holds its transaction open until another transaction is waiting for
    the row lock, and the other actions start only once it holds the lock."""
    barrier = threading.Barrier(len(actions))
    locked = threading.Event()
    outcomes = [None] * len(actions)

    if first is not None:
        module, name = hook_target
        original = getattr(module, name)

        def hooked(*args, **kwargs):
            if threading.current_thread().name == f"actor-{first}":
                locked.set()
                wait_until_blocked_by_this_session()
            return original(*args, **kwargs)

        setattr(module, name, hooked)

    def run(i, action):
        try:
            barrier.wait(timeout=10)
            if first is not None and i != first:
                assert locked.wait(timeout=10), "the first action never took the lock"
            outcomes[i] = (action(), None)
        except Exception as exc:  # the outcome under test
            outcomes[i] = (None, exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(i, a), name=f"actor-{i}") for i, a in enumerate(actions)
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        if first is not None:
            setattr(module, name, original)
    assert all(not t.is_alive() for t in threads), "an action hung"
    return outcomes


def winners_and_losers(outcomes):
    wins = [r for r, e in outcomes if e is None]
    losses = [e for r, e in outcomes if e is not None]
    return wins, losses


def _second_handler(world):
    user = UserFactory(username="handler2")
    RoleMembership.objects.create(user=user, role=Role.HANDLER, department=world.cgj)
    return user


# --- Two dispatchers ---------------------------------------------------------------------


@RACE
def test_two_dispatchers_dispatching_at_once_one_wins(world):
    case = case_in(world, Status.REGISTERED)
    first, second = fresh(world.dispatcher), fresh(world.city_dispatcher)
    version = Case.objects.get(pk=case.pk).version

    outcomes = race(
        lambda: services.case_dispatch(case=case.pk, actor=first, note="A"),
        lambda: services.case_dispatch(case=case.pk, actor=second, note="B"),
    )

    wins, losses = winners_and_losers(outcomes)
    assert len(wins) == 1 and len(losses) == 1, outcomes
    (conflict,) = losses
    assert isinstance(conflict, CaseConflict), repr(conflict)
    assert conflict.status == 409 and conflict.code == "conflict"
    assert case.number in str(conflict)
    assert "dispatched now" in str(conflict)

    stored = Case.objects.get(pk=case.pk)
    assert stored.status == Status.DISPATCHED and stored.department == world.cgj
    assert stored.version == version + 1
    dispatched = CaseEvent.objects.filter(case=case, action="dispatched")
    assert dispatched.count() == 1
    assert dispatched.get().actor_id == wins[0].last_event.actor_id


@RACE
def test_the_dispatcher_who_locked_first_wins(world):
    case = case_in(world, Status.REGISTERED)
    first, second = fresh(world.dispatcher), fresh(world.city_dispatcher)

    outcomes = race(
        lambda: services.case_dispatch(case=case.pk, actor=first),
        lambda: services.case_dispatch(case=case.pk, actor=second),
        first=0,
        hook_target=(deadlines, "stage_start"),
    )

    (_win, none), (nothing, conflict) = outcomes
    assert none is None and nothing is None
    assert isinstance(conflict, CaseConflict), repr(conflict)
    assert "dispatched now" in str(conflict) and "dispatch" in str(conflict)
    (event,) = CaseEvent.objects.filter(case=case, action="dispatched")
    assert event.actor_id == world.dispatcher.pk


# --- A handler acknowledging while another returns ---------------------------------------


@RACE
def test_acknowledge_and_return_at_once_one_wins(world):
    case = case_in(world, Status.DISPATCHED)
    acknowledger, returner = fresh(world.handler), _second_handler(world)

    outcomes = race(
        lambda: services.case_acknowledge(case=case.pk, actor=acknowledger),
        lambda: services.case_return(case=case.pk, actor=returner, reason="不属于本部门"),
    )

    wins, losses = winners_and_losers(outcomes)
    assert len(wins) == 1 and len(losses) == 1, outcomes
    assert isinstance(losses[0], CaseError), repr(losses[0])
    actions = list(
        CaseEvent.objects.filter(case=case, action__in=["acknowledged", "returned"]).values_list(
            "action", flat=True
        )
    )
    assert len(actions) == 1
    stored = Case.objects.get(pk=case.pk)
    assert (
        stored.status
        == {"acknowledged": Status.IN_PROGRESS, "returned": Status.RETURNED}[actions[0]]
    )


@RACE
def test_acknowledge_first_then_the_return_is_a_conflict(world):
    case = case_in(world, Status.DISPATCHED)
    acknowledger, returner = fresh(world.handler), _second_handler(world)

    outcomes = race(
        lambda: services.case_acknowledge(case=case.pk, actor=acknowledger),
        lambda: services.case_return(case=case.pk, actor=returner, reason="不属于本部门"),
        first=0,
        hook_target=(deadlines, "stage_start"),
    )

    (acknowledged, error), (_nothing, conflict) = outcomes
    assert error is None and acknowledged.status == Status.IN_PROGRESS
    assert isinstance(conflict, CaseConflict), repr(conflict)
    assert case.number in str(conflict) and "in progress now" in str(conflict)
    assert CaseEvent.objects.filter(case=case, action="acknowledged").count() == 1
    assert not CaseEvent.objects.filter(case=case, action="returned").exists()
    stored = Case.objects.get(pk=case.pk)
    assert stored.status == Status.IN_PROGRESS and stored.return_count == 0


@RACE
def test_return_first_then_the_acknowledgement_is_a_conflict(world):
    # The handler who acknowledges lost the race: they must hear that the case
    # changed (409), not that it does not exist.
    case = case_in(world, Status.DISPATCHED)
    acknowledger, returner = fresh(world.handler), _second_handler(world)

    outcomes = race(
        lambda: services.case_acknowledge(case=case.pk, actor=acknowledger),
        lambda: services.case_return(case=case.pk, actor=returner, reason="不属于本部门"),
        first=1,
        hook_target=(deadlines, "stage_start"),
    )

    (_nothing, conflict), (returned, error) = outcomes
    assert error is None and returned.status == Status.RETURNED
    assert CaseEvent.objects.filter(case=case, action="returned").count() == 1
    assert not CaseEvent.objects.filter(case=case, action="acknowledged").exists()
    stored = Case.objects.get(pk=case.pk)
    assert stored.status == Status.RETURNED and stored.return_count == 1
    assert not isinstance(conflict, CaseNotFound), (
        f"the losing handler got {conflict!r} (404) instead of a conflict"
    )
    assert isinstance(conflict, CaseConflict), repr(conflict)
    assert "returned" in str(conflict)


# --- expected_version --------------------------------------------------------------------


@pytest.mark.django_db
def test_a_stale_expected_version_is_refused_and_nothing_is_stored(
    world, django_capture_on_commit_callbacks
):
    case = case_in(world, Status.REGISTERED)
    seen = Case.objects.get(pk=case.pk).version
    services.case_comment(case=case.pk, actor=world.dispatcher, text="请尽快派遣")
    before = Case.objects.get(pk=case.pk)
    events = CaseEvent.objects.filter(case=case).count()

    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(CaseConflict) as caught,
    ):
        services.case_dispatch(case=case.pk, actor=world.dispatcher, expected_version=seen)

    message = str(caught.value)
    assert case.number in message and "changed since you saw it" in message
    assert f"version {seen}" in message and f"now {before.version}" in message
    assert callbacks == []
    after = Case.objects.get(pk=case.pk)
    assert (after.status, after.version, after.department_id, after.due_at) == (
        Status.REGISTERED,
        before.version,
        None,
        before.due_at,
    )
    assert CaseEvent.objects.filter(case=case).count() == events

    # With the current version it goes through.
    done = services.case_dispatch(
        case=case.pk, actor=world.dispatcher, expected_version=before.version
    )
    assert done.status == Status.DISPATCHED and done.version == before.version + 1


@pytest.mark.django_db
def test_a_stale_version_wins_over_a_valid_transition(world):
    # Even an action the state allows is refused when the actor saw an old version.
    case = case_in(world, Status.DISPATCHED)
    stale = Case.objects.get(pk=case.pk).version - 1
    with pytest.raises(CaseConflict, match="changed since you saw it"):
        services.case_acknowledge(case=case.pk, actor=world.handler, expected_version=stale)
    assert Case.objects.get(pk=case.pk).status == Status.DISPATCHED


@RACE
def test_two_dispatchers_with_the_same_version_one_wins(world):
    case = case_in(world, Status.REGISTERED)
    version = Case.objects.get(pk=case.pk).version
    first, second = fresh(world.dispatcher), fresh(world.city_dispatcher)

    outcomes = race(
        lambda: services.case_comment(
            case=case.pk, actor=first, text="A", expected_version=version
        ),
        lambda: services.case_comment(
            case=case.pk, actor=second, text="B", expected_version=version
        ),
    )

    wins, losses = winners_and_losers(outcomes)
    assert len(wins) == 1 and len(losses) == 1, outcomes
    assert isinstance(losses[0], CaseConflict)
    assert "changed since you saw it" in str(losses[0])
    assert CaseEvent.objects.filter(case=case, action="commented").count() == 1
    assert Case.objects.get(pk=case.pk).version == version + 1


# --- The event log is append-only ---------------------------------------------------------
# The tests run as the application's runtime role, which has no UPDATE or
# DELETE on the log; the trigger behind it, which stops even the owner, is
# tested in tests/cases/test_audit_log_roles.py. Both refuse with SQLSTATE
# 42501 (insufficient_privilege).


def _refused(caught) -> bool:
    return getattr(caught.value.__cause__, "sqlstate", None) == "42501"


@pytest.fixture
def event(world):
    case = case_in(world, Status.REGISTERED)
    return CaseEvent.objects.filter(case=case).order_by("id").first()


def _unchanged(event):
    again = CaseEvent.objects.get(pk=event.pk)
    return (again.action, again.payload, again.to_status) == (
        event.action,
        event.payload,
        event.to_status,
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE cases_caseevent SET action = 'x' WHERE id = %s",
        "UPDATE cases_caseevent SET action = 'x'",
        "DELETE FROM cases_caseevent WHERE id = %s",
        "DELETE FROM cases_caseevent",
    ],
)
def test_raw_sql_cannot_change_or_delete_events(event, sql):
    count = CaseEvent.objects.count()
    with (
        pytest.raises(DjangoDbError) as caught,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [event.pk] if "%s" in sql else None)
    assert _refused(caught)
    assert _unchanged(event)
    assert CaseEvent.objects.count() == count


@pytest.mark.django_db
def test_the_orm_cannot_change_an_event(event):
    event.action = "x"
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        event.save()
    assert _refused(caught)
    event.action = CaseEvent.objects.get(pk=event.pk).action
    assert event.action == "reported"
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        CaseEvent.objects.filter(pk=event.pk).update(payload={"forged": True})
    assert _refused(caught)
    assert CaseEvent.objects.get(pk=event.pk).payload == event.payload


@pytest.mark.django_db
def test_the_orm_cannot_delete_an_event(event):
    count = CaseEvent.objects.count()
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        CaseEvent.objects.filter(pk=event.pk).delete()
    assert _refused(caught)
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        event.delete()
    assert _refused(caught)
    assert CaseEvent.objects.count() == count
    assert _unchanged(event)


@pytest.mark.django_db
def test_events_can_still_be_appended(event):
    appended = CaseEvent.objects.create(
        case_id=event.case_id, action="commented", to_status=Status.REGISTERED
    )
    assert appended.pk > event.pk
