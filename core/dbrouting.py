"""Reads that may lag go to a streaming replica; everything else to the primary.

``DATABASE_REPLICA_URLS`` adds the database aliases ``replica_1``,
``replica_2``… (hot standbys of the primary, connected as the runtime role).
``ReplicaRouter`` sends every write and, by default, every read to the
primary (``default``). A read goes to a replica only where code opts in with
``replica_reads()`` (a context manager and decorator: the Open311 GETs, the
list of closed or rejected cases), and even there it stays on the primary:

* inside a transaction on the primary: what a service locks, checks and
  changes (a transition, anything read for one) is read where it is written;
* in a request that writes (any POST, PUT, PATCH or DELETE, or any ORM write);
* for ``REPLICA_STICKY_SECONDS`` after the client or the signed-in user wrote
  (read-your-own-writes). The marker is kept twice: a cookie for the browser
  or anonymous client that wrote, and a cache entry for the user, so that a
  token client without cookies, or the same person on another device, also
  sees their action at once. Forging the cookie only sends one's own reads to
  the primary. A time rather than the primary's WAL position: it costs no
  query on either server, and a healthy standby replays well within it.

With no replica configured ``replica_reads()`` changes nothing.
The user's scope (``cases.policy.scope_of``) is always read on the primary's
connection, so a revoked role is never honoured late.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse

REPLICA_PREFIX = "replica_"
COOKIE = "primary_reads_until"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def replica_aliases() -> list[str]:
    """The configured replicas' database aliases, in order."""
    return sorted(alias for alias in connections.settings if alias.startswith(REPLICA_PREFIX))


def sticky_seconds() -> int:
    return getattr(settings, "REPLICA_STICKY_SECONDS", 10)


@dataclass
class _Request:
    """What the router knows of the request being served."""

    request: HttpRequest
    wrote: bool
    _user_wrote: bool | None = None

    def reads_from_primary(self) -> bool:
        if self.wrote:
            return True
        try:
            until = float(self.request.COOKIES.get(COOKIE, 0))
        except ValueError:
            until = 0
        if until > time.time():
            return True
        if self._user_wrote is None:
            # Read when first needed: by then the view has authenticated
            # token clients as well as sessions.
            user = getattr(self.request, "user", None)
            self._user_wrote = bool(
                user is not None
                and user.is_authenticated
                and cache.get(_user_key(user.pk), 0) > time.time()
            )
        return self._user_wrote


_replica: ContextVar[str | None] = ContextVar("replica_alias", default=None)
_request: ContextVar[_Request | None] = ContextVar("replica_request", default=None)


def _user_key(user_id) -> str:
    return f"dbrouting:wrote:{user_id}"


@contextmanager
def replica_reads() -> Iterator[str | None]:
    """Let the block's reads lag: they go to one replica (picked at random)
    unless the rules above keep them on the primary. Yields that replica's
    alias, or None without replicas."""
    aliases = replica_aliases()
    token = _replica.set(random.choice(aliases) if aliases else None)  # noqa: S311 - spreading load
    try:
        yield _replica.get()
    finally:
        _replica.reset(token)


def read_alias() -> str:
    """Where a read here goes: a replica or the primary (``default``)."""
    alias = _replica.get()
    if alias is None or alias not in connections.settings:
        return DEFAULT_DB_ALIAS
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return DEFAULT_DB_ALIAS
    state = _request.get()
    if state is not None and state.reads_from_primary():
        return DEFAULT_DB_ALIAS
    return alias


class ReplicaRouter:
    """Writes and migrations to the primary; reads as ``read_alias`` says."""

    def db_for_read(self, model, **hints) -> str:
        return read_alias()

    def db_for_write(self, model, **hints) -> str:
        state = _request.get()
        if state is not None:
            state.wrote = True
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True  # every alias holds the same data

    def allow_migrate(self, db, app_label, **hints) -> bool:
        return db == DEFAULT_DB_ALIAS


class ReplicaMiddleware:
    """Tells the router about the request, and after one that wrote keeps
    the client's and the user's reads on the primary for a while."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not replica_aliases():
            return self.get_response(request)
        state = _Request(request, wrote=request.method in UNSAFE_METHODS)
        token = _request.set(state)
        try:
            response = self.get_response(request)
        finally:
            _request.reset(token)
        if state.wrote:
            seconds = sticky_seconds()
            until = time.time() + seconds
            response.set_cookie(
                COOKIE,
                f"{until:.3f}",
                max_age=seconds,
                httponly=True,
                samesite="Lax",
                secure=request.is_secure(),
            )
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                cache.set(_user_key(user.pk), until, timeout=seconds)
        return response
