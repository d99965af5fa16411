"""A live connection keeps to its user's access after joining: a case that
leaves the user's scope, roles and grids that change, signing out, a deleted
token, a new password and deactivation, each tested both ways (the user
concerned, and the people and connections it must not touch)."""

import datetime as dt

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from cases import services
from cases.audience import area_group, case_group, department_group
from cases.models import Source, Status
from grids.models import GridAssignment
from notifications.consumers import CLOSE_DEACTIVATED, CLOSE_UNAUTHENTICATED
from organisation.models import Role, RoleMembership
from tests.api.helpers import client_for
from tests.cases.conftest import G1, case_in, fresh, report
from tests.live.test_consumer import (
    BROWSER,
    closed_with,
    connect,
    drain,
    events_now,
    signed_in,
    subscribe,
    welcome,
)

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.anyio]


@pytest.fixture
def anyio_backend():
    return "asyncio"


def hotline_call(world):
    """A case in G1 that reaches the grid's followers through area groups alone."""
    return report(world, reporter=world.dispatcher, source=Source.HOTLINE)


def out_of_scope(group: str) -> dict:
    return {"type": "unsubscribed", "group": group, "reason": "out_of_scope"}


async def still_open(communicator) -> bool:
    await communicator.send_json_to({"type": "ping"})
    while True:
        message = await communicator.receive_json_from(timeout=5)
        if message["type"] == "pong":
            return True
        assert message["type"] in ("notification", "case.event"), message


async def subscribed(communicator, group: str) -> None:
    assert await subscribe(communicator, group) == {"type": "subscribed", "group": group}


async def following(user, *groups: str):
    """A connection of ``user`` that follows ``groups``, and its welcome."""
    communicator, hello = await signed_in(user)
    for group in groups:
        await subscribed(communicator, group)
    return communicator, hello


# --- a case that leaves the user's scope ---------------------------------------------


async def test_after_a_return_the_old_departments_handler_hears_no_more_of_the_case(world):
    case = await sync_to_async(case_in)(world, Status.DISPATCHED)
    group = case_group(case.pk)
    follows_the_case, _ = await following(world.handler, group)
    with_the_queue, _ = await following(world.handler, group, department_group(world.cgj.pk))
    dispatcher, _ = await following(world.dispatcher, group)

    await sync_to_async(services.case_return)(
        case=case.pk, actor=fresh(world.handler), reason="不属于本部门"
    )
    # Through the case's group alone, the handler is told the case is no longer theirs.
    assert await follows_the_case.receive_json_from(timeout=5) == out_of_scope(group)
    assert await events_now(follows_the_case) == []
    # The department's queue hears that the case left it (docs/events.md).
    assert [e["action"] for e in await drain(with_the_queue)] == ["returned"]
    assert [e["action"] for e in await drain(dispatcher)] == ["returned"]

    other_handler, _ = await signed_in(world.other_handler)
    await subscribed(other_handler, department_group(world.szgs.pk))
    await sync_to_async(services.case_dispatch)(
        case=case.pk, actor=fresh(world.dispatcher), department=world.szgs
    )
    assert await events_now(follows_the_case) == []
    assert await with_the_queue.receive_json_from(timeout=5) == out_of_scope(group)
    assert await events_now(with_the_queue) == []
    # Who may still see the case hears of it.
    assert [e["action"] for e in await drain(dispatcher)] == ["redispatched"]
    assert [e["action"] for e in await drain(other_handler)] == ["redispatched"]
    # And the handler may not follow it again.
    assert (await subscribe(follows_the_case, group))["code"] == "forbidden"
    for communicator in (follows_the_case, with_the_queue, dispatcher, other_handler):
        await communicator.disconnect()


async def test_a_case_still_in_scope_keeps_its_group(world):
    case = await sync_to_async(case_in)(world, Status.DISPATCHED)
    handler, _ = await signed_in(world.handler)
    await subscribed(handler, case_group(case.pk))
    await sync_to_async(services.case_acknowledge)(case=case.pk, actor=fresh(world.handler))
    assert [e["action"] for e in await drain(handler)] == ["acknowledged"]
    await handler.disconnect()


async def until_resync(communicator, since: int) -> tuple[list[dict], dict]:
    """Ask for a resync: the messages before its answer, and the answer."""
    await communicator.send_json_to({"type": "resync", "since": since})
    before = []
    while True:
        message = await communicator.receive_json_from(timeout=5)
        if message["type"] == "resync":
            return before, message
        before.append(message)


def pushes_lost(monkeypatch):
    """The channel layer loses what is pushed from now on (the events stay in the log)."""
    monkeypatch.setattr("cases.publishing.publish", lambda *args, **kwargs: None)
    monkeypatch.setattr("cases.publishing.publish_many", lambda *args, **kwargs: None)


