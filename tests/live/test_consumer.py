"""The WebSocket endpoint through the whole ASGI stack (origin check, session
and token authentication, routing), with WebsocketCommunicator and the
in-memory channel layer. Events come from real actions committed for real."""

import psycopg
import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from rest_framework.authtoken.models import Token

from cases import services
from cases.audience import area_group, case_group, department_group, user_group
from cases.models import Status
from cases.publishing import origin
from governance.asgi import application
from notifications.consumers import CLOSE_UNAUTHENTICATED, MAX_GROUPS
from tests.api.helpers import client_for
from tests.cases.conftest import IN_G4, case_in, fresh, report

LIVE = pytest.mark.django_db(transaction=True, serialized_rollback=True)
pytestmark = [LIVE, pytest.mark.anyio]
PATH = "/ws/v1/live/"
# A page of the site itself: the connection goes to the host the page came from.
BROWSER = [(b"host", b"localhost"), (b"origin", b"http://localhost")]


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def statements(monkeypatch) -> list[str]:
    """Every SQL statement run from now on, on any thread: the consumer's
    database work runs on a thread pool, out of django_assert_num_queries' sight."""
    seen: list[str] = []
    execute = psycopg.Cursor.execute

    def counted(self, query, *args, **kwargs):
        seen.append(query.decode() if isinstance(query, bytes) else str(query))
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", counted)
    return seen


def token_header(user) -> tuple[bytes, bytes]:
    key = Token.objects.get_or_create(user=user)[0].key
    return (b"authorization", f"Token {key}".encode())


def session_cookie(user) -> tuple[bytes, bytes]:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return (b"cookie", f"sessionid={session.session_key}".encode())


async def connect(*headers):
    communicator = WebsocketCommunicator(application, PATH, headers=list(headers))
    connected, _subprotocol = await communicator.connect(timeout=5)
    assert connected
    return communicator


async def welcome(communicator) -> dict:
    message = await communicator.receive_json_from(timeout=5)
    assert message["type"] == "welcome", message
    return message


async def subscribe(communicator, group: str) -> dict:
    await communicator.send_json_to({"type": "subscribe", "group": group})
    return await communicator.receive_json_from(timeout=5)


async def unsubscribe(communicator, group: str) -> None:
    await communicator.send_json_to({"type": "unsubscribe", "group": group})
    assert await communicator.receive_json_from(timeout=5) == {
        "type": "unsubscribed",
        "group": group,
    }


async def signed_in(user):
    communicator = await connect(await sync_to_async(token_header)(user))
    hello = await welcome(communicator)
    return communicator, hello


async def drain(communicator) -> list[dict]:
    """The case events among the messages that arrive until none comes for a
    moment (at least one event). Notifications to the user's own group (the
    inbox, tested in tests/notifications) are left aside."""
    messages = [await next_event(communicator)]
    messages += await events_now(communicator)
    return messages


async def next_event(communicator) -> dict:
    while True:
        message = await communicator.receive_json_from(timeout=5)
        if message["type"] != "notification":
            return message


async def events_now(communicator) -> list[dict]:
    """The case events that arrive until none comes for 0.3 s (maybe none)."""
    messages = []
    while not await communicator.receive_nothing(timeout=0.3):
        message = await communicator.receive_json_from(timeout=1)
        if message["type"] != "notification":
            messages.append(message)
    return messages


async def closed_with(communicator) -> int:
    message = await communicator.receive_output(timeout=5)
    while message["type"] == "websocket.accept":
        message = await communicator.receive_output(timeout=5)
    assert message["type"] == "websocket.close", message
    return message.get("code")


# --- who may connect -------------------------------------------------------------------


async def test_an_unauthenticated_connection_is_closed_with_4401(world):
    for headers in [
        BROWSER,  # a browser without a session
        [],  # no origin, no token
        [(b"authorization", b"Token not-a-token")],
        [(b"authorization", b"Bearer something")],
    ]:
        communicator = WebsocketCommunicator(application, PATH, headers=headers)
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        assert await closed_with(communicator) == CLOSE_UNAUTHENTICATED == 4401
        await communicator.disconnect()


async def test_a_browser_session_signs_in_only_from_the_sites_own_origin(world):
    cookie = await sync_to_async(session_cookie)(world.handler)
    communicator = await connect(*BROWSER, cookie)
    hello = await welcome(communicator)
    assert hello["user_id"] == world.handler.pk
    await communicator.disconnect()

    # Another site's page: refused at the handshake.
    communicator = WebsocketCommunicator(
        application,
        PATH,
        headers=[(b"host", b"localhost"), (b"origin", b"http://evil.example"), cookie],
    )
    connected, _ = await communicator.connect(timeout=5)
    assert not connected
    # No Origin (not a browser): the cookie alone signs no one in.
    communicator = WebsocketCommunicator(application, PATH, headers=[cookie])
    await communicator.connect(timeout=5)
    assert await closed_with(communicator) == 4401


