"""What the benchmarks share: smoke mode, the server stack and waiting for it,
CPU and memory of processes (theirs, PostgreSQL's, everything else the
machine runs), a CPU hog, percentiles, the printed table, the benchmark's
Redis database, server logs and the code state they report.

Free of Django at import: the benchmarks import it before ``_benchdb.setup()``
sets Django up (what needs settings takes them as arguments, or imports
inside the function).
"""

from __future__ import annotations

import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import _benchdb

# The server's Redis (Celery broker, cache, channel layer): this logical
# database of the configured server, not the development one, so that the
# tasks it queues (no worker runs here) never reach a worker that would look
# the benchmark's ids up in the development database.
BENCH_REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "15"))
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- Options ---------------------------------------------------------------------------


def env_flag(name: str) -> bool:
    """An environment variable set to anything but empty, ``0`` or ``false``."""
    return os.environ.get(name, "") not in ("", "0", "false")


def smoke_mode(argv: list[str] | None = None) -> bool:
    """``--smoke`` on the command line or ``BENCH_SMOKE=1``: the same steps and
    checks at tiny sizes, so that tests/test_benchmarks.py can run every
    benchmark in seconds and a change that breaks one fails the suite."""
    argv = sys.argv[1:] if argv is None else argv
    return "--smoke" in argv or env_flag("BENCH_SMOKE")