async def test_a_resync_leaves_a_case_redispatched_away_while_pushes_were_lost(world, monkeypatch):
    case = await sync_to_async(case_in)(world, Status.DISPATCHED)
    group = case_group(case.pk)
    handler, hello = await following(world.handler, group)
    dispatcher, _ = await following(world.dispatcher, group)
    pushes_lost(monkeypatch)
    await sync_to_async(services.case_return)(
        case=case.pk, actor=fresh(world.handler), reason="不属于本部门"
    )
    await sync_to_async(services.case_dispatch)(
        case=case.pk, actor=fresh(world.dispatcher), department=world.szgs
    )
    await sync_to_async(services.case_acknowledge)(case=case.pk, actor=fresh(world.other_handler))

    # The old department's handler gets none of the new department's events,
    # as the API refuses them the case's group, and leaves the group.
    before, page = await until_resync(handler, hello["last_event_id"])
    assert out_of_scope(group) in before
    assert page["events"] == []
    refused = await sync_to_async(client_for(world.handler).get)(
        "/api/v1/events/", {"since": hello["last_event_id"], "group": [group]}
    )
    assert refused.status_code == 403
    assert (await subscribe(handler, group))["code"] == "forbidden"
    # Who still sees the case gets both events and keeps following it.
    before, page = await until_resync(dispatcher, hello["last_event_id"])
    assert out_of_scope(group) not in before
    assert [e["action"] for e in page["events"]] == ["returned", "redispatched", "acknowledged"]
    await handler.disconnect()
    await dispatcher.disconnect()


async def test_a_resync_after_midnight_reads_the_grids_again(world, monkeypatch):
    g1 = world.city.grids[G1]
    monkeypatch.setattr("notifications.consumers._next_midnight", lambda: 0.0)
    worker, hello = await signed_in(world.grid_worker)
    await subscribed(worker, area_group(g1.pk))
    kept, _ = await signed_in(world.dispatcher)
    await subscribed(kept, area_group(g1.pk))
    pushes_lost(monkeypatch)
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    await sync_to_async(GridAssignment.objects.filter(user=world.grid_worker).update)(
        end_date=yesterday
    )
    case = await sync_to_async(hotline_call)(world)
    before, page = await until_resync(worker, hello["last_event_id"])
    assert out_of_scope(area_group(g1.pk)) in before
    assert page["events"] == []
    before, page = await until_resync(kept, hello["last_event_id"])
    assert {e["case_id"] for e in page["events"]} == {case.pk}
    await worker.disconnect()
    await kept.disconnect()


# --- roles and grids that change -------------------------------------------------------


async def test_a_grid_worker_whose_assignment_is_removed_stops_receiving(world):
    g1 = world.city.grids[G1]
    worker, _ = await signed_in(world.grid_worker)
    await subscribed(worker, area_group(g1.pk))
    dispatcher, _ = await signed_in(world.dispatcher)
    await subscribed(dispatcher, area_group(g1.pk))
    heard = await sync_to_async(hotline_call)(world)
    assert {e["case_id"] for e in await drain(worker)} == {heard.pk}
    assert {e["case_id"] for e in await drain(dispatcher)} == {heard.pk}

    def end_the_assignment():
        GridAssignment.objects.get(user=world.grid_worker).delete()

    await sync_to_async(end_the_assignment)()
    assert await worker.receive_json_from(timeout=5) == out_of_scope(area_group(g1.pk))
    unheard = await sync_to_async(hotline_call)(world)
    assert await events_now(worker) == []
    assert {e["case_id"] for e in await drain(dispatcher)} == {unheard.pk}
    assert await still_open(worker)
    assert (await subscribe(worker, area_group(g1.pk)))["code"] == "forbidden"
    await worker.disconnect()
    await dispatcher.disconnect()


async def test_a_new_assignment_is_followed_from_the_next_subscription(world):
    g1 = world.city.grids[G1]
    worker, _ = await signed_in(world.other_worker)
    assert (await subscribe(worker, area_group(g1.pk)))["code"] == "forbidden"
    await sync_to_async(GridAssignment.objects.create)(
        user=world.other_worker, grid=g1, start_date=world.grid_worker.date_joined.date()
    )
    await subscribed(worker, area_group(g1.pk))
    case = await sync_to_async(report)(world)
    assert {e["case_id"] for e in await drain(worker)} == {case.pk}
    await worker.disconnect()


async def test_a_handler_who_leaves_the_department_leaves_its_queue(world):
    handler, _ = await signed_in(world.handler)
    await subscribed(handler, department_group(world.cgj.pk))
    colleague = world.users["other_handler"]
    await sync_to_async(RoleMembership.objects.create)(
        user=colleague, role=Role.HANDLER, department=world.cgj
    )
    other, _ = await signed_in(colleague)
    await subscribed(other, department_group(world.cgj.pk))

    def leave_the_department():
        RoleMembership.objects.get(user=world.handler, role=Role.HANDLER).delete()

    await sync_to_async(leave_the_department)()
    assert await handler.receive_json_from(timeout=5) == out_of_scope(
        department_group(world.cgj.pk)
    )
    case = await sync_to_async(case_in)(world, Status.DISPATCHED)
    assert await events_now(handler) == []
    assert {e["case_id"] for e in await drain(other)} == {case.pk}  # the colleague stays
    await handler.disconnect()
    await other.disconnect()


