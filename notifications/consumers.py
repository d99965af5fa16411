"""The live WebSocket endpoint (docs/events.md).

One consumer per connection. It joins the user's own group on connecting
and the groups the client asks for, each checked when asked
(``cases.audience.may_join``); everything pushed to those groups is forwarded
as it was encoded once by ``notifications.live.send``.

Access is kept, not only checked on joining:

* a department, area or case group stays joined only while the user's scope
  allows it: the scope is read again, and the groups it no longer allows are
  left, when the user's roles or grids change (a ``scope`` control message to
  the user's own group, notifications.access) and at the first push after
  midnight (grids are assigned by the day);
* a case event that reaches the connection only through the case's own group
  is checked against the scope held in memory (``cases.policy.sees``, no
  query): the case may have left the user's scope by that very event (a
  return, a re-dispatch); the connection then leaves the case's group;
* the connection closes on a ``close`` control message: when its session
  signs out, its token is deleted, the password changes (session
  connections) or the account is deactivated.

Joining is cheap, because after a deploy or a crash every client joins at
once (a reconnection storm, ``bin/bench live``). The user's scope is read
when the connection opens, in the same trip to the database as the welcome's
last event id, and the subscriptions that follow are answered from it in
memory (``cases.audience.may_join_in``) while it is fresh; only a case
group, or an area outside the user's grids for a dispatcher or supervisor,
asks the database. What does ask runs on the threads of
``notifications.pool``, not on Django's one sync thread, so joining clients
do not queue behind one another there; for the same reason messages skip
Channels' per-message check of stale database connections (``dispatch``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time
import uuid
from collections import deque

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils import timezone
from django.utils.translation import gettext as _

from cases import audience, policy, selectors

from . import auth, live
from .pool import in_pool

logger = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
MAX_GROUPS = 200
MAX_FRAME = 4096
# A user's roles and grids are read again for a subscription after this long.
SCOPE_FRESH_SECONDS = 60
# Case events recently forwarded: one in several of the client's groups is sent once.
RECENT_EVENTS = 256

# Close codes (4000-4999 are the application's).
CLOSE_UNAUTHENTICATED = 4401  # not signed in, or signed out since (session, token, password)
CLOSE_DEACTIVATED = 4403  # the account was deactivated or deleted
# Connections read their scope again in the first push after midnight, spread
# over this many seconds so that they do not all query at once.
MIDNIGHT_SPREAD_SECONDS = 60


@in_pool
def _opened(user) -> tuple[int, policy.Scope]:
    """The last event id for the welcome, and the user's scope read afresh."""
    policy.forget_scope(user)
    scope = policy.scope_of(user)
    return selectors.latest_event_id(), scope


@in_pool
def _may_join(user, group: str, refresh: bool) -> tuple[bool, policy.Scope]:
    """Whether the user may follow ``group``, and their scope as it was read."""
    return audience.may_join(user, group, refresh=refresh), policy.scope_of(user)


@in_pool
def _rechecked(user, groups: list[str]) -> tuple[policy.Scope, list[str]]:
    """The user's scope read afresh, and those of ``groups`` it no longer allows."""
    dropped = audience.refused(user, groups, refresh=True)
    return policy.scope_of(user), dropped


@in_pool
def _events_since(user, groups: list[str], since: int) -> tuple[list[str], dict]:
    """Those of the case groups among ``groups`` that the user may no longer
    see (checked as the events API checks them: one query, and only when
    there are case groups), and the first page of events after ``since`` for
    the others (a ``resync``)."""
    dropped = audience.refused(user, [group for group in groups if group.startswith(_CASE)])
    kept = [group for group in groups if group not in dropped]
    return dropped, selectors.events_since(since=since, groups=kept, limit=selectors.EVENT_PAGE)


def _next_midnight() -> float:
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    midnight = timezone.make_aware(dt.datetime.combine(tomorrow, dt.time()))
    return midnight.timestamp() + random.uniform(0, MIDNIGHT_SPREAD_SECONDS)  # noqa: S311