def int_list(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def float_list(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- Figures ---------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0.1 steps: 99.9 works), NaN for no values."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 10) - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f}"


_WIDTH = re.compile(r"^(?P<align>[<>^]?)(?P<width>\d+)")


def table(columns: Sequence[tuple[str, str]], rows: Iterable[Sequence]) -> list[str]:
    """Lines of a table: a header, then one line per row. Each column is a
    title and a format spec with its width (``"<28"``, ``">8.1f"``, ``">9,"``);
    a title sits to the left or right as its values do."""
    specs = []
    for title, spec in columns:
        match = _WIDTH.match(spec)
        width = int(match["width"]) if match else len(title)
        left = bool(match) and match["align"] == "<"
        specs.append((title, spec, width, left))
    header = "".join(
        f"{title:<{width}}" if left else f"{title:>{width}}" for title, _, width, left in specs
    )
    lines = [header.rstrip()]
    for row in rows:
        cells = []
        for (_title, spec, _width, _left), value in zip(specs, row, strict=True):
            cells.append(format(value, spec))
        lines.append("".join(cells).rstrip())
    return lines


def print_table(columns: Sequence[tuple[str, str]], rows: Iterable[Sequence]) -> None:
    for line in table(columns, rows):
        print(line, flush=True)


# --- Processes: CPU and memory --------------------------------------------------------


def proc_stat(pid: int) -> tuple[str, float] | None:
    """(command name, CPU seconds) of a process, None when it is gone."""
    try:
        head, rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = rest.split()
    return head.split("(", 1)[1], (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_seconds(pid: int) -> float:
    stat = proc_stat(pid)
    return 0.0 if stat is None else stat[1]


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


def rss_bytes(pid: int) -> int:
    return memory(pid).get("VmRSS", 0)


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, children before their own children."""
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return found
    for tid in tasks:
        try:
            children = Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        for child in map(int, children):
            found += [child, *descendants(child)]
    return found


def machine_cpu() -> tuple[float, float]:
    """(busy, total) seconds of all CPUs since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(values[:8])  # guest time is already in user
    idle = values[3] + values[4]  # idle + iowait
    return (total - idle) / CLK_TCK, total / CLK_TCK


def other_processes_cpu(ours: set[int]) -> dict[int, float]:
    """CPU seconds of every process but PostgreSQL's and ``ours``: what else
    the machine runs (tests, editors, a CPU hog) competes with the benchmark."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in ours:
            continue
        stat = proc_stat(int(name))
        if stat is not None and stat[0] != "postgres":
            found[int(name)] = stat[1]
    return found


def database_conninfo(db: dict) -> dict:
    """psycopg's connection arguments for a database of Django's DATABASES."""
    return {
        "host": db["HOST"], "port": db["PORT"], "dbname": db["NAME"],
        "user": db["USER"], "password": db["PASSWORD"],
    }  # fmt: skip


def database_backends_cpu(database: str, exclude: int = 0) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving ``database`` (found by
    the database name in its command line)."""
    found = {}
    needle = f" {database} ".encode()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == exclude:
            continue
        stat = proc_stat(int(name))
        if stat is None or stat[0] != "postgres":
            continue
        try:
            if needle not in Path(f"/proc/{name}/cmdline").read_bytes():
                continue
        except (FileNotFoundError, ProcessLookupError):
            continue
        found[int(name)] = stat[1]
    return found


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two readings of the same processes (new ones count whole)."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


class CpuCounter:
    """CPU used between ``start()`` and ``stop()``: the machine's, ``ours``
    (the server's and the load's processes) and everything else but
    PostgreSQL (``others``), each in CPU seconds."""

    def __init__(self, ours: Iterable[int] = ()):
        self.ours = set(ours)
        self.machine_busy = self.machine_total = self.others = 0.0

    def start(self) -> None:
        self._others = other_processes_cpu(self.ours)
        self._machine = machine_cpu()

    def stop(self) -> None:
        busy, total = machine_cpu()
        self.machine_busy, self.machine_total = busy - self._machine[0], total - self._machine[1]
        self.others = spent(self._others, other_processes_cpu(self.ours))


class DatabaseSampler(threading.Thread):
    """While a phase runs, every 0.1 s: peak RSS of ``rss()`` (the server's
    processes), peak PostgreSQL connections to the database of ``conninfo``
    (other than its own) and the CPU time of the backends serving it. A
    backend that comes and goes between two samples is missed, and one that
    ends loses its last 0.1 s at most, so without a pool (a backend per
    request) the database's CPU is a floor."""

    def __init__(self, conninfo: dict, rss=lambda: 0):
        super().__init__(daemon=True)
        self.conninfo = {**conninfo, "autocommit": True}
        self.rss_now = rss
        self.stopping = threading.Event()
        self.rss = 0
        self.connections = 0
        self.after = 0
        self.backends_start = database_backends_cpu(conninfo["dbname"])
        self.backends_last: dict[int, float] = {}

    def connections_now(self, conn) -> int:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchone()[0]

    def sample(self, conn, own: int) -> None:
        self.rss = max(self.rss, self.rss_now())
        self.connections = max(self.connections, self.connections_now(conn))
        self.backends_last.update(database_backends_cpu(self.conninfo["dbname"], exclude=own))

    def run(self) -> None:
        import psycopg

        with psycopg.connect(**self.conninfo) as conn:
            own = conn.info.backend_pid
            while not self.stopping.wait(0.1):
                self.sample(conn, own)
            self.sample(conn, own)
            self.after = self.connections_now(conn)

    @property
    def database_cpu(self) -> float:
        return spent(self.backends_start, self.backends_last)

    def finish(self) -> None:
        self.stopping.set()
        self.join()


# --- A CPU hog --------------------------------------------------------------------------

# One duty cycle per process: FRACTION of each PERIOD in CPU time (not wall
# time, so that it still takes its share when it has to wait for a core),
# asleep for the rest of the period.
_HOG = """
import sys, time
fraction, period = float(sys.argv[1]), float(sys.argv[2])
while True:
    start, cpu = time.perf_counter(), time.process_time()
    while time.process_time() - cpu < fraction * period:
        pass
    time.sleep(max(0.0, period - (time.perf_counter() - start)))
"""


class CpuHog:
    """Busy-loop processes that take ``fraction`` of the machine's CPU beside
    the servers, as another tenant or a batch job would: one per core, each
    using ``fraction`` of every 50 ms in CPU time. They are not the benchmark's own
    processes, so they count among the other processes' CPU. A context
    manager; ``fraction`` 0 starts nothing."""

    PERIOD = 0.05  # s

    def __init__(self, fraction: float, processes: int | None = None):
        if not 0 <= fraction < 1:
            raise SystemExit(f"--cpu-hog takes a share of the CPU in [0, 1), not {fraction}")
        self.fraction = fraction
        self.count = (processes or len(os.sched_getaffinity(0))) if fraction else 0
        self.processes: list[subprocess.Popen] = []
        self._cpu0: dict[int, float] = {}
        self._started = 0.0

    def __enter__(self) -> CpuHog:
        for _ in range(self.count):
            self.processes.append(
                subprocess.Popen(  # noqa: S603 - our own interpreter and loop
                    [sys.executable, "-c", _HOG, str(self.fraction), str(self.PERIOD)]
                )
            )
        self._cpu0 = {p.pid: cpu_seconds(p.pid) for p in self.processes}
        self._started = time.perf_counter()
        return self

    def used(self) -> float:
        """Share of the machine's CPU the hog took since it started."""
        wall = time.perf_counter() - self._started
        if not self.processes or wall <= 0:
            return 0.0
        cpu = sum(cpu_seconds(p.pid) - self._cpu0[p.pid] for p in self.processes)
        return cpu / (wall * len(os.sched_getaffinity(0)))

    def describe(self) -> str:
        if not self.count:
            return "no CPU hog"
        return (
            f"CPU hog: {self.count} busy-loop processes, each busy {self.fraction:.0%} of "
            f"every {self.PERIOD * 1000:.0f} ms"
        )

    def __exit__(self, *exc) -> None:
        for process in self.processes:
            process.kill()
        for process in self.processes:
            process.wait()
        self.processes = []


# --- The server stack -------------------------------------------------------------------


_COLLECTED: set[Path] = set()


def collect_static(static_root: Path, environ: dict) -> None:
    """The static files as production serves them, once per process and
    folder: collected with hashed names and their pre-compressed copies
    (whitenoise's manifest storage, which pages and nginx's own error pages
    look their files up in), as bin/run does before it starts the servers."""
    if static_root in _COLLECTED:
        return
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=_benchdb.ROOT,
        env={**os.environ, **environ, "STATIC_ROOT": str(static_root)},
        check=True,
    )
    _COLLECTED.add(static_root)


class ServerStack:
    """nginx + gunicorn + uvicorn as bin/run starts them (governance/stack.py),
    on a free loopback port with the environment given: started, waited for
    until every gunicorn worker has warmed up, measured and stopped."""

    def __init__(
        self,
        *,
        workdir: Path,
        static_root: Path,
        environ: dict,
        gunicorn_workers: int | None = None,
    ):
        self.workdir = workdir
        self.media = workdir / "media"
        self.static_root = static_root
        self.environ = environ
        self.gunicorn_workers = gunicorn_workers
        self.port = free_port()
        self.stack = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        """Start and wait for the servers; seconds until they all answered."""
        from governance.stack import Stack, StackFailed

        self.media.mkdir(parents=True, exist_ok=True)
        collect_static(self.static_root, self.environ)
        started = time.perf_counter()
        self.stack = Stack(
            state_dir=self.workdir / "stack",
            static_root=self.static_root,
            media_root=self.media,
            port=self.port,
            environ=self.environ,
            gunicorn_workers=self.gunicorn_workers or None,
        )
        try:
            self.stack.start()
            self.stack.wait_ready()
        except StackFailed as exc:
            self.stop()
            raise SystemExit(str(exc)) from None
        return time.perf_counter() - started

    def fail(self, message: str) -> None:
        tail = self.log_tail()
        self.stop()
        raise SystemExit(f"{message}; server logs:\n{tail}")

    def log_tail(self, lines: int = 40) -> str:
        return self.stack.log_tail(lines) if self.stack else ""

    def log_errors(self) -> list[str]:
        if not self.stack:
            return []
        paths = [self.stack.log_path(name) for name in ("gunicorn", "uvicorn")]
        return [error for path in paths for error in log_errors(path)]

    def pids(self) -> list[int]:
        """nginx, gunicorn and uvicorn: each master, then its workers."""
        if not self.stack:
            return []
        return [
            pid
            for process in self.stack.processes.values()
            for pid in (process.pid, *descendants(process.pid))
        ]

    def cpu(self) -> dict[int, float]:
        """CPU seconds of each server process."""
        return {pid: cpu_seconds(pid) for pid in self.pids()}

    def rss(self) -> int:
        return sum(rss_bytes(pid) for pid in self.pids())

    def stop(self) -> None:
        if self.stack is not None:
            self.stack.stop()


# --- Redis, logs, code state -------------------------------------------------------------


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
