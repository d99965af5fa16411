"""The threads that run the live connections' database work.

Channels runs a consumer's database calls on Django's one sync thread by
default, one call at a time for the whole process. When every client
reconnects at once (a deploy, a crash), that queue is the limit. A live
connection's calls (signing in by token, reading the scope, checking a
group) read nothing another call shares and change nothing, so they run on
these threads instead, side by side: ``in_pool`` wraps a function for that.
Each thread keeps its own database connection (``CONN_MAX_AGE``), so a
uvicorn process holds at most ``THREADS`` of them for this, beside its own.

A call is handed to a thread as it is, with none of asgiref's
``sync_to_async`` around it (copying the caller's context variables there
and back, a shielded future): those calls read no context variable, and in
a storm that machinery cost the event loop more than the call itself.

Django checks a kept connection (``CONN_HEALTH_CHECKS``: a ``SELECT 1``)
before the first query of each call. In a storm these calls come back to
back, and that check was a round trip in every call: a connection that
finished a call less than ``TRUSTED_FOR`` seconds ago is taken as alive
without it. A call that then finds it dead fails (the client reconnects and
tries again) and the connection is closed after it, as Django does when a
query errs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.db import close_old_connections, connections

THREADS = 4
TRUSTED_FOR = 1.0  # seconds after a call during which its connections skip the health check
_executor = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="live-db")
_last_call = threading.local()  # when this thread's last call ended (time.monotonic())


def _run(function, args, kwargs):
    """``function`` on a pool thread, with stale database connections closed
    around it, as Channels' ``database_sync_to_async`` does (without the
    health check of a connection used a moment ago)."""
    close_old_connections()
    if time.monotonic() - getattr(_last_call, "ended", float("-inf")) < TRUSTED_FOR:
        for connection in connections.all(initialized_only=True):
            if connection.connection is not None:
                connection.health_check_done = True
    try:
        return function(*args, **kwargs)
    finally:
        close_old_connections()
        _last_call.ended = time.monotonic()


def in_pool(function):
    """``function`` awaitable from the event loop, run on a pool thread."""

    @functools.wraps(function)
    async def call(*args, **kwargs):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            _executor, functools.partial(_run, function, args, kwargs)
        )

    return call


def close_connections(timeout: float = 5.0) -> None:
    """Close every pool thread's database connections (at the end of a test,
    so that the test database can be dropped)."""
    barrier = threading.Barrier(THREADS)

    def close() -> None:
        connections.close_all()
        # Each thread waits for the others: every thread takes exactly one.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout)

    for future in [_executor.submit(close) for _ in range(THREADS)]:
        future.result()
