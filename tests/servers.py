"""Helpers for tests that run the project in another process (a server, a
management command) against this run's test database."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
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


# uvicorn on governance.asgi, as bin/run starts it: forwarded headers are
# believed only from FORWARDED_ALLOW_IPS (governance/forwarded.py).
SERVER_MAIN = """
import sys
import uvicorn
from governance.forwarded import uvicorn_options

uvicorn.run(
    "governance.asgi:application", host="127.0.0.1", port=int(sys.argv[1]),
    lifespan="on", log_level="warning", access_log=False, **uvicorn_options(),
)
"""


class ServerFailed(Exception):
    pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def run_asgi_server(overrides: dict, *, log_path: Path, environ: dict | None = None):
    """uvicorn in a process of its own with the test settings and ``overrides``
    over them (tests/e2e/server_settings.py), on this run's test database;
    yields its URL once /healthz answers. ``environ``: more of its environment."""
    from django.db import connection

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.e2e.server_settings",
        "DATABASE_URL": database_url(connection.settings_dict),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "E2E_SETTINGS": json.dumps(overrides),
        **(environ or {}),
    }

    def log_tail(lines: int = 60) -> str:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])

    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVER_MAIN, str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise ServerFailed(f"uvicorn exited with {process.returncode}:\n{log_tail()}")
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise ServerFailed(f"uvicorn did not answer within 60 s:\n{log_tail()}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
