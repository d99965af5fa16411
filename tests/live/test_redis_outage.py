"""The real Redis channel layer, stopped in the middle of a test.

A private redis-server is started for the test. While it is down, actions
still commit and the failed push is logged, not raised; once it is back, a
client that reconnects and resyncs from the event log has everything."""

import logging
import shutil
import socket
import subprocess
import time

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from rest_framework.authtoken.models import Token

from cases import services
from cases.audience import department_group
from cases.models import Case, Status
from governance.asgi import application
from tests.api.helpers import client_for
from tests.cases.conftest import case_in, fresh
from tests.live.test_consumer import events_now, next_event

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.anyio,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]


@pytest.fixture
def anyio_backend():
    return "asyncio"


class PrivateRedis:
    def __init__(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self, *options: str):
        """Start it, with these redis-server ``options`` besides (a replica's
        ``--replicaof``; a sentinel's configuration file and ``--sentinel``)."""
        self.process = subprocess.Popen(
            ["redis-server", *options, "--bind", "127.0.0.1", "--port", str(self.port),
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self):
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def redis_layer(settings):
    redis = PrivateRedis()
    redis.start()
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [{"address": redis.url, "socket_connect_timeout": 1, "socket_timeout": 1}]
            },
        }
    }
    channel_layers.backends = {}
    yield redis
    redis.stop()
    channel_layers.backends = {}


async def handler_connection(world):
    key = (await sync_to_async(Token.objects.get_or_create)(user=world.handler))[0].key
    communicator = WebsocketCommunicator(
        application, "/ws/v1/live/", headers=[(b"authorization", f"Token {key}".encode())]
    )
    assert (await communicator.connect(timeout=5))[0]
    assert (await communicator.receive_json_from(timeout=5))["type"] == "welcome"
    await communicator.send_json_to({"type": "subscribe", "group": department_group(world.cgj.pk)})
    assert (await communicator.receive_json_from(timeout=5))["type"] == "subscribed"
    return communicator


def dispatch(world, case) -> Case:
    return services.case_dispatch(case=case.pk, actor=fresh(world.dispatcher))


def events_since(world, since: int) -> dict:
    response = client_for(world.handler).get("/api/v1/events/", {"since": since})
    assert response.status_code == 200, response.content
    return response.json()


async def test_actions_commit_while_redis_is_down_and_clients_recover_by_resync(
    world, redis_layer, caplog
):
    first, second, third = [
        await sync_to_async(case_in)(world, Status.REGISTERED) for _ in range(3)
    ]
    live = await handler_connection(world)
    await sync_to_async(dispatch)(world, first)
    seen = await next_event(live)
    assert seen["case_id"] == first.pk  # through the real Redis

    redis_layer.stop()
    caplog.set_level(logging.ERROR, logger="notifications.live")
    started = time.monotonic()
    await sync_to_async(dispatch)(world, second)  # no exception reaches the action
    assert time.monotonic() - started < 5
    stored = await sync_to_async(Case.objects.get)(pk=second.pk)
    assert stored.status == Status.DISPATCHED and stored.department_id == world.cgj.pk
    assert any(
        "live push" in record.getMessage() and "failed" in record.getMessage()
        for record in caplog.records
    ), [r.getMessage() for r in caplog.records]
    assert await events_now(live) == []  # the push was lost
    await live.disconnect()

    redis_layer.start()
    # The client reconnects and resyncs from the last id it saw.
    live = await handler_connection(world)
    missed = await sync_to_async(events_since)(world, seen["id"])
    assert [(e["case_id"], e["action"]) for e in missed["events"]] == [(second.pk, "dispatched")]
    # and live pushes flow again
    await sync_to_async(dispatch)(world, third)
    pushed = await next_event(live)
    assert pushed["case_id"] == third.pk and pushed["id"] > missed["last_id"]
    await live.disconnect()
