"""Hot, fixed statements run as server-side prepared statements.

Django's cursors bind parameters on the client and never prepare, so every
call is parsed and planned anew. For the few statements that every request
runs (who the token belongs to, the user's scope, which grid a point is in)
that costs PostgreSQL about as much as executing them, and the ORM's query
building costs the server more than the round trip. These run on Django's
own connection (same transaction, same error translation, same health check
before the first statement of a request) and are logged as Django's own are
when it logs queries (DEBUG, tests counting queries). With
DB_PREPARE_THRESHOLD=none they run unprepared.
"""

from __future__ import annotations

import time

import psycopg
from django.db import connection


def fetchone_prepared(sql: str, params) -> tuple | None:
    """The first row of ``sql`` (``%s`` or ``%(name)s`` placeholders), or None."""
    # As Django's own cursor() does before a statement: a connection kept
    # from an earlier request is checked first (CONN_HEALTH_CHECKS).
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    started = time.monotonic()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        row = cursor.fetchone()
    if connection.queries_logged:
        connection.queries_log.append(
            {"sql": f"{sql} -- {params!r}", "time": f"{time.monotonic() - started:.3f}"}
        )
    return row
