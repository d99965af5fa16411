"""Helpers for tests that run the project in other processes (the servers, a
management command) against this run's test database."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from governance.stack import Stack, free_port

ROOT = Path(__file__).resolve().parent.parent


def database_url(settings_dict: dict) -> str:
    """DATABASE_URL of the database a connection's settings describe."""
    user = quote(settings_dict["USER"] or "", safe="")
    password = quote(settings_dict["PASSWORD"] or "", safe="")
    host = settings_dict["HOST"] or "127.0.0.1"
    port = settings_dict["PORT"] or 5432
    return f"postgis://{user}:{password}@{host}:{port}/{settings_dict['NAME']}"


def production_command(*args: str) -> subprocess.CompletedProcess:
    """``manage.py *args`` under the production settings, on the test database
    (it sees what the test committed)."""
    from django.db import connection

    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_SETTINGS_MODULE": "governance.settings.production",
        "SECRET_KEY": "a" * 20 + "-production-check-" + "b" * 30,
        "ALLOWED_HOSTS": "city.example.org",
        "DATABASE_URL": database_url(connection.settings_dict),
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


@contextlib.contextmanager
def run_server_stack(overrides: dict, *, work_dir: Path, environ: dict | None = None):
    """nginx + gunicorn + uvicorn as bin/run starts them (governance/stack.py),
    with the test settings and ``overrides`` over them
    (tests/e2e/server_settings.py), on this run's test database; yields the
    running ``Stack`` (its ``url`` is nginx's) once every server answers.
    ``environ``: more of the servers' environment."""
    from django.db import connection

    media, static = work_dir / "media", work_dir / "static"
    media.mkdir(parents=True, exist_ok=True)
    static.mkdir(parents=True, exist_ok=True)
    # One media and static root for nginx and the application alike.
    overrides = {"MEDIA_ROOT": str(media), "STATIC_ROOT": str(static), **overrides}
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_SETTINGS_MODULE": "tests.e2e.server_settings",
        "DATABASE_URL": database_url(connection.settings_dict),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "E2E_SETTINGS": json.dumps(overrides),
        **(environ or {}),
    }
    stack = Stack(
        state_dir=work_dir,
        static_root=static,
        media_root=media,
        port=free_port(),
        environ=env,
        gunicorn_workers=int(env.get("GUNICORN_WORKERS") or 2),
    )
    with stack:
        yield stack
