"""A dedicated benchmark database for benchmarks that write.

Cases and their events cannot be deleted (events are append-only by a
database trigger), so benchmarks that create or update cases run against
their own database on the same server as the development one: the name in
DATABASE_URL swapped for ``governance_bench`` (``BENCH_DB_NAME``). It is
created when missing by the owner role (DATABASE_OWNER_URL) from template1,
which has PostGIS and btree_gist in the private cluster (provisioning creates
extensions, as the superuser), migrated and given the demo city, then reused
by later runs. The benchmarks run as the runtime role, as the application
does; steps that only the owner may take (bulk loads) use
``core.dbroles.as_owner``.

Call ``setup()`` before importing anything from Django: it points
DATABASE_URL at the benchmark database, then sets Django up.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB_NAME = os.environ.get("BENCH_DB_NAME", "governance_bench")
# governance.settings.base's defaults. Not imported from there: importing the
# settings before DATABASE_URL is swapped would freeze the dev database in.
DEFAULT_DATABASE_URL = "postgis://governance_app:governance_app@127.0.0.1:54329/governance"
DEFAULT_DATABASE_OWNER_URL = "postgis://governance:governance@127.0.0.1:54329/governance"


def _conninfo(url: str, dbname: str) -> dict:
    parts = urlsplit(url)
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "dbname": dbname,
    }


def bench_url(url: str, name: str = BENCH_DB_NAME) -> str:
    """``url`` with its database name replaced by ``name``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _ensure_database(owner_url: str) -> bool:
    """Create the benchmark database when missing; True when it was created."""
    import psycopg
    from psycopg import sql

    created = False
    with psycopg.connect(**_conninfo(owner_url, "postgres"), autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DB_NAME,)
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DB_NAME)))
            created = True
    with psycopg.connect(**_conninfo(owner_url, BENCH_DB_NAME), autocommit=True) as conn:
        missing = {"postgis", "btree_gist"} - {
            name for (name,) in conn.execute("SELECT extname FROM pg_extension")
        }
    if missing:
        raise SystemExit(
            f"{BENCH_DB_NAME} lacks the extensions {sorted(missing)}: a superuser creates "
            "them (in template1 too), as bin/lib/provision.sh does"
        )
    return created


def setup(*, media_root: str | None = None) -> str:
    """Point Django at the benchmark database (creating, migrating and seeding
    it as needed), set Django up and return the database's name."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings.local")
    os.environ.setdefault("DEBUG", "false")  # no query log growing in memory
    if media_root is not None:
        os.environ["MEDIA_ROOT"] = media_root
    if "governance.settings.base" in sys.modules:
        raise SystemExit("bench/_benchdb.setup() must run before the settings are imported")

    dev_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    owner_url = os.environ.get("DATABASE_OWNER_URL") or (
        dev_url if os.environ.get("DATABASE_URL") else DEFAULT_DATABASE_OWNER_URL
    )
    if urlsplit(dev_url).path.lstrip("/") == BENCH_DB_NAME:
        raise SystemExit(f"DATABASE_URL already names {BENCH_DB_NAME}: give the dev database's")
    created = _ensure_database(owner_url)
    os.environ["DATABASE_URL"] = bench_url(dev_url)
    os.environ["DATABASE_OWNER_URL"] = bench_url(owner_url)

    import django

    django.setup()

    from django.conf import settings
    from django.core.management import call_command

    name = settings.DATABASES["default"]["NAME"]
    if name != BENCH_DB_NAME:  # never write benchmark data anywhere else
        raise SystemExit(f"Django is set up on database {name!r}, not {BENCH_DB_NAME!r}")

    from demo.city import demo_city_present

    if created:
        print(f"Created the benchmark database {BENCH_DB_NAME}.")
    call_command("migrate", interactive=False, verbosity=0)
    if not demo_city_present():
        print(f"Seeding the demo city in {BENCH_DB_NAME} first...")
        call_command("seed_demo_city", verbosity=0, stdout=io.StringIO())
    return BENCH_DB_NAME
