"""Helpers the HTTP and live benchmarks share: ports, CPU counters, the
benchmark's Redis database, server logs and the code state they report.
Free of Django: the benchmarks import it before Django is set up."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import _benchdb

# The server's Redis (Celery broker, cache, channel layer): this logical
# database of the configured server, not the development one, so that the
# tasks it queues (no worker runs here) never reach a worker that would look
# the benchmark's ids up in the development database.
BENCH_REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "15"))
CLK_TCK = os.sysconf("SC_CLK_TCK")


def smoke_mode(argv: list[str] | None = None) -> bool:
    """``--smoke`` on the command line or ``BENCH_SMOKE=1``: the same steps and
    checks at tiny sizes, so that tests/test_benchmarks.py can run every
    benchmark in seconds and a change that breaks one fails the suite."""
    argv = sys.argv[1:] if argv is None else argv
    return "--smoke" in argv or os.environ.get("BENCH_SMOKE", "") not in ("", "0", "false")


def proc_stat(pid: int) -> tuple[str, float] | None:
    """(command name, CPU seconds) of a process, None when it is gone."""
    try:
        head, rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = rest.split()
    return head.split("(", 1)[1], (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in bytes."""
    found = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                found[line.split(":")[0]] = int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return found


def int_list(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine_cpu() -> tuple[float, float]:
    """(busy, total) seconds of all CPUs since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(values[:8])  # guest time is already in user
    idle = values[3] + values[4]  # idle + iowait
    return (total - idle) / CLK_TCK, total / CLK_TCK


def bench_redis_url(redis_url: str) -> str:
    """``redis_url`` (the development Redis) with the benchmark's database, or
    ``BENCH_REDIS_URL`` when set (the smoke runs of the test suite: the test
    run's own database)."""
    if os.environ.get("BENCH_REDIS_URL"):
        return os.environ["BENCH_REDIS_URL"]
    parts = urlsplit(redis_url)
    if parts.path.lstrip("/") == str(BENCH_REDIS_DB):
        raise SystemExit(f"REDIS_URL already names database {BENCH_REDIS_DB}: give the dev one")
    return urlunsplit(parts._replace(path=f"/{BENCH_REDIS_DB}"))


def drop_queued_tasks(redis_url: str) -> int:
    """Empty the Celery queue in the benchmark's Redis database; how many were there."""
    import redis

    client = redis.Redis.from_url(bench_redis_url(redis_url))
    with client.pipeline() as pipe:
        pipe.llen("celery").delete("celery")
        queued, _deleted = pipe.execute()
    return queued


def log_tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def log_errors(path: Path) -> list[str]:
    text = path.read_text(errors="replace").splitlines()
    return [line for line in text if "Traceback" in line or " ERROR " in line]


def git(*args: str) -> str:
    command = ["git", *args]
    return subprocess.run(  # noqa: S603 - git on our own checkout
        command, cwd=_benchdb.ROOT, capture_output=True, text=True, check=True
    ).stdout


def code_state() -> str:
    """The commit the server runs, and how many tracked files differ from it."""
    try:
        head = git("rev-parse", "--short", "HEAD").strip()
        changed = git("status", "--porcelain", "--untracked-files=no").splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return f"commit {head}" + (f" with {len(changed)} files changed" if changed else "")
