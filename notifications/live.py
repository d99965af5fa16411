"""Pushing to live groups over the channel layer.

``send`` (one message) and ``send_many`` (several, in one go) are the only
ways a message reaches WebSocket clients. They are called after commit (never
inside a transaction: a push for an action that then rolls back cannot be
taken back). Each message is encoded to JSON once here and handed to every
consumer in its groups as text. A channel layer failure (Redis down) is
logged and swallowed: what was not pushed is recovered by the clients'
resync from the event log (docs/events.md).

Sync code (a request's worker, a Celery task) publishes to Redis itself, in
its own thread, over a connection the process keeps (``_Publisher``): going
through asgiref's ``async_to_sync`` instead makes a thread, an event loop and
a Redis connection per call outside a server (4-6 ms each), and inside one
it runs the sends on the loop that serves the WebSockets. The in-memory
layer (tests) lives in its caller's event loop and is still sent to through
asgiref.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable

import redis
import redis.sentinel
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer
from django.core.serializers.json import DjangoJSONEncoder

from cases.audience import user_group

logger = logging.getLogger(__name__)

# The consumer method that forwards a pushed message (LiveConsumer.live_message).
HANDLER = "live.message"
# The consumer method that acts on a control message (LiveConsumer.live_control):
# sent to a user's own group, it is never forwarded to the client.
CONTROL = "live.control"
# What a consumer checks a case event against when it reached it only through
# the case's own group (the user's scope may have stopped covering the case).
CASE_FIELDS = ("case_id", "area_path", "department_id", "grid_id")


def _describe(message: dict) -> str:
    if message.get("type") == CONTROL:
        return f"control {message.get('action')}"
    if message.get("type") == "notification":
        return f"notification {message.get('notification', {}).get('id')}"
    return f"{message.get('type')} {message.get('id')}"


def envelope(message: dict, origin: str = "", groups: Iterable[str] = ()) -> dict:
    if message.get("type") == CONTROL:
        return message
    packed = {
        "type": HANDLER,
        "text": json.dumps(message, cls=DjangoJSONEncoder, ensure_ascii=False),
        "origin": origin,
    }
    if message.get("type") == "case.event":
        # A client in several of the event's groups gets it once; one that
        # follows none of them but the case's own checks its scope (see the
        # consumer).
        packed["event_id"] = message["id"]
        packed["groups"] = list(groups)
        packed["case"] = {name: message.get(name) for name in CASE_FIELDS}
    return packed


Batch = list[tuple[list[str], dict, str]]  # (groups, message, origin)


async def send_many_async(batch: Batch) -> int:
    """Send each message to its groups through the layer's ``group_send``,
    from async code; the number of sends the layer refused (each logged)."""
    layer = get_channel_layer()
    if layer is None:
        return 0
    failed = 0
    for groups, message, origin in batch:
        packed = envelope(message, origin, groups)
        for group in groups:
            try:
                await layer.group_send(group, packed)
            except Exception as exc:  # must not reach the caller
                failed += 1
                logger.error("live push of %s to %s failed: %r", _describe(message), group, exc)
    return failed


async def send_async(groups: Iterable[str], message: dict, origin: str = "") -> int:
    return await send_many_async([(list(groups), message, origin)])


class _Publisher:
    """What ``group_send`` of the Redis pub/sub layer does for each group (a
    PUBLISH of the encoded message to the group's channel), from sync code in
    the caller's thread: every PUBLISH to one Redis server in one pipeline,
    over a connection kept per process. Through the layer's own channel
    names, shards, encoding and host settings (channels_redis.pubsub, pinned).

    A case event goes to 6-8 groups. One round trip for all of them, with no
    hop to an event loop, costs about 0.2 ms of CPU (7 groups); a
    ``group_send`` per group on an event loop in another thread cost 1.4 ms,
    and one pipeline handed to that loop 0.4-0.55 ms."""

    def __init__(self, layer: RedisPubSubChannelLayer):
        self.layer = layer
        # Only for its naming and sharding: it is never run on a loop.
        self.names = RedisPubSubLoopLayer(*layer._args, **layer._kwargs, channel_layer=layer)
        self.clients = {
            shard: redis.Redis(connection_pool=_sync_pool(shard.host))
            for shard in self.names._shards
        }

    def run(self, batch: Batch) -> int:
        by_shard: dict = {}
        for groups, message, origin in batch:
            data = self.layer.serialize(envelope(message, origin, groups))
            for group in groups:
                channel = self.names._get_group_channel_name(group)
                shard = self.names._get_shard(channel)
                by_shard.setdefault(shard, []).append((channel, data, message, group))
        failed = 0
        for shard, sends in by_shard.items():
            try:
                with self.clients[shard].pipeline(transaction=False) as pipe:
                    for channel, data, _message, _group in sends:
                        pipe.publish(channel, data)
                    pipe.execute()
            except Exception as exc:  # must not reach the caller
                failed += len(sends)
                for _channel, _data, message, group in sends:
                    logger.error("live push of %s to %s failed: %r", _describe(message), group, exc)
        return failed


def _sync_pool(host: dict) -> redis.ConnectionPool:
    """A pool of connections to one of the layer's hosts: what
    channels_redis.utils.create_pool makes of the host's settings, with
    redis-py's blocking classes."""
    host = dict(host)
    if "address" in host:
        return redis.ConnectionPool.from_url(host.pop("address"), **host)
    master_name = host.pop("master_name", None)
    if master_name is not None:
        sentinels = host.pop("sentinels")
        sentinel_kwargs = host.pop("sentinel_kwargs", None)
        return redis.sentinel.SentinelConnectionPool(
            master_name, redis.sentinel.Sentinel(sentinels, sentinel_kwargs=sentinel_kwargs), **host
        )
    return redis.ConnectionPool(**host)


_publisher: _Publisher | None = None
_publisher_lock = threading.Lock()


def _publisher_for(layer: RedisPubSubChannelLayer) -> _Publisher:
    """The publisher of the process's layer (made anew if the layer is)."""
    global _publisher
    with _publisher_lock:
        if _publisher is None or _publisher.layer is not layer:
            _publisher = _Publisher(layer)
        return _publisher


def send_many(batch: Batch) -> int:
    """Push several messages from sync code; the number of sends that failed
    (each logged)."""
    batch = [(list(groups), message, origin) for groups, message, origin in batch if groups]
    if not batch:
        return 0
    try:
        layer = get_channel_layer()
        if isinstance(layer, RedisPubSubChannelLayer):
            return _publisher_for(layer).run(batch)
        # Other layers (in memory, in tests) live in an event loop.
        return async_to_sync(send_many_async)(batch)
    except Exception:
        logger.exception("live push of %s failed", ", ".join(_describe(m) for _g, m, _o in batch))
        return sum(len(groups) for groups, _m, _o in batch)


def send(groups: Iterable[str], message: dict, origin: str = "") -> int:
    """Push ``message`` to ``groups`` from sync code."""
    return send_many([(list(groups), message, origin)])


def control(user_ids: Iterable[int], action: str, **fields) -> int:
    """Send a control message to every live connection of these users (their
    own groups), from sync code: ``scope`` (read your scope again and leave
    the groups it no longer allows) or ``close`` (see LiveConsumer.live_control)."""
    message = {"type": CONTROL, "action": action, **fields}
    return send([user_group(pk) for pk in sorted(set(user_ids))], message)


def push_case_event(sender, message: dict, groups: list[str], origin: str = "", **kwargs) -> None:
    """Receiver of cases.publishing.case_event_committed: the event to its audience."""
    send(groups, message, origin)


def push_case_events(sender, messages: list[tuple[dict, list[str], str]], **kwargs) -> None:
    """Receiver of cases.publishing.case_events_committed: many events, one batch."""
    send_many([(groups, message, origin) for message, groups, origin in messages])
