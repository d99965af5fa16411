"""A pgBackRest backup restored for real (docs/backup.md).

A throwaway PostgreSQL cluster (initdb, on a free port, reachable only on its
own socket) archives its WAL into a pgBackRest repository in a temporary
directory. After a full backup, more rows are written and a named restore
point is set between two of them. The backup is then restored twice into new
data directories, each started on a port of its own: once to the end of the
archived WAL, once to the restore point. Everything runs as the postgres
system user, as pgBackRest does in production (deploy/pgbackrest.conf.template).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.standby import PG_BIN, as_postgres, free_port, run_as_postgres

pytestmark = pytest.mark.backup

STANZA = "governance"
RESTORE_POINT = "after-the-second-report"


def why_not_possible() -> str | None:
    if shutil.which("pgbackrest") is None:
        return "pgbackrest is not installed (Debian package pgbackrest)"
    if not (PG_BIN / "initdb").exists():
        return f"no initdb in {PG_BIN}"
    if as_postgres() is None:
        return "cannot run programs as the postgres user"
    return None


class Cluster:
    """A private cluster and its pgBackRest repository, in one temporary
    directory owned by postgres."""

    def __init__(self) -> None:
        self.sudo = as_postgres()
        self.top = Path(self.run("mktemp", "-d", "-t", "governance-backup-XXXXXX").strip())
        self.data = self.top / "data"
        self.port = free_port()
        self.config = self.top / "pgbackrest.conf"
        self.started: list[tuple[Path, int]] = []

    def run(self, *args: str, input: str | None = None) -> str:
        return run_as_postgres(self.sudo, *args, input=input)

    def write(self, path: Path, text: str) -> None:
        self.run("sh", "-c", f'cat > "{path}"', input=text)

    def pgbackrest(self, *args: str) -> str:
        return self.run("pgbackrest", f"--config={self.config}", f"--stanza={STANZA}", *args)

    def create(self) -> None:
        self.run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "peer", "-E", "UTF8")
        self.write(
            self.config,
            f"[global]\n"
            f"repo1-path={self.top}/repo\n"
            f"repo1-retention-full=2\n"
            f"log-path={self.top}/log\n"
            f"lock-path={self.top}/lock\n"
            f"spool-path={self.top}/spool\n"
            f"log-level-console=warn\n"
            f"start-fast=y\n"
            f"[{STANZA}]\n"
            f"pg1-path={self.data}\n"
            f"pg1-port={self.port}\n"
            f"pg1-socket-path={self.top}\n",
        )
        settings = {
            "port": str(self.port),
            "listen_addresses": "''",
            "unix_socket_directories": f"'{self.top}'",
            "shared_buffers": "'32MB'",
            "wal_level": "replica",
            "archive_mode": "on",
            "archive_command": (
                f"'pgbackrest --config={self.config} --stanza={STANZA} archive-push %p'"
            ),
        }
        conf = self.data / "postgresql.conf"
        self.run("sh", "-c", f'cat >> "{conf}"', input=_conf(settings))
        self.start(self.data, self.port)

    def start(self, data: Path, port: int, *options: str) -> None:
        server_options = " ".join(["-p", str(port), *options])
        self.run(
            str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", f"{data}.log",
            "-o", server_options, "-w", "-t", "120", "start",
        )  # fmt: skip
        self.started.append((data, port))

    def sql(self, sql: str, port: int | None = None) -> str:
        return self.run(
            "psql", "-h", str(self.top), "-p", str(port or self.port), "-d", "postgres",
            "-v", "ON_ERROR_STOP=1", "-tAc", sql,
        ).strip()  # fmt: skip

    def restore(self, name: str, *target: str) -> int:
        """Restore the latest backup into a new data directory and start it on
        a free port, with archiving off (it must not write into the
        original's repository); the port once it has left recovery."""
        data, port = self.top / name, free_port()
        self.pgbackrest("restore", f"--pg1-path={data}", *target)
        self.start(data, port, "-c", "archive_mode=off")
        deadline = time.monotonic() + 120
        while self.sql("SELECT pg_is_in_recovery()", port) != "f":
            assert time.monotonic() < deadline, f"{name} did not finish recovery"
            time.sleep(0.2)
        return port

    def remove(self) -> None:
        for data, _port in reversed(self.started):
            subprocess.run(
                [*self.sudo, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True, timeout=60,
            )  # fmt: skip
        subprocess.run([*self.sudo, "rm", "-rf", str(self.top)], timeout=60)


def _conf(settings: dict[str, str]) -> str:
    return "".join(f"{name} = {value}\n" for name, value in settings.items())


@pytest.fixture(scope="module")
def backed_up():
    """A cluster with one row in a full backup, one more before the named
    restore point and a third after it, all archived."""
    reason = why_not_possible()
    if reason:
        pytest.skip(f"no backup test: {reason}")
    cluster = Cluster()
    try:
        cluster.create()
        cluster.sql("CREATE TABLE reports (n int PRIMARY KEY, note text)")
        cluster.sql("INSERT INTO reports VALUES (1, '井盖缺失 in the full backup')")
        cluster.pgbackrest("stanza-create")
        cluster.pgbackrest("check")
        cluster.pgbackrest("backup", "--type=full")

        cluster.sql("INSERT INTO reports VALUES (2, 'after the backup')")
        cluster.sql(f"SELECT pg_create_restore_point('{RESTORE_POINT}')")
        cluster.sql("INSERT INTO reports VALUES (3, 'after the restore point')")
        # check switches to a new WAL segment and waits until it is archived.
        cluster.pgbackrest("check")
        yield cluster
    finally:
        cluster.remove()


def rows(cluster: Cluster, port: int) -> list[str]:
    return cluster.sql("SELECT n || ':' || note FROM reports ORDER BY n", port).splitlines()


def test_the_backup_is_in_the_repository(backed_up):
    info = backed_up.pgbackrest("info")
    assert "full backup" in info and "status: ok" in info, info


def test_a_restore_replays_the_archived_wal_to_the_last_write(backed_up):
    port = backed_up.restore("latest")
    assert rows(backed_up, port) == [
        "1:井盖缺失 in the full backup",
        "2:after the backup",
        "3:after the restore point",
    ]


def test_a_point_in_time_restore_stops_at_the_restore_point(backed_up):
    port = backed_up.restore(
        "to-the-point", "--type=name", f"--target={RESTORE_POINT}", "--target-action=promote"
    )
    assert rows(backed_up, port) == ["1:井盖缺失 in the full backup", "2:after the backup"]
