"""The threads that run the live connections' database work.

Channels runs a consumer's database calls on Django's one sync thread by
default, one call at a time for the whole process. When every client
reconnects at once (a deploy, a crash), that queue is the limit. A live
connection's calls (signing in by token, reading the scope, checking a
group) read nothing another call shares and change nothing, so they run on
these threads instead, side by side: ``in_pool`` wraps a function for that.
Each thread keeps its own database connection (``CONN_MAX_AGE``), so a
uvicorn process holds at most ``THREADS`` of them for this, beside its own.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

from channels.db import DatabaseSyncToAsync
from django.db import connections

THREADS = 4
_executor = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="live-db")


def in_pool(function):
    """``function`` awaitable from the event loop, run on a pool thread with
    stale database connections closed around it, as Channels'
    ``database_sync_to_async`` does."""
    return DatabaseSyncToAsync(function, thread_sensitive=False, executor=_executor)


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