async def test_grids_are_read_again_at_the_first_push_after_midnight(world, monkeypatch):
    """Assignments end by date, with no write at midnight to signal it."""
    g1 = world.city.grids[G1]
    read_today, _ = await signed_in(world.grid_worker)
    await subscribed(read_today, area_group(g1.pk))  # holds until the coming midnight
    monkeypatch.setattr("notifications.consumers._next_midnight", lambda: 0.0)
    past_midnight, _ = await signed_in(world.grid_worker)
    await subscribed(past_midnight, area_group(g1.pk))  # its midnight has passed
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    await sync_to_async(GridAssignment.objects.filter(user=world.grid_worker).update)(
        end_date=yesterday
    )
    case = await sync_to_async(hotline_call)(world)
    assert await past_midnight.receive_json_from(timeout=5) == out_of_scope(area_group(g1.pk))
    assert await events_now(past_midnight) == []
    assert {e["case_id"] for e in await drain(read_today)} == {case.pk}
    await read_today.disconnect()
    await past_midnight.disconnect()


# --- signing out, credentials and deactivation ------------------------------------------


def signed_in_client(user) -> tuple[Client, tuple[bytes, bytes]]:
    """A browser signed in through the site, and its session cookie."""
    client = Client()
    client.force_login(user)
    return client, (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


async def browser(cookie):
    communicator = await connect(*BROWSER, cookie)
    await welcome(communicator)
    return communicator


async def test_signing_out_closes_that_sessions_connections_only(world):
    client, cookie = await sync_to_async(signed_in_client)(world.handler)
    _other_client, other_cookie = await sync_to_async(signed_in_client)(world.handler)
    page, second_tab = await browser(cookie), await browser(cookie)
    other_browser = await browser(other_cookie)
    app, _ = await signed_in(world.handler)
    colleague, _ = await signed_in(world.other_handler)

    response = await sync_to_async(client.post)("/accounts/logout/")
    assert response.status_code == 302
    assert await closed_with(page) == CLOSE_UNAUTHENTICATED == 4401
    assert await closed_with(second_tab) == CLOSE_UNAUTHENTICATED
    for communicator in (other_browser, app, colleague):
        assert await still_open(communicator)
    for communicator in (page, second_tab, other_browser, app, colleague):
        await communicator.disconnect()


async def test_deactivation_closes_every_connection_of_the_user_and_no_other(world):
    _client, cookie = await sync_to_async(signed_in_client)(world.handler)
    page = await browser(cookie)
    app, _ = await signed_in(world.handler)
    colleague, _ = await signed_in(world.other_handler)

    def deactivate():
        handler = type(world.handler).objects.get(pk=world.handler.pk)
        handler.is_active = False
        handler.save()

    await sync_to_async(deactivate)()
    assert await closed_with(page) == CLOSE_DEACTIVATED == 4403
    assert await closed_with(app) == CLOSE_DEACTIVATED
    assert await still_open(colleague)
    for communicator in (page, app, colleague):
        await communicator.disconnect()


async def test_saving_a_user_without_changing_access_closes_nothing(world):
    app, _ = await signed_in(world.handler)

    def edit():
        handler = type(world.handler).objects.get(pk=world.handler.pk)
        handler.first_name = "小王"
        handler.save()
        handler.save(update_fields=["last_login"])

    await sync_to_async(edit)()
    assert await still_open(app)
    await app.disconnect()


async def test_a_deleted_token_closes_its_connections_and_not_the_sessions(world):
    _client, cookie = await sync_to_async(signed_in_client)(world.handler)
    page = await browser(cookie)
    app, _ = await signed_in(world.handler)
    colleague, _ = await signed_in(world.other_handler)

    await sync_to_async(Token.objects.filter(user=world.handler).delete)()
    assert await closed_with(app) == CLOSE_UNAUTHENTICATED
    assert await still_open(page)
    assert await still_open(colleague)
    for communicator in (page, app, colleague):
        await communicator.disconnect()


async def test_a_new_password_closes_the_session_connections(world):
    _client, cookie = await sync_to_async(signed_in_client)(world.handler)
    page = await browser(cookie)
    app, _ = await signed_in(world.handler)  # a token stays valid, as in the REST API
    colleague, _ = await signed_in(world.other_handler)

    def new_password():
        handler = type(world.handler).objects.get(pk=world.handler.pk)
        handler.set_password("a much longer passphrase")
        handler.save()

    await sync_to_async(new_password)()
    assert await closed_with(page) == CLOSE_UNAUTHENTICATED
    assert await still_open(app)
    assert await still_open(colleague)
    for communicator in (page, app, colleague):
        await communicator.disconnect()
