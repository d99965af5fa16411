"""notifications.live over the real Redis pub/sub layer: a batch of messages
goes out in one pipeline per Redis server, and reaches each group's
subscribers as group_send would have sent it."""

import asyncio
import json
import logging
import shutil

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from notifications import live
from tests.live.test_redis_outage import redis_layer  # noqa: F401 - a private redis-server

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def subscribed(groups: list[str]) -> str:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    for group in groups:
        await layer.group_add(group, channel)
    await asyncio.sleep(0.2)  # the subscriptions reach Redis
    return channel


async def received(channel: str) -> list[dict]:
    """What arrives on the channel until nothing comes for 0.5 s."""
    layer = get_channel_layer()
    messages = []
    while True:
        try:
            messages.append(await asyncio.wait_for(layer.receive(channel), 0.5))
        except TimeoutError:
            return messages


async def test_a_batch_reaches_every_group_it_was_sent_to(redis_layer):  # noqa: F811
    both = await subscribed(["area.1", "case.7"])
    other = await subscribed(["user.3"])
    first = {"type": "case.event", "id": 11, "case_id": 7, "note": "井盖"}
    second = {"type": "notification", "notification": {"id": 5}}
    batch = [(["area.1", "case.7", "area.2"], first, "conn-a"), (["case.7", "user.3"], second, "")]

    failed = await sync_to_async(live.send_many)(batch)  # from sync code, as the services do

    assert failed == 0
    got = await received(both)
    assert [(m["type"], json.loads(m["text"])) for m in got] == [
        ("live.message", first),
        ("live.message", first),
        ("live.message", second),
    ]
    assert got[0]["origin"] == "conn-a" and got[0]["event_id"] == 11
    assert [json.loads(m["text"]) for m in await received(other)] == [second]


async def test_case_fields_and_control_messages_cross_redis_as_the_consumer_reads_them(
    redis_layer,  # noqa: F811
):
    channel = await subscribed(["case.7", "user.3"])
    event = {"type": "case.event", "id": 13, "case_id": 7, "area_path": "/1/2/", "grid_id": 4}
    await sync_to_async(live.send)(["area.2", "case.7"], event)
    await sync_to_async(live.control)([3], "close", code=4403)

    pushed, control = await received(channel)
    assert pushed["groups"] == ["area.2", "case.7"]
    assert pushed["case"] == {
        "case_id": 7,
        "area_path": "/1/2/",
        "department_id": None,
        "grid_id": 4,
    }
    assert control == {"type": "live.control", "action": "close", "code": 4403}


async def test_a_batch_to_a_stopped_redis_fails_each_send_and_logs_it(redis_layer, caplog):  # noqa: F811
    await subscribed(["area.1"])
    redis_layer.stop()
    caplog.set_level(logging.ERROR, logger="notifications.live")
    batch = [(["area.1", "case.7"], {"type": "case.event", "id": 12}, "")]

    failed = await sync_to_async(live.send_many)(batch)

    assert failed == 2
    logged = [r.getMessage() for r in caplog.records]
    pushes = [m for m in logged if m.startswith("live push of case.event 12 to")]
    assert len(pushes) == 2 and all("failed" in m for m in pushes), logged


HOSTS = [
    {"address": "redis://127.0.0.1:6399/3", "socket_timeout": 2.0},
    {"host": "127.0.0.1", "port": 6399, "db": 3, "socket_connect_timeout": 2.0},
    {"master_name": "mymaster", "sentinels": [("127.0.0.1", 26399)], "db": 2},
]


@pytest.mark.parametrize("host", HOSTS, ids=["address", "keywords", "sentinel"])
def test_the_publisher_reaches_a_host_as_the_layer_does(host):
    """Each form of CHANNEL_LAYERS host gives the publisher's blocking pool
    the connection settings channels_redis gives the layer's own."""
    from channels_redis.utils import create_pool

    def settings_of(pool) -> dict:
        # Not redis-py's own objects and bookkeeping (orig_*: what it records
        # for its maintenance notifications), which differ between its
        # blocking and asyncio pools.
        plain = (str, int, float, bool, type(None), list, tuple)
        return {
            k: v
            for k, v in pool.connection_kwargs.items()
            if isinstance(v, plain) and not k.startswith("orig_")
        }

    ours, theirs = live._sync_pool(host), create_pool(host)
    assert settings_of(ours) == settings_of(theirs)
    assert getattr(ours, "service_name", None) == getattr(theirs, "service_name", None)
