"""Event ids follow commit order, so "events since N" never skips one.

Real threads, each with its own connection and transaction, committed for
real. Without the ordering, an action that drew its event id first and
committed second would land below a cursor that had already passed it."""

import threading

import pytest
from django.db import connection, transaction

from cases import services
from cases.models import Case, CaseEvent, Status
from cases.services import steps
from tests.cases.conftest import case_in, fresh, wait_until_blocked_by_this_session

RACE = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@RACE
def test_an_event_waits_for_the_transaction_that_recorded_one_before_it(world):
    first = case_in(world, Status.REGISTERED)
    second = case_in(world, Status.REGISTERED)
    seen_while_first_open = []

    def look():
        # What a resync (another connection) sees while the first action is open.
        def query():
            try:
                seen_while_first_open.extend(
                    CaseEvent.objects.filter(
                        case__in=[first, second], action="dispatched"
                    ).values_list("case_id", flat=True)
                )
            finally:
                connection.close()

        reader = threading.Thread(target=query)
        reader.start()
        reader.join(timeout=10)

    original = steps.publish_on_commit
    recorded = threading.Event()

    def hooked(event):
        original(event)
        if threading.current_thread().name == "first":
            # The first action has recorded its event and holds its transaction
            # open: the second, on another case, must wait for it to end.
            recorded.set()
            wait_until_blocked_by_this_session()
            look()

    errors = []

    def act(case, wait_for=None):
        try:
            if wait_for is not None:
                assert wait_for.wait(timeout=10), "the first action never recorded its event"
            services.case_dispatch(case=case.pk, actor=fresh(world.dispatcher))
        except Exception as exc:  # the outcome under test
            errors.append(exc)
        finally:
            connection.close()

    steps.publish_on_commit = hooked
    try:
        threads = [
            threading.Thread(target=act, args=(first,), name="first"),
            threading.Thread(target=act, args=(second, recorded), name="second"),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        steps.publish_on_commit = original
    assert errors == []
    assert seen_while_first_open == []  # neither was visible: the second was waiting
    a = CaseEvent.objects.get(case=first, action="dispatched")
    b = CaseEvent.objects.get(case=second, action="dispatched")
    assert a.id < b.id


@RACE
def test_a_rolled_back_event_releases_the_order_lock(world):
    case = case_in(world, Status.REGISTERED)
    before = CaseEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        CaseEvent.objects.create(case=case, action="commented", to_status=Status.REGISTERED)
        raise RuntimeError("the action failed")
    done = threading.Event()

    def other():
        try:
            services.case_dispatch(case=case.pk, actor=fresh(world.dispatcher))
            done.set()
        finally:
            connection.close()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(timeout=20)
    assert done.is_set()
    assert CaseEvent.objects.count() == before + 1
    assert Case.objects.get(pk=case.pk).status == Status.DISPATCHED


@pytest.mark.django_db
def test_events_of_one_statement_take_increasing_ids(world):
    case = case_in(world, Status.REGISTERED)
    made = CaseEvent.objects.bulk_create(
        [CaseEvent(case=case, action="commented", to_status=Status.REGISTERED) for _ in range(5)]
    )
    ids = [event.id for event in made]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert CaseEvent.objects.filter(pk__in=ids).count() == 5
