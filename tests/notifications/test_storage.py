"""Notifications are stored with the action that caused them: once, in its
transaction, cheaply, and never at the cost of the action."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases import services, sweep
from cases.models import Case, CaseEvent, Source, Status
from cases.publishing import case_event_recorded
from notifications import rules
from notifications import services as notifications
from notifications.models import Notification
from notifications.receivers import store_notifications
from tests.cases.conftest import case_in, report

from .conftest import stored

pytestmark = pytest.mark.django_db


def last_event(case, action: str) -> CaseEvent:
    return CaseEvent.objects.filter(case=case, action=action).select_related("case").last()


def test_a_replayed_event_notifies_no_one_twice(world):
    case = report(
        world, source=Source.CITIZEN, reporter=world.citizen, reporter_phone="13900000000"
    )
    services.case_register(case=case, actor=world.dispatcher)
    services.case_dispatch(case=case, actor=world.dispatcher)
    before = stored(case)
    assert len(before) == 3  # the handler; the citizen's inbox and SMS (for two steps)

    event = last_event(case, "dispatched")
    event.case = Case.objects.get(pk=case.pk)
    notifications.notifications_for_event(event)
    case_event_recorded.send(sender=CaseEvent, event=event)
    assert stored(case) == before
    assert Notification.objects.filter(case=case).count() == 5  # 2 + 3, none doubled


@pytest.mark.parametrize(
    ("recipient", "address", "channel"),
    [("handler", "", "inbox"), (None, "13900000000", "sms")],
)
def test_the_database_refuses_a_second_row_for_the_same_event(world, recipient, address, channel):
    case = case_in(world, Status.REGISTERED)
    event = last_event(case, "registered")
    row = dict(
        recipient=world.users.get(recipient) if recipient else None,
        address=address,
        channel=channel,
        kind="dispatch",
        event=event,
        case=case,
        language="en",
    )
    Notification.objects.create(**row)
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(**row)


@pytest.mark.parametrize(
    ("recipient", "address", "channel"),
    [(None, "", "inbox"), ("handler", "x@example.com", "inbox"), ("handler", "", "sms")],
)
def test_the_database_refuses_a_row_it_could_not_deliver(world, recipient, address, channel):
    case = case_in(world, Status.REGISTERED)
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(
            recipient=world.users.get(recipient) if recipient else None,
            address=address,
            channel=channel,
            kind="dispatch",
            event=last_event(case, "registered"),
            case=case,
            language="en",
        )


def test_nothing_is_stored_or_pushed_when_the_action_rolls_back(
    world, django_capture_on_commit_callbacks
):
    case = case_in(world, Status.REGISTERED)
    before = Notification.objects.count()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.case_dispatch(case=case, actor=world.dispatcher)
        assert Notification.objects.count() == before + 1  # stored with the action…
        raise RuntimeError("the request failed after the dispatch")
    assert Notification.objects.count() == before  # …and gone with it
    assert callbacks == []


def test_a_failure_to_notify_does_not_fail_the_action(world, monkeypatch, caplog):
    """Even a failed statement (which aborts a PostgreSQL transaction) is
    contained by the savepoint: the action commits without its notifications."""
    case = case_in(world, Status.REGISTERED)

    def broken(event):
        return [rules.Planned("dispatch" * 3, "inbox", world.handler.pk)]  # too long a kind

    monkeypatch.setattr(rules, "plan", broken)
    with caplog.at_level(logging.ERROR, logger="notifications.receivers"):
        services.case_dispatch(case=case, actor=world.dispatcher)
    assert Case.objects.get(pk=case.pk).status == Status.DISPATCHED
    assert last_event(case, "dispatched") is not None
    assert not Notification.objects.filter(case=case, event__action="dispatched").exists()
    assert "were not stored" in caplog.text
    with connection.cursor() as cursor:  # the transaction is usable
        cursor.execute("SELECT 1")


def test_an_action_no_rule_covers_costs_no_query(world, django_assert_num_queries):
    case = case_in(world, Status.DISPATCHED)
    services.case_acknowledge(case=case, actor=world.handler)
    event = last_event(case, "acknowledged")
    with django_assert_num_queries(0):
        store_notifications(sender=CaseEvent, event=event)


def test_storing_an_events_notifications_takes_a_few_queries(world, django_assert_max_num_queries):
    case = report(
        world, source=Source.CITIZEN, reporter=world.citizen, reporter_phone="13900000000"
    )
    services.case_register(case=case, actor=world.dispatcher)
    services.case_dispatch(case=case, actor=world.dispatcher)
    event = last_event(case, "dispatched")
    event.case = Case.objects.get(pk=case.pk)
    Notification.objects.filter(event=event).delete()
    # savepoint, staff roles, followers, insert, release
    with django_assert_max_num_queries(5):
        store_notifications(sender=CaseEvent, event=event)
    assert Notification.objects.filter(event=event).count() == 3


def _digest_queries(world, n: int) -> int:
    """The queries of the digest of a sweep that turned ``n`` cases yellow."""
    cases = [case_in(world, Status.IN_PROGRESS) for _ in range(n)]
    now = timezone.now()
    Case.objects.filter(pk__in=[c.pk for c in cases]).update(
        yellow_at=now - dt.timedelta(hours=1), due_at=now + dt.timedelta(hours=1)
    )
    calls = []
    digest = notifications.sweep_digest

    def counted():
        with CaptureQueriesContext(connection) as queries:
            result = digest()
        calls.append(len(queries.captured_queries))
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(notifications, "sweep_digest", counted)
        result = sweep.sla_sweep(now=now)
    assert result.yellow == n and len(calls) == 1
    return calls[0]


def test_the_sweeps_digest_costs_the_same_queries_for_one_case_or_many(world):
    """Recipients are found for all of a run's cases at once, not per case."""
    one = _digest_queries(world, 1)
    assert Notification.objects.filter(kind="yellow").values_list("count", flat=True).get() == 1
    many = _digest_queries(world, 12)
    assert many == one
    counts = Notification.objects.filter(kind="yellow").values_list("count", flat=True)
    assert sorted(counts) == [1, 12]
    # one row per run and recipient, none per event
    assert not Notification.objects.filter(event__isnull=False, kind="yellow").exists()
