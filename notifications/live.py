"""Pushing to live groups over the channel layer.

``send`` is the one way a message reaches WebSocket clients. It is called
after commit (never inside a transaction: a push for an action that then
rolls back cannot be taken back). The message is encoded to JSON once here
and handed to every consumer in the groups as text. A channel layer failure
(Redis down) is logged and swallowed: what was not pushed is recovered by
the clients' resync from the event log (docs/events.md).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder

logger = logging.getLogger(__name__)

# The consumer method that forwards a pushed message (LiveConsumer.live_message).
HANDLER = "live.message"


def _describe(message: dict) -> str:
    if message.get("type") == "notification":
        return f"notification {message.get('notification', {}).get('id')}"
    return f"{message.get('type')} {message.get('id')}"


def envelope(message: dict, origin: str = "") -> dict:
    return {
        "type": HANDLER,
        "text": json.dumps(message, cls=DjangoJSONEncoder, ensure_ascii=False),
        "origin": origin,
    }


async def send_async(groups: Iterable[str], message: dict, origin: str = "") -> int:
    """Send to each group; the number of groups the layer refused (logged)."""
    layer = get_channel_layer()
    if layer is None:
        return 0
    packed = envelope(message, origin)
    failed = 0
    for group in groups:
        try:
            await layer.group_send(group, packed)
        except Exception as exc:  # must not reach the caller
            failed += 1
            logger.error("live push of %s to %s failed: %r", _describe(message), group, exc)
    return failed


def send(groups: Iterable[str], message: dict, origin: str = "") -> int:
    """Push ``message`` to ``groups`` from sync code; see ``send_async``."""
    groups = list(groups)
    if not groups:
        return 0
    try:
        return async_to_sync(send_async)(groups, message, origin)
    except Exception:
        logger.exception("live push of %s failed", _describe(message))
        return len(groups)


def push_case_event(sender, message: dict, groups: list[str], origin: str = "", **kwargs) -> None:
    """Receiver of cases.publishing.case_event_committed: the event to its audience."""
    send(groups, message, origin)
