"""The small working city of tests/cases, with SMS kept in memory, and
helpers to read the notifications an action stored."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from cases.audience import user_group
from notifications import sms
from notifications.models import Notification
from tests.cases.conftest import world  # noqa: F401 - the same small working city


@pytest.fixture(autouse=True)
def sms_outbox(settings):
    settings.NOTIFICATIONS_SMS_BACKEND = "notifications.sms.LocmemBackend"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


def stored(case=None, *, action: str | None = None, **filters) -> set[tuple[str, str, str]]:
    """(kind, channel, who) of the notifications stored, ``who`` being the
    recipient's username or the address."""
    queryset = Notification.objects.filter(**filters).select_related("recipient", "event")
    if case is not None:
        queryset = queryset.filter(case=case)
    if action is not None:
        queryset = queryset.filter(event__action=action)
    return {
        (n.kind, n.channel, n.recipient.username if n.recipient_id else n.address) for n in queryset
    }


def inbox(user) -> set[tuple[str, str]]:
    """(kind, action) of the user's inbox."""
    return set(
        Notification.objects.filter(recipient=user, channel="inbox").values_list(
            "kind", "event__action"
        )
    )


def digests(**filters) -> set[tuple[str, str, str, int]]:
    """(kind, channel, who, count) of the sweep's digests stored."""
    queryset = Notification.objects.filter(event__isnull=True, **filters).select_related(
        "recipient"
    )
    return {
        (n.kind, n.channel, n.recipient.username if n.recipient_id else n.address, n.count)
        for n in queryset
    }


@pytest.fixture
def layer():
    layer = get_channel_layer()
    async_to_sync(layer.flush)()
    yield layer
    async_to_sync(layer.flush)()


@pytest.fixture
def listen(layer):
    """A live connection joined to a user's group, as the consumer joins it."""

    def join(user) -> str:
        channel = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(user_group(user.pk), channel)
        return channel

    return join


async def _drain(layer, channel: str) -> list[dict]:
    messages = []
    while True:
        try:
            envelope = await asyncio.wait_for(layer.receive(channel), timeout=0.05)
        except TimeoutError:
            return messages
        messages.append(json.loads(envelope["text"]))


def notifications_on(layer, channel: str) -> list[dict]:
    """The ``notification`` messages the connection got so far."""
    return [m for m in async_to_sync(_drain)(layer, channel) if m["type"] == "notification"]
