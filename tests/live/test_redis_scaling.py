"""The live channel layer on several Redis servers, and through Sentinel,
as the settings build it (core/redis_settings.py).

Sharding: two private redis-servers; channels_redis sends each group to one
of them by a hash of its channel name, and the publisher of actions
(notifications/live.py) must pick the same one, or pushes are lost. A prefix
is chosen so that the groups under test fall on different servers.

Sentinel: a master, a replica and a sentinel watching them; the layer finds
the master by asking the sentinel, and finds the new one after a failover.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import time

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from channels_redis.utils import _consistent_hash

from cases.audience import department_group, user_group
from cases.models import Status
from core import redis_settings
from tests.cases.conftest import case_in
from tests.live.test_consumer import next_event
from tests.live.test_redis_outage import PrivateRedis, dispatch, handler_connection

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.anyio,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]

MASTER = "governance-live"


@pytest.fixture
def anyio_backend():
    return "asyncio"


def use_layer(settings, hosts: list[dict], prefix: str) -> None:
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": hosts, "prefix": prefix},
        }
    }
    channel_layers.backends = {}


def shard_of(prefix: str, group: str, shards: int) -> int:
    """The shard channels_redis gives a group (RedisPubSubLoopLayer._get_shard)."""
    return _consistent_hash(f"{prefix}__group__{group}", shards)


def splitting_prefix(groups: list[str], shards: int) -> str:
    """A layer prefix under which these groups fall on every shard."""
    for n in itertools.count():
        prefix = f"shards{n}"
        if {shard_of(prefix, group, shards) for group in groups} == set(range(shards)):
            return prefix
    raise AssertionError("unreachable")


def subscribed_groups(server: PrivateRedis, prefix: str) -> set[str]:
    client = redis.Redis.from_url(server.url)
    try:
        channels = client.pubsub_channels(f"{prefix}__group__*")
    finally:
        client.close()
    return {channel.decode().removeprefix(f"{prefix}__group__") for channel in channels}


@pytest.fixture
def two_shards(settings):
    servers = [PrivateRedis(), PrivateRedis()]
    for server in servers:
        server.start()
    yield servers
    channel_layers.backends = {}
    for server in servers:
        server.stop()


async def test_groups_on_two_shards_each_hold_their_share_and_pushes_arrive(
    world, settings, two_shards
):
    # Given a handler whose own group and department queue hash to different shards
    mine, queue = user_group(world.handler.pk), department_group(world.cgj.pk)
    prefix = splitting_prefix([mine, queue], 2)
    hosts = redis_settings.channel_layer_hosts(
        redis_url=settings.REDIS_URL,
        channel_urls=[server.url for server in two_shards],
        sentinels=[],
        masters=[],
        sentinel_password="",
        timeout=2.0,
    )
    use_layer(settings, hosts, prefix)
    cases = [await sync_to_async(case_in)(world, Status.REGISTERED) for _ in range(2)]
    live = await handler_connection(world)  # joins its own group, then the queue

    # Each Redis holds only the subscriptions that hash to it, and all of them
    held = [subscribed_groups(server, prefix) for server in two_shards]
    assert mine in held[shard_of(prefix, mine, 2)]
    assert queue in held[shard_of(prefix, queue, 2)]
    assert held[0] and held[1] and not held[0] & held[1]
    for index, groups in enumerate(held):
        assert {shard_of(prefix, group, 2) for group in groups} == {index}

    # When actions are taken, the pushes reach the socket through both shards
    for case in cases:
        await sync_to_async(dispatch)(world, case)
        seen = await next_event(live)
        assert seen["case_id"] == case.pk
    await live.disconnect()


async def test_the_publisher_sends_each_group_to_the_shard_its_subscribers_are_on(
    settings, two_shards
):
    from channels.layers import get_channel_layer

    from notifications import live

    groups = [f"area.{n}" for n in range(1, 9)]
    prefix = splitting_prefix(groups, 2)
    use_layer(settings, [{"address": server.url} for server in two_shards], prefix)
    layer = get_channel_layer()
    channels = {}
    for group in groups:
        channels[group] = await layer.new_channel()
        await layer.group_add(group, channels[group])
    time_limit = time.monotonic() + 5
    while sum(len(subscribed_groups(s, prefix)) for s in two_shards) < len(groups):
        assert time.monotonic() < time_limit, "subscriptions did not reach Redis"
        await sync_to_async(time.sleep)(0.05)

    failed = await sync_to_async(live.send)(groups, {"type": "case.event", "id": 1})

    assert failed == 0
    for group in groups:
        message = await asyncio.wait_for(layer.receive(channels[group]), 5)
        assert message["event_id"] == 1, group


class Sentinel(PrivateRedis):
    """redis-server in sentinel mode watching ``master`` under MASTER."""

    def start_watching(self, master: PrivateRedis, directory) -> None:
        conf = directory / f"sentinel-{self.port}.conf"
        conf.write_text(
            f"sentinel monitor {MASTER} 127.0.0.1 {master.port} 1\n"
            f"sentinel down-after-milliseconds {MASTER} 1000\n"
            f"sentinel failover-timeout {MASTER} 3000\n"
        )
        self.start(str(conf), "--sentinel")

    def master_port(self) -> int | None:
        client = redis.Redis(port=self.port)
        try:
            address = client.execute_command("SENTINEL", "get-master-addr-by-name", MASTER)
        finally:
            client.close()
        return int(address[1]) if address else None

    def replicas_known(self) -> int:
        client = redis.Redis(port=self.port)
        try:
            return len(client.execute_command("SENTINEL", "replicas", MASTER))
        finally:
            client.close()


def wait_for(condition, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def sentinel_group(settings, tmp_path):
    master, replica, sentinel = PrivateRedis(), PrivateRedis(), Sentinel()
    # The replica's full sync writes an RDB file in the server's directory.
    master.start("--dir", str(tmp_path))
    replica.start("--dir", str(tmp_path), "--replicaof", "127.0.0.1", str(master.port))
    sentinel.start_watching(master, tmp_path)
    wait_for(lambda: sentinel.master_port() == master.port, "the sentinel to see the master")
    yield master, replica, sentinel
    channel_layers.backends = {}
    for server in (sentinel, replica, master):
        server.stop()


async def test_pushes_go_through_sentinel_and_resume_after_a_failover(
    world, settings, sentinel_group
):
    _master, replica, sentinel = sentinel_group
    # Given the layer configured from REDIS_SENTINELS and REDIS_SENTINEL_MASTER
    hosts = redis_settings.channel_layer_hosts(
        redis_url="redis://127.0.0.1:1/0",  # only its database number counts
        channel_urls=[],
        sentinels=[f"127.0.0.1:{sentinel.port}"],
        masters=[MASTER],
        sentinel_password="",
        timeout=2.0,
    )
    use_layer(settings, hosts, "sentinel")
    first, second = [await sync_to_async(case_in)(world, Status.REGISTERED) for _ in range(2)]
    live = await handler_connection(world)

    # A push goes through the master the sentinel names
    await sync_to_async(dispatch)(world, first)
    assert (await next_event(live))["case_id"] == first.pk

    # When the sentinel fails the master over to the replica
    await sync_to_async(wait_for)(lambda: sentinel.replicas_known() > 0, "a known replica")
    client = redis.Redis(port=sentinel.port)
    try:
        client.execute_command("SENTINEL", "FAILOVER", MASTER)
    finally:
        client.close()
    await sync_to_async(wait_for)(lambda: sentinel.master_port() == replica.port, "the failover")

    # Then pushes resume: the next action reaches the same socket
    await sync_to_async(dispatch)(world, second)
    assert (await next_event(live))["case_id"] == second.pk
    await live.disconnect()


def test_the_celery_broker_reaches_the_master_through_sentinel(sentinel_group):
    """The broker URL and transport options the settings build (CELERY_BROKER_URL,
    CELERY_BROKER_TRANSPORT_OPTIONS) carry a task message to the master the
    sentinel names."""
    from kombu import Connection

    master, _replica, sentinel = sentinel_group
    url, options = redis_settings.celery_broker(
        redis_url="redis://127.0.0.1:1/0",
        sentinels=["127.0.0.1:1", f"127.0.0.1:{sentinel.port}"],  # the first one is down
        master=MASTER,
        sentinel_password="",
    )
    with Connection(url, transport_options=options) as connection:
        queue = connection.SimpleQueue("sentinel-test")
        queue.put({"task": "cases.tasks.sla_sweep"})
        on_master = redis.Redis(port=master.port)
        try:
            assert on_master.llen("sentinel-test") == 1
        finally:
            on_master.close()
        message = queue.get(timeout=5)
        assert message.payload == {"task": "cases.tasks.sla_sweep"}
        message.ack()
        queue.close()
