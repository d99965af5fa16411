"""Pushing to live groups over the channel layer.

``send`` (one message) and ``send_many`` (several, in one go) are the only
ways a message reaches WebSocket clients. They are called after commit (never
inside a transaction: a push for an action that then rolls back cannot be
taken back). Each message is encoded to JSON once here and handed to every
consumer in its groups as text. A channel layer failure (Redis down) is
logged and swallowed: what was not pushed is recovered by the clients'
resync from the event log (docs/events.md).

Sync code (a request's view thread, a Celery task) hands the sends to one
long-lived event loop per process, in a thread of its own, which keeps its
connection to Redis: going through asgiref's ``async_to_sync`` instead makes
a thread, an event loop and a Redis connection per call outside a server
(4-6 ms each), and inside one it runs the sends on the loop that serves the
WebSockets. The in-memory layer (tests) lives in its caller's event loop and
is still sent to through asgiref.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.core.serializers.json import DjangoJSONEncoder

logger = logging.getLogger(__name__)

# The consumer method that forwards a pushed message (LiveConsumer.live_message).
HANDLER = "live.message"
# How long a sync caller waits for its sends before giving up (they go on).
WAIT = 10.0


def _describe(message: dict) -> str:
    if message.get("type") == "notification":
        return f"notification {message.get('notification', {}).get('id')}"
    return f"{message.get('type')} {message.get('id')}"


def envelope(message: dict, origin: str = "") -> dict:
    packed = {
        "type": HANDLER,
        "text": json.dumps(message, cls=DjangoJSONEncoder, ensure_ascii=False),
        "origin": origin,
    }
    if message.get("type") == "case.event":
        # A client in several of the event's groups gets it once (see the consumer).
        packed["event_id"] = message["id"]
    return packed


Batch = list[tuple[list[str], dict, str]]  # (groups, message, origin)


async def send_many_async(batch: Batch) -> int:
    """Send each message to its groups; the number of sends the layer refused
    (each logged)."""
    layer = get_channel_layer()
    if layer is None:
        return 0
    if isinstance(layer, RedisPubSubChannelLayer):
        return await _publish(layer, batch)
    failed = 0
    for groups, message, origin in batch:
        packed = envelope(message, origin)
        for group in groups:
            try:
                await layer.group_send(group, packed)
            except Exception as exc:  # must not reach the caller
                failed += 1
                logger.error("live push of %s to %s failed: %r", _describe(message), group, exc)
    return failed


async def _publish(layer: RedisPubSubChannelLayer, batch: Batch) -> int:
    """What ``layer.group_send`` does for each group (a PUBLISH of the encoded
    message to the group's channel), with every PUBLISH to one Redis server in
    one pipeline: one round trip instead of one per group (a case event goes
    to 6-8 groups: about 0.5 ms of CPU instead of 1.4). Through the layer's own
    channel names, shards and connections (channels_redis.pubsub, pinned)."""
    loop_layer = layer._get_layer()
    by_shard: dict = {}
    for groups, message, origin in batch:
        data = layer.serialize(envelope(message, origin))
        for group in groups:
            channel = loop_layer._get_group_channel_name(group)
            shard = loop_layer._get_shard(channel)
            by_shard.setdefault(shard, []).append((channel, data, message, group))
    failed = 0
    for shard, sends in by_shard.items():
        try:
            async with shard._lock:
                shard._ensure_redis()
                async with shard._redis.pipeline(transaction=False) as pipe:
                    for channel, data, _message, _group in sends:
                        pipe.publish(channel, data)
                    await pipe.execute()
        except Exception as exc:  # must not reach the caller
            failed += len(sends)
            for _channel, _data, message, group in sends:
                logger.error("live push of %s to %s failed: %r", _describe(message), group, exc)
    return failed


async def send_async(groups: Iterable[str], message: dict, origin: str = "") -> int:
    return await send_many_async([(list(groups), message, origin)])


class _Publisher:
    """One event loop per process, in a daemon thread, for sends from sync code."""

    def __init__(self):
        self.lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pid = None

    def get_loop(self) -> asyncio.AbstractEventLoop:
        with self.lock:
            if self.loop is None or self.pid != os.getpid():  # none yet, or forked
                self.loop = asyncio.new_event_loop()
                self.pid = os.getpid()
                threading.Thread(
                    target=self.loop.run_forever, name="live-publisher", daemon=True
                ).start()
            return self.loop

    def run(self, batch: Batch) -> int:
        future = asyncio.run_coroutine_threadsafe(send_many_async(batch), self.get_loop())
        return future.result(timeout=WAIT)


_publisher = _Publisher()


def send_many(batch: Batch) -> int:
    """Push several messages from sync code; see ``send_many_async``."""
    batch = [(list(groups), message, origin) for groups, message, origin in batch if groups]
    if not batch:
        return 0
    try:
        if isinstance(get_channel_layer(), InMemoryChannelLayer):
            return async_to_sync(send_many_async)(batch)
        return _publisher.run(batch)
    except Exception:
        logger.exception("live push of %s failed", ", ".join(_describe(m) for _g, m, _o in batch))
        return sum(len(groups) for groups, _m, _o in batch)


def send(groups: Iterable[str], message: dict, origin: str = "") -> int:
    """Push ``message`` to ``groups`` from sync code."""
    return send_many([(list(groups), message, origin)])


def push_case_event(sender, message: dict, groups: list[str], origin: str = "", **kwargs) -> None:
    """Receiver of cases.publishing.case_event_committed: the event to its audience."""
    send(groups, message, origin)
