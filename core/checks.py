"""``manage.py check --deploy --database default``: the application's own
connection must be the runtime role, not one that could rewrite history."""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.db import DEFAULT_DB_ALIAS, connections

from . import redis_settings
from .dbroles import history_tables

ROLE_SQL = """
SELECT r.rolsuper OR r.rolcreaterole,
       EXISTS (SELECT 1 FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relowner = r.oid AND n.nspname = current_schema()),
       (SELECT string_agg(t, ', ') FROM unnest(%s::text[]) AS t
         WHERE to_regclass(t) IS NOT NULL
           AND has_table_privilege(r.oid, t, 'UPDATE, DELETE, TRUNCATE'))
  FROM pg_roles r WHERE r.rolname = current_user
"""


@checks.register(checks.Tags.database, deploy=True)
def check_runtime_role(app_configs, databases=None, **kwargs):
    # A deploy check: migrate, which connects as the owner, does not run it.
    if not databases or DEFAULT_DB_ALIAS not in databases:
        return []
    connection = connections[DEFAULT_DB_ALIAS]
    with connection.cursor() as cursor:
        cursor.execute(ROLE_SQL, [history_tables()])
        privileged, owner, rewritable = cursor.fetchone()
    hint = "Set DATABASE_URL to the runtime role (README, Database roles)."
    errors = []
    if privileged:
        errors.append(
            checks.Error(
                "The application connects as a superuser or a role that can create roles.",
                hint=hint,
                id="dbroles.E001",
            )
        )
    if owner:
        errors.append(
            checks.Error(
                "The application connects as a role that owns tables: it could alter "
                "them and switch the event log's triggers off.",
                hint=hint,
                id="dbroles.E002",
            )
        )
    if rewritable:
        errors.append(
            checks.Error(
                f"The application's role may update, delete or truncate history ({rewritable}).",
                hint="Run manage.py migrate with DATABASE_OWNER_URL set: it grants the "
                "runtime role its privileges.",
                id="dbroles.E003",
            )
        )
    return errors


@checks.register(checks.Tags.caches, "redis")
def check_redis_settings(app_configs, **kwargs):
    """Malformed Redis addresses (REDIS_URL, CHANNEL_REDIS_URLS, Sentinel),
    each named, before a worker fails on them at its first push."""
    hint = "See the README's configuration table and docs/scaling.md (Redis)."
    found = redis_settings.problems(
        redis_url=settings.REDIS_URL,
        channel_urls=settings.CHANNEL_REDIS_URLS,
        sentinels=settings.REDIS_SENTINELS,
        master=settings.REDIS_SENTINEL_MASTER,
        channel_masters=settings.CHANNEL_REDIS_MASTERS,
    )
    errors = [checks.Error(problem, hint=hint, id="redis.E001") for problem in found]
    if settings.REDIS_SENTINELS and settings.REDIS_CACHE_URL == settings.REDIS_URL:
        errors.append(
            checks.Warning(
                "Under Sentinel the cache does not follow a failover: it uses REDIS_URL "
                "as a plain address.",
                hint="Set REDIS_CACHE_URL to the Redis the cache should use.",
                id="redis.W001",
            )
        )
    return errors