_CASE = f"{audience.CASE}."  # the prefix of case groups


def _parse(text_data) -> dict | None:
    if not text_data or len(text_data) > MAX_FRAME:
        return None
    try:
        message = json.loads(text_data)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


class LiveConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.user = self.scope.get("user")
        self.joined: set[str] = set()
        self.connection_id = uuid.uuid4().hex
        self.scope_read_at = float("-inf")
        self.recent: deque[int] = deque(maxlen=RECENT_EVENTS)
        self.recent_ids: set[int] = set()
        # The scope held for checking events and answering subscriptions:
        # read on opening, and again when it changes or grows old.
        self.case_scope = policy.Scope(user_id=None)
        self.scope_expires = float("inf")
        self.ending = False
        # Accepted first, so that the close code reaches the client (a
        # handshake refused before accepting is a bare HTTP 403).
        await self.accept()
        if self.user is None or not self.user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.credential = self.scope.get("credential") or auth.credential(
            auth.SESSION, getattr(self.scope.get("session"), "session_key", None)
        )
        own = audience.user_group(self.user.pk)
        # Joined before the scope is read: a change made from then on sends
        # this connection its control message (notifications.access).
        await self._join(own)
        last_event_id, self.case_scope = await _opened(self.user)
        self._scope_read()
        await self._send(
            type="welcome",
            version=PROTOCOL_VERSION,
            connection_id=self.connection_id,
            user_id=self.user.pk,
            last_event_id=last_event_id,
            groups=[own],
        )

    async def websocket_disconnect(self, message):
        # As Channels' own, without its hop to Django's sync thread to close
        # stale database connections (see ``dispatch``): when clients drop
        # together, thousands of those queued there.
        await self.disconnect(message["code"])
        raise StopConsumer()

    async def disconnect(self, code):
        for group in list(getattr(self, "joined", ())):
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception as exc:  # the connection is gone either way
                logger.warning("leaving %s failed: %r", group, exc)
        self.joined = set()

    async def receive(self, text_data=None, bytes_data=None):
        if self.user is None or not self.user.is_authenticated or self.ending:
            return
        message = _parse(text_data)
        if message is None:
            await self._error(
                "bad_message", _("Send one JSON object of at most 4 KB as a text frame.")
            )
            return
        kind = message.get("type")
        if kind == "ping":
            await self._send(type="pong")
        elif kind == "resync":
            await self._resync(message.get("since"))
        elif kind in ("subscribe", "unsubscribe"):
            group = message.get("group")
            if not isinstance(group, str) or audience.parse_group(group) is None:
                await self._error("bad_group", _("Give a group name such as dept.3."), group)
            elif kind == "subscribe":
                await self._subscribe(group)
            else:
                await self._unsubscribe(group)
        else:
            await self._error("bad_message", _("Unknown message type."))

    async def _subscribe(self, group: str):
        if group in self.joined:
            await self._send(type="subscribed", group=group)
            return
        if len(self.joined) >= MAX_GROUPS:
            await self._error(
                "too_many_groups",
                _("A connection follows at most %(n)d groups.") % {"n": MAX_GROUPS},
                group,
            )
            return
        refresh = time.monotonic() - self.scope_read_at > SCOPE_FRESH_SECONDS
        allowed = None if refresh else audience.may_join_in(self.case_scope, group)
        if allowed is None:
            allowed, self.case_scope = await _may_join(self.user, group, refresh)
            if refresh:
                self._scope_read()
        if not allowed:
            await self._error(
                "forbidden", _("You may not follow %(group)s.") % {"group": group}, group
            )
            return
        await self._join(group)
        await self._send(type="subscribed", group=group)

    async def _resync(self, since):
        """What the client missed since event ``since``, for the groups this
        connection follows now: one page, as ``GET /api/v1/events/`` gives it.
        The groups are held to the user's access first, as the API holds them:
        the scope is read again once it has expired (midnight), and the case
        groups of cases the user no longer sees are left (a push that would
        have said so may have been lost).
        Asked once the subscriptions are answered, it covers every event the
        pushes may have missed; a client that missed nothing is answered with
        no events and needs no HTTP request."""
        if isinstance(since, bool) or not isinstance(since, int) or not 0 <= since < 2**63:
            await self._error("bad_message", _("Give since as a whole number of at least 0."))
            return
        if time.time() >= self.scope_expires:
            await self._recheck()
        dropped, page = await _events_since(self.user, sorted(self.joined), since)
        for group in dropped:
            if group in self.joined:
                await self._leave(group)
        await self._send(type="resync", since=since, **page)

    async def _unsubscribe(self, group: str):
        # The user's own group stays: notifications arrive there.
        if group in self.joined and group != audience.user_group(self.user.pk):
            await self.channel_layer.group_discard(group, self.channel_name)
            self.joined.discard(group)
        await self._send(type="unsubscribed", group=group)

    async def _join(self, group: str):
        await self.channel_layer.group_add(group, self.channel_name)
        self.joined.add(group)

    async def _leave(self, group: str):
        """Leave a group the user's scope no longer allows, and say so."""
        await self.channel_layer.group_discard(group, self.channel_name)
        self.joined.discard(group)
        await self._send(type="unsubscribed", group=group, reason="out_of_scope")

    def _scope_read(self):
        self.scope_read_at = time.monotonic()
        self.scope_expires = _next_midnight()

    async def _recheck(self):
        """Read the scope again and leave the groups it no longer allows."""
        own = audience.user_group(self.user.pk)
        groups = sorted(group for group in self.joined if group != own)
        self.case_scope, dropped = await _rechecked(self.user, groups)
        self._scope_read()
        for group in dropped:
            if group in self.joined:
                await self._leave(group)

    def _only_through_its_case(self, event) -> bool:
        """Whether a case event reached this connection through the case's
        own group alone (the others it went to are kept to the scope)."""
        return not any(
            group in self.joined for group in event["groups"] if not group.startswith(_CASE)
        )

    async def dispatch(self, message):
        # Every message goes straight to its handler. Channels' dispatch first
        # closes stale database connections, on Django's one sync thread, for
        # every message: for pushes, which touch no database, that hop was
        # most of the cost of a frame, and every joining client queued on it
        # several times. The handlers reach the database only through
        # ``in_pool``, which does that check around each call itself.
        if message["type"] == live.HANDLER:
            await self.live_message(message)
            return
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def live_message(self, event):
        """A message pushed to one of the groups (notifications.live.send)."""
        if self.ending:
            return
        if time.time() >= self.scope_expires:
            await self._recheck()
        if "groups" in event and self._only_through_its_case(event):
            case = event["case"]
            if not policy.sees(self.case_scope, **case):
                group = audience.case_group(case["case_id"])
                if group in self.joined:
                    await self._leave(group)
                return
        if event.get("origin") and event["origin"] == self.connection_id:
            return
        event_id = event.get("event_id")
        if event_id is not None:
            if event_id in self.recent_ids:
                return
            if len(self.recent) == self.recent.maxlen:
                self.recent_ids.discard(self.recent[0])
            self.recent.append(event_id)
            self.recent_ids.add(event_id)
        await self.send(text_data=event["text"])

    async def live_control(self, message):
        """A control message to the user's own group (notifications.live.control)."""
        if self.ending:
            return
        action = message.get("action")
        if action == "scope":
            await self._recheck()
        elif action == "close":
            credential = message.get("credential")
            kind = message.get("kind")
            if credential is not None and credential != self.credential:
                return
            if kind is not None and not self.credential.startswith(f"{kind}:"):
                return
            self.ending = True
            await self.close(code=message.get("code", CLOSE_UNAUTHENTICATED))

    async def _send(self, **message):
        await self.send(text_data=json.dumps(message, ensure_ascii=False))

    async def _error(self, code: str, text: str, group=None):
        message = {"type": "error", "code": code, "message": text}
        if isinstance(group, str):
            message["group"] = group[:64]
        await self._send(**message)
