"""Two database roles: the owner that migrates, the runtime role the application uses.

The owner (``DATABASE_OWNER_URL``) owns the database and every table; it runs
migrations and nothing else. The web server, Celery and the tests' application
code connect as the runtime role (``DATABASE_URL``): no superuser, no
CREATEROLE, no ownership. It may read and write the tables it works on, but
only read and append to history (models with ``append_only = True``, the
case event log), and it may TRUNCATE nothing. Whatever the application is
made to run, it cannot disable the log's triggers, truncate it, switch
triggers off for its session or run programs on the server.

After every ``migrate`` the owner grants the runtime role exactly that
(``grant_runtime_privileges``): new tables get their privileges from the
migration that creates them, and a table that becomes history loses UPDATE
and DELETE.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.apps import apps as django_apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction

# What the owner's connection takes from DATABASE_OWNER_URL; the database name
# stays the connection's own (the test database in tests, the benchmark one).
CREDENTIALS = ("USER", "PASSWORD", "HOST", "PORT")

# The runtime role of each alias while its connection is the owner's.
_runtime_roles: dict[str, str] = {}


def owner_credentials() -> dict | None:
    """The owner's credentials, or None when no owner is configured."""
    owner = getattr(settings, "DATABASE_OWNER", None)
    return {key: owner.get(key, "") for key in CREDENTIALS} if owner else None


def _credentials(connection) -> dict:
    return {key: connection.settings_dict.get(key, "") for key in CREDENTIALS}


def _switch(connection, credentials: dict) -> None:
    if connection.in_atomic_block:
        raise RuntimeError("database roles switch between transactions, not inside one")
    connection.close()
    if connection.settings_dict.get("OPTIONS", {}).get("pool"):
        connection.close_pool()  # the pool holds connections of the other role
    connection.settings_dict.update(credentials)


@contextmanager
def as_owner(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Run the block on ``using``'s connection as the owner role.

    The connection is closed and reopened with the owner's credentials, then
    again with its own afterwards; new connections of other threads take the
    owner's while the block runs. A no-op when no owner is configured or the
    connection is the owner's already.
    """
    connection = connections[using]
    owner = owner_credentials()
    runtime = _credentials(connection)
    if owner is None or owner == runtime:
        yield
        return
    _switch(connection, owner)
    _runtime_roles[using] = runtime["USER"]
    try:
        yield
    finally:
        del _runtime_roles[using]
        _switch(connection, runtime)


def history_tables() -> list[str]:
    """Tables the runtime role may only read and append to."""
    return sorted(
        model._meta.db_table
        for model in django_apps.get_models()
        if getattr(model, "append_only", False)
    )


def grant_runtime_privileges(*, using: str = DEFAULT_DB_ALIAS) -> str | None:
    """As the owner, give the runtime role what it needs on every table the
    owner owns, and nothing more; return the role (None: no separate role)."""
    runtime = _runtime_roles.get(using)
    connection = connections[using]
    if not runtime:
        return None
    quote = connection.ops.quote_name
    # One transaction: requests running meanwhile see the old grants or the new.
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.relkind FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND pg_get_userbyid(c.relowner) = current_user"
            " AND c.relkind IN ('r', 'p', 'v', 'm', 'S') ORDER BY c.relname"
        )
        owned = cursor.fetchall()
        history = set(history_tables())
        tables = [quote(name) for name, kind in owned if kind != "S" and name not in history]
        logs = [quote(name) for name, kind in owned if kind != "S" and name in history]
        sequences = [quote(name) for name, kind in owned if kind == "S"]
        role = quote(runtime)
        statements = []
        if tables or logs:
            statements.append(f"REVOKE ALL ON TABLE {', '.join(tables + logs)} FROM {role}")
        if tables:
            statements.append(
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE {', '.join(tables)} TO {role}"
            )
        if logs:
            statements.append(f"GRANT SELECT, INSERT ON TABLE {', '.join(logs)} TO {role}")
        if sequences:
            # nextval and currval; setval (UPDATE) stays with the owner.
            statements.append(f"REVOKE ALL ON SEQUENCE {', '.join(sequences)} FROM {role}")
            statements.append(f"GRANT USAGE, SELECT ON SEQUENCE {', '.join(sequences)} TO {role}")
        for statement in statements:
            cursor.execute(statement)
    return runtime
