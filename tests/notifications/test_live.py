"""Each new inbox notification is pushed to its recipient's ``user.<id>``
group once the action commits (never before, never for a rolled-back
action), in the API's item shape, with the unread count."""

from __future__ import annotations

import logging

import pytest
from django.db import transaction

from cases import services
from cases.models import Source, Status
from notifications import live
from notifications.models import Notification
from tests.api.helpers import client_for
from tests.cases.conftest import case_in, report

from .conftest import notifications_on

pytestmark = pytest.mark.django_db


def test_a_new_notification_is_pushed_after_commit_as_the_api_shows_it(
    world, layer, listen, django_capture_on_commit_callbacks
):
    handler = listen(world.handler)
    case = case_in(world, Status.REGISTERED)
    with django_capture_on_commit_callbacks(execute=True):
        services.case_dispatch(case=case, actor=world.dispatcher)
        assert notifications_on(layer, handler) == []  # nothing before the commit

    [message] = notifications_on(layer, handler)
    assert message["version"] == 1 and message["unread_count"] == 1
    stored = Notification.objects.get(recipient=world.handler, case=case)
    [item] = client_for(world.handler).get("/api/v1/notifications/").json()["results"]
    assert message["notification"] == item
    assert item["id"] == stored.pk and item["kind"] == "dispatch"


def test_each_of_a_departments_handlers_gets_the_item_their_inbox_shows(
    world, layer, listen, django_capture_on_commit_callbacks
):
    from organisation.models import Role, RoleMembership
    from tests.factories import UserFactory

    earlier = case_in(world, Status.DISPATCHED)  # the first handler has one unread already
    second = UserFactory(username="handler2")
    RoleMembership.objects.create(user=second, role=Role.HANDLER, department=world.cgj)
    channels = {user.pk: listen(user) for user in (world.handler, second)}
    case = case_in(world, Status.REGISTERED)
    with django_capture_on_commit_callbacks(execute=True):
        services.case_dispatch(case=case, actor=world.dispatcher)
    for user, unread in ((world.handler, 2), (second, 1)):
        [message] = notifications_on(layer, channels[user.pk])
        items = client_for(user).get("/api/v1/notifications/").json()["results"]
        assert message["notification"] == items[0]
        assert message["notification"]["case"]["id"] == case.pk != earlier.pk
        assert message["unread_count"] == unread


def test_the_unread_count_goes_with_each_push(
    world, layer, listen, django_capture_on_commit_callbacks
):
    handler = listen(world.handler)
    cases = [case_in(world, Status.REGISTERED) for _ in range(2)]
    with django_capture_on_commit_callbacks(execute=True):
        services.case_dispatch(case=cases[0], actor=world.dispatcher)
    Notification.objects.filter(recipient=world.handler).update(read_at="2026-01-01T00:00Z")
    with django_capture_on_commit_callbacks(execute=True):
        services.case_dispatch(case=cases[1], actor=world.dispatcher)
    counts = [m["unread_count"] for m in notifications_on(layer, handler)]
    assert counts == [1, 1]


def test_only_the_recipients_hear_of_it(world, layer, listen, django_capture_on_commit_callbacks):
    others = {name: listen(world.users[name]) for name in ("dispatcher", "other_handler")}
    case = case_in(world, Status.REGISTERED)
    with django_capture_on_commit_callbacks(execute=True):
        services.case_dispatch(case=case, actor=world.dispatcher)
    for channel in others.values():
        assert notifications_on(layer, channel) == []


def test_a_citizen_hears_of_their_tip_and_only_the_inbox_is_pushed(
    world, layer, listen, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_LANGUAGE = "zh-hans"
    citizen = listen(world.citizen)
    case = report(
        world, reporter=world.citizen, source=Source.CITIZEN, reporter_phone="13900000000"
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.case_register(case=case, actor=world.dispatcher)
    [message] = notifications_on(layer, citizen)
    assert message["notification"]["kind"] == "tip_status"
    assert message["notification"]["title"] == f"您反映的问题 {case.number} 已受理"
    assert Notification.objects.filter(case=case, channel="sms").count() == 1


def test_a_rolled_back_action_pushes_nothing(
    world, layer, listen, django_capture_on_commit_callbacks
):
    handler = listen(world.handler)
    case = case_in(world, Status.REGISTERED)
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.case_dispatch(case=case, actor=world.dispatcher)
        raise RuntimeError("rolled back")
    assert notifications_on(layer, handler) == []


def test_a_failed_push_does_not_fail_the_action(
    world, layer, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def broken(*args, **kwargs):
        raise RuntimeError("layer gone")

    monkeypatch.setattr(live, "send", broken)
    monkeypatch.setattr(live, "send_many", broken)
    case = case_in(world, Status.REGISTERED)
    with (
        caplog.at_level(logging.ERROR, logger="notifications.services"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.case_dispatch(case=case, actor=world.dispatcher)
    assert "live push of the notifications" in caplog.text
    assert Notification.objects.filter(case=case, recipient=world.handler).exists()