async def test_a_token_signs_in_and_the_welcome_says_where_to_resync_from(world):
    case = await sync_to_async(case_in)(world, Status.REGISTERED)
    communicator, hello = await signed_in(world.handler)
    assert hello["version"] == 1
    assert hello["groups"] == [user_group(world.handler.pk)]
    assert len(hello["connection_id"]) == 32
    assert hello["last_event_id"] == case.last_event.id
    await communicator.disconnect()


# --- subscriptions -------------------------------------------------------------------


async def test_subscriptions_are_checked_both_ways(world):
    handler, _ = await signed_in(world.handler)
    assert await subscribe(handler, department_group(world.cgj.pk)) == {
        "type": "subscribed",
        "group": department_group(world.cgj.pk),
    }
    refused = await subscribe(handler, department_group(world.szgs.pk))
    assert refused["type"] == "error" and refused["code"] == "forbidden"
    assert refused["group"] == department_group(world.szgs.pk)
    refused = await subscribe(handler, user_group(world.other_handler.pk))
    assert refused["code"] == "forbidden"

    g1 = world.city.grids["320402001001001"]
    g4 = world.city.grids["320402001001004"]
    worker, _ = await signed_in(world.grid_worker)
    assert (await subscribe(worker, area_group(g1.pk)))["type"] == "subscribed"
    assert (await subscribe(worker, area_group(g4.pk)))["code"] == "forbidden"
    assert (await subscribe(worker, department_group(world.cgj.pk)))["code"] == "forbidden"
    await handler.disconnect()
    await worker.disconnect()


async def test_standing_subscriptions_are_answered_without_the_database(world, statements):
    # A reconnection storm is thousands of these at once: the scope read on
    # opening answers them in memory.
    g1 = world.city.grids["320402001001001"]
    g4 = world.city.grids["320402001001004"]
    handler, _ = await signed_in(world.handler)
    worker, _ = await signed_in(world.grid_worker)
    assert statements  # opening read the token, the scope and the last event id
    statements.clear()
    assert (await subscribe(handler, department_group(world.cgj.pk)))["type"] == "subscribed"
    assert (await subscribe(handler, department_group(world.szgs.pk)))["code"] == "forbidden"
    assert (await subscribe(worker, area_group(g1.pk)))["type"] == "subscribed"
    assert (await subscribe(worker, area_group(g4.pk)))["code"] == "forbidden"
    assert statements == []

    # What lies under a command centre's area is still asked of the database, both ways.
    dispatcher, _ = await signed_in(world.dispatcher)
    statements.clear()
    assert (await subscribe(dispatcher, area_group(g1.parent_id)))["type"] == "subscribed"
    assert (await subscribe(dispatcher, area_group(world.city.city.pk)))["code"] == "forbidden"
    assert statements
    for communicator in (handler, worker, dispatcher):
        await communicator.disconnect()


async def test_bad_frames_get_errors_and_the_connection_stays_open(world):
    communicator, _ = await signed_in(world.handler)
    for frame, code in [
        ("not json", "bad_message"),
        ("[1, 2]", "bad_message"),
        ('{"type": "dance"}', "bad_message"),
        ("x" * 5000, "bad_message"),
        ('{"type": "subscribe"}', "bad_group"),
        ('{"type": "subscribe", "group": 7}', "bad_group"),
        ('{"type": "subscribe", "group": "team.1"}', "bad_group"),
        ('{"type": "subscribe", "group": "dept.1\\u0000"}', "bad_group"),
    ]:
        await communicator.send_to(text_data=frame)
        reply = await communicator.receive_json_from(timeout=5)
        assert reply["type"] == "error" and reply["code"] == code, (frame, reply)
    await communicator.send_to(bytes_data=b"\x00\x01")
    assert (await communicator.receive_json_from(timeout=5))["code"] == "bad_message"
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from(timeout=5) == {"type": "pong"}
    await communicator.disconnect()


async def test_a_connection_follows_a_bounded_number_of_groups(world, monkeypatch):
    monkeypatch.setattr("notifications.consumers.MAX_GROUPS", 2)
    assert MAX_GROUPS == 200
    communicator, _ = await signed_in(world.admin)  # joined: user.<id>
    assert (await subscribe(communicator, department_group(world.cgj.pk)))["type"] == "subscribed"
    refused = await subscribe(communicator, department_group(world.szgs.pk))
    assert refused["code"] == "too_many_groups"
    await communicator.send_json_to(
        {"type": "unsubscribe", "group": department_group(world.cgj.pk)}
    )
    assert (await communicator.receive_json_from(timeout=5))["type"] == "unsubscribed"
    assert (await subscribe(communicator, department_group(world.szgs.pk)))["type"] == "subscribed"
    await communicator.disconnect()


