"""A real hot standby of the test database's PostgreSQL cluster.

``pg_basebackup -R`` copies the whole cluster (the test database included)
into a temporary directory and configures it to stream from the primary; the
copy starts on a free port of its own with ``pg_ctl``. Everything runs as
the ``postgres`` system user, which reaches the primary through its local
socket (peer authentication and ``local replication`` are in the default
pg_hba.conf of the private cluster, and ``wal_level = replica`` is
PostgreSQL's default): the primary is not reconfigured. Clients reach the
standby over TCP as on the primary, with the same roles and passwords.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from django.db import connections

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
# A hot standby refuses to start with less of these than its primary has.
MATCHED_SETTINGS = (
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
)
HBA = "local all all peer\nhost all all 127.0.0.1/32 scram-sha-256\n"


def as_postgres() -> list[str] | None:
    """The command prefix that runs a program as the postgres user, or None."""
    if os.geteuid() == 0 and shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--"]
    if shutil.which("sudo"):
        probe = subprocess.run(["sudo", "-n", "-u", "postgres", "true"], capture_output=True)
        if probe.returncode == 0:
            return ["sudo", "-n", "-u", "postgres"]
    return None


def run_as_postgres(sudo: list[str], *args: str, input: str | None = None) -> str:
    """Run a program as the postgres user (``sudo``: what as_postgres gave);
    its output, or RuntimeError with what it said."""
    done = subprocess.run([*sudo, *args], input=input, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} failed: {done.stderr.strip() or done.stdout}")
    return done.stdout


def why_not_possible() -> str | None:
    """Why no standby can be built here, or None."""
    if not (PG_BIN / "pg_basebackup").exists():
        return f"no pg_basebackup in {PG_BIN}"
    if as_postgres() is None:
        return "cannot run programs as the postgres user"
    host = connections["default"].settings_dict["HOST"] or "localhost"
    if host not in ("localhost", "127.0.0.1", "::1") and not host.startswith("/"):
        return f"the test database is on another machine ({host})"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Standby:
    """A streaming hot standby of the cluster behind the ``default`` alias."""

    def __init__(self) -> None:
        self.sudo = as_postgres()
        self.port = free_port()
        self.top: Path | None = None

    def _run(self, *args: str, input: str | None = None) -> str:
        return run_as_postgres(self.sudo, *args, input=input)

    def _write(self, path: Path, text: str) -> None:
        self._run("sh", "-c", f'cat > "{path}"', input=text)

    def start(self) -> None:
        port = str(connections["default"].settings_dict["PORT"] or 5432)
        # On the primary through its local socket, as the postgres superuser.
        matched = {
            name: self._run("psql", "-p", port, "-d", "postgres", "-tAc", f"SHOW {name}").strip()
            for name in MATCHED_SETTINGS
        }
        self.top = Path(self._run("mktemp", "-d", "-t", "governance-standby-XXXXXX").strip())
        data = self.top / "data"
        self._run(
            str(PG_BIN / "pg_basebackup"), "-p", port, "-D", str(data),
            "-R", "-X", "stream", "-c", "fast",
        )  # fmt: skip
        config = {
            "port": str(self.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.top}'",
            "hot_standby": "on",
            "shared_buffers": "'32MB'",
            "fsync": "off",  # a throwaway copy
            **matched,
        }
        self._write(data / "postgresql.conf", "".join(f"{k} = {v}\n" for k, v in config.items()))
        self._write(data / "pg_hba.conf", HBA)
        self._run(
            str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(self.top / "log"),
            "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self) -> None:
        if self.top is None:
            return
        subprocess.run(
            [*self.sudo, str(PG_BIN / "pg_ctl"), "-D", str(self.top / "data"),
             "-m", "immediate", "stop"],
            capture_output=True, timeout=60,
        )  # fmt: skip
        subprocess.run([*self.sudo, "rm", "-rf", str(self.top)], capture_output=True, timeout=60)
        self.top = None

    def superuser_sql(self, sql: str) -> str:
        """Run ``sql`` on the standby as the postgres superuser; its output."""
        return self._run(
            "psql", "-h", str(self.top), "-p", str(self.port), "-d", "postgres",
            "-v", "ON_ERROR_STOP=1", "-tAc", sql,
        ).strip()  # fmt: skip

    def pause_replay(self) -> None:
        self.superuser_sql("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self.superuser_sql("SELECT pg_wal_replay_resume()")

    def wait_replayed(self, alias: str, timeout: float = 30.0) -> None:
        """Return once ``alias`` (this standby) has replayed everything the
        primary had written when called."""
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_lsn()")
            target = cursor.fetchone()[0]
        deadline = time.monotonic() + timeout
        with connections[alias].cursor() as cursor:
            while True:
                cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
                if cursor.fetchone()[0]:
                    return
                if time.monotonic() > deadline:
                    raise AssertionError(f"the standby did not replay up to {target}")
                time.sleep(0.05)

    def settings_for(self, primary: dict) -> dict:
        """Database settings of the standby's copy of the primary's database,
        connected as the same role."""
        return {**primary, "HOST": "127.0.0.1", "PORT": str(self.port), "CONN_MAX_AGE": 0}
