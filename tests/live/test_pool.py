"""The live connections' database threads (notifications.pool): a connection
used a moment ago is not health-checked again before the next call."""

import threading

import psycopg
import pytest
from django.db import connection, connections

from notifications import pool

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.anyio]


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def kept_connections(monkeypatch):
    """Connections kept between calls, as in production (the tests close them)."""
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 60)


@pytest.fixture
def checks(monkeypatch) -> list[int]:
    """The threads that ran Django's health check (``SELECT 1``)."""
    seen: list[int] = []
    execute = psycopg.Cursor.execute

    def counted(self, query, *args, **kwargs):
        if str(query).strip() == "SELECT 1":
            seen.append(threading.get_ident())
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", counted)
    return seen


@pool.in_pool
def one_query() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM cases_case")
    return threading.get_ident()


async def calls_on_threads_used_before(checks: list[int]) -> list[bool]:
    """Eight calls one after the other (at most four threads: some run on a
    thread whose connection a call of this test opened); for each of those,
    whether it was health-checked."""
    seen, checked = set(), []
    for _ in range(8):
        before = len(checks)
        thread = await one_query()
        if thread in seen:
            checked.append(thread in checks[before:])
        seen.add(thread)
    return checked


async def test_a_connection_used_a_moment_ago_is_not_checked_again(
    kept_connections, checks, monkeypatch
):
    checked = await calls_on_threads_used_before(checks)
    assert checked and not any(checked)
    # Idle for longer than TRUSTED_FOR (here: any time at all), it is checked.
    monkeypatch.setattr(pool, "TRUSTED_FOR", 0.0)
    checked = await calls_on_threads_used_before(checks)
    assert checked and all(checked)