# --- pushes ----------------------------------------------------------------------------


async def test_each_department_sees_exactly_its_own_queue_change(world):
    cgj, _ = await signed_in(world.handler)
    szgs, _ = await signed_in(world.other_handler)
    await subscribe(cgj, department_group(world.cgj.pk))
    await subscribe(szgs, department_group(world.szgs.pk))
    case = await sync_to_async(case_in)(world, Status.REGISTERED)
    assert await events_now(cgj) == []  # reports and registrations: not theirs

    await sync_to_async(services.case_dispatch)(case=case.pk, actor=fresh(world.dispatcher))
    (pushed,) = await drain(cgj)
    assert pushed["type"] == "case.event" and pushed["action"] == "dispatched"
    assert pushed["case_id"] == case.pk and pushed["department_id"] == world.cgj.pk
    assert await events_now(szgs) == []

    await sync_to_async(services.case_return)(
        case=case.pk, actor=fresh(world.handler), reason="不属于本部门"
    )
    await sync_to_async(services.case_dispatch)(
        case=case.pk, actor=fresh(world.dispatcher), department=world.szgs
    )
    # CGJ hears that the case left; the re-dispatch is SZGS's
    assert [m["action"] for m in await drain(cgj)] == ["returned"]
    (arrived,) = await drain(szgs)
    assert arrived["action"] == "redispatched" and arrived["department_id"] == world.szgs.pk
    assert arrived["id"] > pushed["id"]
    await cgj.disconnect()
    await szgs.disconnect()


async def test_grid_workers_hear_only_of_their_grids_and_reporters_of_their_reports(world):
    g1 = world.city.grids["320402001001001"]
    worker, _ = await signed_in(world.grid_worker)
    await subscribe(worker, area_group(g1.pk))
    citizen, _ = await signed_in(world.citizen)  # only user.<id>

    await sync_to_async(report)(world, point=IN_G4, reporter=world.other_worker)
    assert await worker.receive_nothing(timeout=0.3)
    mine = await sync_to_async(report)(world)
    assert {m["case_id"] for m in await drain(worker)} == {mine.pk}
    assert await citizen.receive_nothing(timeout=0.3)

    tip = await sync_to_async(report)(world, reporter=world.citizen, source="citizen")
    assert {m["case_id"] for m in await drain(citizen)} == {tip.pk}
    assert {m["case_id"] for m in await drain(worker)} == {tip.pk}  # in G1
    await worker.disconnect()
    await citizen.disconnect()


async def test_a_case_group_and_the_client_that_caused_the_event(world):
    case = await sync_to_async(case_in)(world, Status.REGISTERED)
    watcher, _ = await signed_in(world.dispatcher)
    actor, hello = await signed_in(world.dispatcher)
    for communicator in (watcher, actor):
        assert (await subscribe(communicator, case_group(case.pk)))["type"] == "subscribed"

    def dispatch_from_the_actors_connection():
        with origin(hello["connection_id"]):
            services.case_dispatch(case=case.pk, actor=fresh(world.dispatcher))

    await sync_to_async(dispatch_from_the_actors_connection)()
    assert (await watcher.receive_json_from(timeout=5))["action"] == "dispatched"
    assert await actor.receive_nothing(timeout=0.3)  # it has the result already
    await watcher.disconnect()
    await actor.disconnect()


async def test_a_rolled_back_action_pushes_nothing(world):
    case = await sync_to_async(case_in)(world, Status.DISPATCHED)
    handler, _ = await signed_in(world.handler)
    await subscribe(handler, department_group(world.cgj.pk))
    with pytest.raises(Exception, match="reason"):
        await sync_to_async(services.case_return)(case=case.pk, actor=fresh(world.handler))
    assert await handler.receive_nothing(timeout=0.3)
    await handler.disconnect()


async def test_unsubscribing_stops_the_pushes(world):
    handler, _ = await signed_in(world.handler)
    await subscribe(handler, department_group(world.cgj.pk))
    await unsubscribe(handler, department_group(world.cgj.pk))
    await sync_to_async(case_in)(world, Status.DISPATCHED)
    assert await events_now(handler) == []
    await handler.disconnect()
    # The user's own group stays: a case they reported still reaches them.
    citizen, _ = await signed_in(world.citizen)
    await unsubscribe(citizen, user_group(world.citizen.pk))
    case = await sync_to_async(report)(world, reporter=world.citizen, source="citizen")
    assert (await next_event(citizen))["case_id"] == case.pk
    await citizen.disconnect()


