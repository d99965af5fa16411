"""Helpers for tests that run the project in another process (a server, a
management command) against this run's test database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

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
