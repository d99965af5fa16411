"""What the deadline sweep causes is told in one digest per person, kind and
channel per run (notifications.digests.plan_digest, services.sweep_digest):
counted, linked to the filtered case list, pushed and delivered once, and
never lost when a run's digest fails. What people do is still notified one
event at a time."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from cases import services, sweep
from cases.models import Case, CaseDirective, CaseEvent, Status
from notifications import rules
from notifications import services as notifications
from notifications.models import DigestMark, Notification
from organisation.models import Role, RoleMembership
from tests.api.helpers import client_for
from tests.cases.conftest import case_in
from tests.factories import UserFactory

from .conftest import digests, notifications_on, stored

pytestmark = pytest.mark.django_db

MINUTE = dt.timedelta(minutes=1)


def overdue(*cases) -> None:
    now = timezone.now()
    Case.objects.filter(pk__in=[c.pk for c in cases]).update(
        yellow_at=now - 60 * MINUTE, due_at=now - MINUTE
    )


def in_szgs(world, status=Status.IN_PROGRESS) -> Case:
    case = case_in(world, status)
    Case.objects.filter(pk=case.pk).update(department=world.szgs)
    return case


def test_each_person_gets_one_digest_counting_their_cases(world):
    ours = [case_in(world, Status.IN_PROGRESS) for _ in range(3)]
    theirs = in_szgs(world)
    overdue(*ours, theirs)

    result = sweep.sla_sweep()

    assert result.red == 4 and result.supervised == 4
    # one row per person and kind, whatever the number of cases
    assert digests(kind="red") == {
        ("red", "inbox", "handler", 3),
        ("red", "inbox", "other_handler", 1),
        ("red", "inbox", "supervisor", 4),
    }
    assert digests(kind="supervision") == {
        ("supervision", "inbox", "handler", 3),
        ("supervision", "inbox", "other_handler", 1),
    }
    # the audit log still has every case's crossing
    assert CaseEvent.objects.filter(action="sla_red").count() == 4
    for case in [*ours, theirs]:
        assert stored(case, action="sla_red") == set()
    # people the rules do not name get nothing
    for name in ("far_supervisor", "dispatcher", "grid_worker", "citizen"):
        assert not Notification.objects.filter(
            recipient=world.users[name], event__isnull=True
        ).exists()


def test_a_digest_links_to_the_filtered_case_list_and_reads_in_the_inbox(world):
    overdue(case_in(world, Status.IN_PROGRESS), case_in(world, Status.IN_PROGRESS))
    sweep.sla_sweep()

    red = Notification.objects.get(recipient=world.handler, kind="red")
    assert red.link == "/api/v1/cases/?light=red" and red.count == 2
    body = client_for(world.handler).get("/api/v1/notifications/").json()
    item = next(i for i in body["results"] if i["id"] == red.pk)
    assert item["is_digest"] is True and item["case"] is None and item["event_id"] is None
    assert item["count"] == 2 and item["link"] == red.link
    assert item["title"] in ("2 cases turned red (overdue)", "2 件案件已超期（红灯）")
    # and the link lists exactly those cases for the handler
    listed = client_for(world.handler).get(red.link).json()["results"]
    assert len(listed) == 2 and {c["light"] for c in listed} == {"red"}


def test_a_second_run_with_nothing_new_writes_no_digest(world):
    overdue(case_in(world, Status.IN_PROGRESS))
    sweep.sla_sweep()
    before = Notification.objects.count()

    sweep.sla_sweep()

    assert Notification.objects.count() == before


def test_each_recipient_is_pushed_once_after_commit(
    world, layer, listen, django_capture_on_commit_callbacks
):
    handler, other = listen(world.handler), listen(world.other_handler)
    cases = [case_in(world, Status.IN_PROGRESS) for _ in range(5)]
    notifications_on(layer, handler)  # what the dispatches pushed
    overdue(*cases)

    with django_capture_on_commit_callbacks(execute=True):
        sweep.sla_sweep()

    pushed = notifications_on(layer, handler)
    assert sorted(m["notification"]["kind"] for m in pushed) == ["red", "supervision"]
    assert {m["notification"]["count"] for m in pushed} == {5}
    assert notifications_on(layer, other) == []


def test_a_digest_goes_by_sms_once_per_person(
    world, settings, sms_outbox, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_CHANNELS = {"red": {"holders": ["inbox", "sms"]}}
    world.handler.phone = "13800001111"
    world.handler.save()
    overdue(*[case_in(world, Status.IN_PROGRESS) for _ in range(4)])

    with django_capture_on_commit_callbacks(execute=True):
        sweep.sla_sweep()

    assert [m.to for m in sms_outbox] == ["13800001111"]
    assert "4" in sms_outbox[0].text and "/api/v1/cases/?light=red" in sms_outbox[0].text
    row = Notification.objects.get(channel="sms")
    assert row.count == 4 and row.sent_at is not None and row.event_id is None


def test_a_digest_can_not_reach_an_audience_outside_the_staff(settings):
    settings.NOTIFICATIONS_CHANNELS = {"red": {"reporter": ["inbox"]}}
    with pytest.raises(ImproperlyConfigured, match="digests do not reach"):
        rules.rules()


def test_a_run_whose_digest_failed_is_digested_by_the_next(world, monkeypatch, caplog):
    overdue(case_in(world, Status.IN_PROGRESS))

    def broken():
        raise RuntimeError("database went away")

    with monkeypatch.context() as patch, caplog.at_level(logging.ERROR):
        patch.setattr(notifications, "sweep_digest", broken)
        result = sweep.sla_sweep()
    assert result.red == 1  # the run itself stands
    assert "digests of the deadline sweep were not stored" in caplog.text
    assert digests() == set()

    sweep.sla_sweep()  # nothing new crosses, but the last run's events are told

    assert ("red", "inbox", "handler", 1) in digests()


def test_the_mark_moves_past_events_no_digest_is_about(world):
    case = case_in(world, Status.REGISTERED)  # events of people, notified one by one
    services.case_dispatch(case=case, actor=world.dispatcher)
    sweep.sla_sweep()
    assert DigestMark.objects.get().last_event_id == CaseEvent.objects.latest("pk").pk
    assert digests() == set()


def test_the_same_actions_by_a_person_are_notified_one_by_one(world):
    case = case_in(world, Status.IN_PROGRESS)
    services.case_issue_directive(
        case=case, actor=world.supervisor, kind="supervision", message="限期办结",
        due_at=timezone.now() + dt.timedelta(days=1),
    )  # fmt: skip
    assert stored(case, action="supervision_ordered") == {("supervision", "inbox", "handler")}
    sweep.sla_sweep()
    assert digests() == set()


# --- Reminders and supervision orders past their deadline ---------------------------


def late_directive(world, case, actor, kind="reminder") -> CaseDirective:
    directive = services.case_issue_directive(
        case=case, actor=actor, kind=kind, message="请今日内处理",
        due_at=timezone.now() + dt.timedelta(hours=1),
    )  # fmt: skip
    CaseDirective.objects.filter(pk=directive.pk).update(due_at=timezone.now() - MINUTE)
    return directive


def test_an_overdue_directive_goes_to_the_holders_and_its_issuer(world):
    issuer = UserFactory(username="city_supervisor")
    RoleMembership.objects.create(user=issuer, role=Role.SUPERVISOR, area=world.city.city)
    case = case_in(world, Status.IN_PROGRESS)
    late_directive(world, case, issuer)
    late_directive(world, case, world.supervisor, kind="supervision")

    result = sweep.sla_sweep()

    assert result.directives_overdue == 2
    assert digests(kind="directive_late") == {
        ("directive_late", "inbox", "handler", 2),
        ("directive_late", "inbox", "city_supervisor", 1),
        ("directive_late", "inbox", "supervisor", 1),
    }
    assert digests(kind="directive_late", recipient=world.other_handler) == set()
    link = Notification.objects.filter(kind="directive_late").values_list("link", flat=True)
    assert set(link) == {"/api/v1/cases/?directive_overdue=true"}