async def test_an_event_in_several_of_a_clients_groups_arrives_once(world):
    g1 = world.city.grids["320402001001001"]
    worker, _ = await signed_in(world.grid_worker)  # in user.<id>
    await subscribe(worker, area_group(g1.pk))
    # The worker's own report in their own grid: both groups hear of it.
    case = await sync_to_async(report)(world)
    events = await drain(worker)
    assert {e["case_id"] for e in events} == {case.pk}
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids)), ids
    await worker.disconnect()


# --- resync over the socket ------------------------------------------------------------


def events_page(user, since: int, groups: list[str]) -> dict:
    response = client_for(user).get("/api/v1/events/", {"since": since, "group": groups})
    assert response.status_code == 200, response.content
    return response.json()


async def resync(communicator, since) -> dict:
    await communicator.send_json_to({"type": "resync", "since": since})
    while True:
        message = await communicator.receive_json_from(timeout=5)
        if message["type"] in ("resync", "error"):
            return message


async def test_a_client_that_missed_events_gets_them_over_the_socket_on_its_return(world):
    case = await sync_to_async(case_in)(world, Status.REGISTERED)
    other = await sync_to_async(case_in)(world, Status.REGISTERED)
    handler, hello = await signed_in(world.handler)
    await handler.disconnect()
    # While the handler is away: one case comes to their department, one goes elsewhere.
    await sync_to_async(services.case_dispatch)(case=case.pk, actor=fresh(world.dispatcher))
    await sync_to_async(services.case_dispatch)(
        case=other.pk, actor=fresh(world.dispatcher), department=world.szgs
    )

    handler, _ = await signed_in(world.handler)
    await subscribe(handler, department_group(world.cgj.pk))
    page = await resync(handler, hello["last_event_id"])
    assert [(e["case_id"], e["action"]) for e in page["events"]] == [(case.pk, "dispatched")]
    assert page["since"] == hello["last_event_id"]
    assert page["last_id"] == page["events"][0]["id"] and page["has_more"] is False
    # The same page as the REST API's for the same groups.
    api = await sync_to_async(events_page)(
        world.handler,
        hello["last_event_id"],
        [user_group(world.handler.pk), department_group(world.cgj.pk)],
    )
    assert page["events"] == api["events"]
    # An up-to-date client learns so with no events, and needs no request over HTTP.
    assert await resync(handler, page["last_id"]) == {
        "type": "resync",
        "since": page["last_id"],
        "events": [],
        "last_id": page["last_id"],
        "has_more": False,
    }
    await handler.disconnect()


async def test_a_resync_covers_only_the_groups_joined_and_is_one_query(world, statements):
    case = await sync_to_async(case_in)(world, Status.DISPATCHED)
    other = await sync_to_async(case_in)(world, Status.DISPATCHED)
    handler, _ = await signed_in(world.handler)  # only user.<id>: the department's queue not joined
    statements.clear()
    assert (await resync(handler, 0))["events"] == []
    assert len([s for s in statements if "cases_caseevent" in s]) == 1
    await subscribe(handler, department_group(world.cgj.pk))
    assert {e["case_id"] for e in (await resync(handler, 0))["events"]} == {case.pk, other.pk}
    # Case groups are checked again, all of them in one query on cases.
    for followed in (case, other):
        await subscribe(handler, case_group(followed.pk))
    statements.clear()
    await resync(handler, 0)
    assert len([s for s in statements if "cases_caseevent" in s]) == 2  # ids, then the page
    assert len([s for s in statements if "cases_case" in s and "caseevent" not in s]) == 1
    await handler.disconnect()


async def test_a_resync_longer_than_a_page_says_there_is_more(world, monkeypatch):
    monkeypatch.setattr("cases.selectors.EVENT_PAGE", 2)
    await sync_to_async(case_in)(world, Status.DISPATCHED)  # reported, registered, dispatched
    g1 = world.city.grids["320402001001001"]
    dispatcher, _ = await signed_in(world.dispatcher)
    await subscribe(dispatcher, area_group(g1.parent_id))
    page = await resync(dispatcher, 0)
    assert len(page["events"]) == 2 and page["has_more"] is True
    assert page["last_id"] == page["events"][-1]["id"]
    rest = await resync(dispatcher, page["last_id"])
    assert len(rest["events"]) == 1 and rest["has_more"] is False
    await dispatcher.disconnect()


@pytest.mark.parametrize("since", ["12", -1, 2**63, True, None, 1.5])
async def test_a_resync_needs_a_whole_event_id(world, since):
    handler, _ = await signed_in(world.handler)
    reply = await resync(handler, since)
    assert reply["type"] == "error" and reply["code"] == "bad_message"
    await handler.disconnect()


async def test_a_resync_refusal_speaks_the_sites_language(world, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    handler, _ = await signed_in(world.handler)
    reply = await resync(handler, -1)
    assert reply["message"] == "since 须为不小于 0 的整数。"
    await handler.disconnect()
