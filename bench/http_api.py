"""The case API over HTTP: the real servers under 32 concurrent clients.

Starts nginx in front of gunicorn and uvicorn as bin/run does
(governance/stack.py; ``--workers`` gunicorn workers, default
GUNICORN_WORKERS or 2 per CPU) on a free loopback port against the
benchmark database, waits until every gunicorn worker has warmed up, then
drives it through nginx from a separate load process (``bench/_load.py``: asyncio clients on
keep-alive HTTP/1.1 connections, each sending its requests back to back)
through four phases, each ``--warmup`` (3 s) unmeasured, then ``--duration``
(20 s) measured:

    create          POST /api/v1/cases/ as JSON, no photo
    create_photo    POST /api/v1/cases/ multipart with one ~1 MB JPEG (noise)
    list_worker     GET /api/v1/cases/ (first page, 50) as the grid workers
    list_dispatcher GET /api/v1/cases/ as a subdistrict command centre

``--clients`` (32) bench grid workers (``bench-http-worker-NN``, each with a
DRF token and two grids of the demo city's largest subdistrict) report at
ST_PointOnSurface of one of their own grids (jittered by up to 0.0003° where
the grid covers that box) in a random category that routes to a department
(from /api/v1/categories/). ``bench-http-dispatcher`` is that subdistrict's
command centre (dispatcher, level 3): its list sees every case the create
phases ever filed there. The run prints how many cases each list could see.

Per phase: requests completed in the measured window, sustained rate
(req/s), p50/p95/p99/max latency, non-2xx responses (a sample of bodies is
printed and the run exits non-zero), server CPU per request (the server
processes, each shown when there are several), the CPU of the PostgreSQL
backends serving the benchmark database (sampled: a floor when each request
has its own backend), CPU used by unrelated processes (tests someone runs:
the 2 cores are shared, and a note says when the figures suffer from it),
peak server RSS and peak connections. After each create phase the new cases
(and photos) in the database must equal the 201 responses.

Targets: create without photo >= 100 cases/s with p95 <= 150 ms; list p95
<= 100 ms. Clients that send back to back keep 32 requests in flight, so the
mean latency is 32 / rate (Little's law): a p95 of 150 ms asks for about
215 req/s or more. ``--rate N`` sends N req/s in all on a fixed schedule
instead and times each request from when it was due, which gives the
latency at a given load rather than at saturation. A fixed schedule cannot
complete more than it offers, and the window can end with a request in
flight, so ``--rate 110`` rather than 100 shows the rate target met.

gunicorn's sync workers run one request at a time each, each keeping its
PostgreSQL connection for DB_CONN_MAX_AGE seconds (``--conn-max-age``,
default 300 as in the settings; 0 opens a connection per request). The
servers inherit the environment (GUNICORN_*, REQUEST_QUEUE_TIMEOUT_MS and
NGINX_MAX_IN_FLIGHT for load shedding, DB_POOL_MAX_SIZE for a pool instead),
and ``--settings`` names their settings module. Server CPU counts nginx,
gunicorn and uvicorn, every process. Requests shed under overload (503 with
Retry-After, README "Servers") count as non-2xx.

``--workers`` and ``--conn-max-age`` take comma-separated lists and run every
combination (fresh servers each).

Cases cannot be deleted, so this runs against the benchmark database
(``bench/_benchdb.py``), never the development one; each run adds a few
thousand cases there. Photos go to a temporary MEDIA_ROOT removed at the
end. The server uses Redis database ``BENCH_REDIS_DB`` (15) of the
configured Redis, not the development one, and the Celery tasks it queues
there (photo thumbnails: no worker runs here) are dropped at the end. About
100 s per server configuration.

``--smoke`` (or ``BENCH_SMOKE=1``): every phase with 2 clients for about a
second, with the same checks (tests/test_benchmarks.py).

Run with ``bin/bench http_api`` (``bin/bench http_api --rate 110``).
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _benchdb
from _common import (
    BENCH_REDIS_DB,
    bench_redis_url,
    code_state,
    drop_queued_tasks,
    free_port,
    int_list,
    log_errors,
    machine_cpu,
    memory,
    proc_stat,
    smoke_mode,
)

BENCH_DIR = Path(__file__).resolve().parent
PHASES = ("create", "create_photo", "list_worker", "list_dispatcher")
CREATE_RATE_TARGET = 100.0  # cases/s, without photo
CREATE_P95_TARGET = 0.150  # s
LIST_P95_TARGET = 0.100  # s
PHOTO_BYTES = 1024 * 1024  # the photo is generated within 2% of this
PHOTO_SIZE = (1200, 900)
JITTER = 0.0003  # degrees, as demo/cases.py
ASSIGNED_SINCE = date(2020, 1, 1)
# The server's Redis (Celery broker, cache, channel layer): this logical
# database of the configured server, not the development one, so that the
# thumbnail tasks it queues (no worker runs here) never reach a worker that
# would look the benchmark's photo ids up in the development database.


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--workers",
        type=int_list,
        default=[0],
        help="gunicorn workers, e.g. 2,4 (0: its default, GUNICORN_WORKERS or 2 per CPU)",
    )
    parser.add_argument(
        "--conn-max-age", type=int_list, default=[300], help="server DB_CONN_MAX_AGE, e.g. 0,300"
    )
    parser.add_argument(
        "--settings",
        default="governance.settings.local",
        help="the server's DJANGO_SETTINGS_MODULE",
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds per phase")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per phase")
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="requests/s over all clients on a fixed schedule (0: back to back)",
    )
    parser.add_argument(
        "--phases", default=",".join(PHASES), help=f"comma-separated, of: {', '.join(PHASES)}"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, same checks")
    if smoke_mode():  # explicit options still win
        parser.set_defaults(clients=2, warmup=0.3, duration=1.0)
    args = parser.parse_args()
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = set(args.phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    return args


ARGS = parse_args()
_tmp = tempfile.TemporaryDirectory(prefix="bench-http-")
BENCH_DB = _benchdb.setup(media_root=os.path.join(_tmp.name, "media"))

import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.files.storage import default_storage  # noqa: E402
from django.db import connection  # noqa: E402
from PIL import Image  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from cases.models import Case, CaseAttachment  # noqa: E402
from cases.selectors import cases_visible_to  # noqa: E402
from demo.city import CITY  # noqa: E402
from governance.stack import Stack, StackFailed  # noqa: E402
from grids.models import Area, GridAssignment, Level  # noqa: E402
from grids.selectors import grids_for_points  # noqa: E402
from organisation.models import Role, RoleMembership, User  # noqa: E402

# --- People, points, photo -----------------------------------------------------------


@dataclass
class Person:
    user: User
    token: str
    points: list[tuple[float, float, float]] = field(default_factory=list)  # lng, lat, jitter


@dataclass
class People:
    subdistrict: Area
    workers: list[Person]
    dispatcher: Person


def largest_subdistrict() -> Area:
    """The demo city's subdistrict with the most grids (ties: lowest code)."""
    city = Area.objects.get(code=CITY[0])
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT s.id FROM grids_area AS s
            JOIN grids_area AS g ON g.level = %s AND g.path LIKE s.path || '%%'
            WHERE s.level = %s AND s.path LIKE %s
            GROUP BY s.id, s.code ORDER BY count(*) DESC, s.code LIMIT 1
            """,
            [Level.GRID, Level.SUBDISTRICT, city.path + "%"],
        )
        (pk,) = cursor.fetchone()
    return Area.objects.without_geometry().get(pk=pk)


def grid_points(grid_ids: list[int]) -> dict[int, tuple[float, float, float]]:
    """Each grid's ST_PointOnSurface, with JITTER where the grid covers the
    box of that half-width around it (0 otherwise); checked to resolve to
    the same grid."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT id, ST_X(p), ST_Y(p), ST_Covers(boundary, ST_Expand(p, %s))
            FROM (SELECT id, boundary, ST_PointOnSurface(boundary) AS p
                  FROM grids_area WHERE id = ANY(%s)) AS g
            """,
            [JITTER, grid_ids],
        )
        points = {pk: (x, y, JITTER if covered else 0.0) for pk, x, y, covered in cursor}
    ids = list(points)
    matches = grids_for_points([points[pk][:2] for pk in ids])
    wrong = [pk for pk, m in zip(ids, matches, strict=True) if m is None or m.id != pk]
    if wrong:
        raise SystemExit(f"points on surface of grids {wrong} resolve to another grid")
    return points


def bench_people(clients: int) -> People:
    """Grid workers with tokens and two grids each in one subdistrict, and that
    subdistrict's dispatcher; created once, reused by later runs."""
    sub = largest_subdistrict()
    grids = list(
        Area.objects.filter(level=Level.GRID, path__startswith=sub.path)
        .without_geometry()
        .order_by("code")
        .values_list("pk", flat=True)
    )
    points = grid_points(grids)
    workers = []
    for i in range(clients):
        user, _created = User.objects.get_or_create(
            username=f"bench-http-worker-{i + 1:02d}",
            defaults={"display_name": f"Bench grid worker {i + 1}"},
        )
        RoleMembership.objects.get_or_create(user=user, role=Role.GRID_WORKER)
        mine = [grids[(2 * i) % len(grids)], grids[(2 * i + 1) % len(grids)]]
        for grid_id in mine:
            if not GridAssignment.objects.filter(user=user, grid_id=grid_id).exists():
                GridAssignment.objects.create(user=user, grid_id=grid_id, start_date=ASSIGNED_SINCE)
        token = Token.objects.get_or_create(user=user)[0].key
        workers.append(Person(user, token, [points[g] for g in mine]))
    user, _created = User.objects.get_or_create(
        username="bench-http-dispatcher",
        defaults={"display_name": "Bench subdistrict dispatcher"},
    )
    RoleMembership.objects.get_or_create(user=user, role=Role.DISPATCHER, area=sub)
    dispatcher = Person(user, Token.objects.get_or_create(user=user)[0].key)
    return People(sub, workers, dispatcher)


def noise_jpeg(path: Path, size=PHOTO_SIZE, quality=95) -> int:
    """A JPEG of random noise within 2% of PHOTO_BYTES (noise blended into a
    flat colour, the share found by bisection); returns its size."""
    noise = Image.frombytes("RGB", size, random.Random(2026).randbytes(size[0] * size[1] * 3))
    flat = Image.new("RGB", size, (120, 140, 110))
    lo, hi = 0.0, 1.0
    for _ in range(20):
        alpha = (lo + hi) / 2
        buffer = io.BytesIO()
        Image.blend(flat, noise, alpha).save(buffer, "JPEG", quality=quality)
        data = buffer.getvalue()
        if abs(len(data) - PHOTO_BYTES) <= PHOTO_BYTES * 0.02:
            break
        lo, hi = (alpha, hi) if len(data) < PHOTO_BYTES else (lo, alpha)
    else:
        raise SystemExit(f"could not make a ~1 MB photo at {size} q{quality}")
    path.write_bytes(data)
    return len(data)


# --- The server ----------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
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


def cpu_seconds(pid: int) -> float:
    stat = proc_stat(pid)
    return 0.0 if stat is None else stat[1]


def rss_bytes(pid: int) -> int:
    return memory(pid).get("VmRSS", 0)


def other_processes_cpu(ours: set[int]) -> dict[int, float]:
    """CPU seconds of every process but PostgreSQL's and ``ours``: what else
    the machine runs (tests, editors) competes with the benchmark."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in ours:
            continue
        stat = proc_stat(int(name))
        if stat is not None and stat[0] != "postgres":
            found[int(name)] = stat[1]
    return found


def bench_backends(exclude: int = 0) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving the benchmark database."""
    found = {}
    needle = f" {BENCH_DB} ".encode()
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


class Server:
    """nginx + gunicorn + uvicorn as bin/run starts them (governance/stack.py),
    on a free port against the benchmark database."""

    def __init__(self, workers: int, conn_max_age: int, workdir: Path):
        self.workers, self.conn_max_age = workers, conn_max_age
        self.workdir = workdir
        self.media = workdir / "media"
        self.port = free_port()
        self.stack: Stack | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        self.media.mkdir(parents=True)
        database_url = os.environ["DATABASE_URL"]
        if urlsplit(database_url).path.lstrip("/") != BENCH_DB:
            raise SystemExit(f"the server would not run on {BENCH_DB}: {database_url}")
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": bench_redis_url(settings.REDIS_URL),
            "DJANGO_SETTINGS_MODULE": ARGS.settings,
            "DEBUG": "false",
            "DB_CONN_MAX_AGE": str(self.conn_max_age),
        }
        started = time.perf_counter()
        self.stack = Stack(
            state_dir=self.workdir / "stack",
            static_root=Path(settings.STATIC_ROOT),
            media_root=self.media,
            port=self.port,
            environ=env,
            gunicorn_workers=self.workers or None,
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

    def get_json(self, path: str, token: str):
        request = urllib.request.Request(  # noqa: S310 - our own server on loopback
            self.base + path, headers={"Authorization": f"Token {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.load(response)

    def stop(self) -> None:
        if self.stack is not None:
            self.stack.stop()


class Sampler(threading.Thread):
    """While a phase runs, every 0.1 s: peak server RSS, peak PostgreSQL
    connections to the benchmark database (other than its own) and the CPU
    time of the backends serving them. A backend that comes and goes between
    two samples is missed, and one that ends loses its last 0.1 s at most, so
    without a pool (a backend per request) the database's CPU is a floor."""

    def __init__(self, server: Server):
        super().__init__(daemon=True)
        self.server = server
        self.stopping = threading.Event()
        self.rss = 0
        self.connections = 0
        self.after = 0
        self.backends_start = bench_backends()
        self.backends_last: dict[int, float] = {}
        db = settings.DATABASES["default"]
        self.conninfo = {
            "host": db["HOST"], "port": db["PORT"], "dbname": db["NAME"],
            "user": db["USER"], "password": db["PASSWORD"], "autocommit": True,
        }  # fmt: skip

    def connections_now(self, conn) -> int:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchone()[0]

    def sample(self, conn, own: int) -> None:
        self.rss = max(self.rss, self.server.rss())
        self.connections = max(self.connections, self.connections_now(conn))
        self.backends_last.update(bench_backends(exclude=own))

    def run(self) -> None:
        with psycopg.connect(**self.conninfo) as conn:
            own = conn.info.backend_pid
            while not self.stopping.wait(0.1):
                self.sample(conn, own)
            self.sample(conn, own)
            self.after = self.connections_now(conn)

    @property
    def database_cpu(self) -> float:
        start = self.backends_start
        return sum(t - start.get(pid, 0.0) for pid, t in self.backends_last.items())

    def finish(self) -> None:
        self.stopping.set()
        self.join()


# --- Phases --------------------------------------------------------------------------


@dataclass
class Phase:
    config: str
    name: str
    load: dict
    server_cpu: float
    server_cpu_by_process: list[float]  # the master first, then its workers
    database_cpu: float  # the benchmark database's backends (sampled)
    others_cpu: float  # processes neither ours nor PostgreSQL's (other work on the machine)
    machine_busy: float
    machine_total: float
    rss: int
    connections: int
    connections_after: int
    problems: list[str]


def spec_for(name: str, server: Server, people: People, categories, photo: Path) -> dict:
    spec = {
        "host": "127.0.0.1",
        "port": server.port,
        "kind": {"list_worker": "list", "list_dispatcher": "list"}.get(name, name),
        "path": "/api/v1/cases/",
        "warmup": ARGS.warmup,
        "duration": ARGS.duration,
        "rate": ARGS.rate,
        "seed": int(time.time()),
        "categories": categories,
        "photo": str(photo),
    }
    if name == "list_dispatcher":
        clients = [{"token": people.dispatcher.token}] * len(people.workers)
    else:
        clients = [{"token": w.token, "points": w.points} for w in people.workers]
    spec["clients"] = clients
    return spec


def filed_by(people: People) -> tuple[int, int]:
    ids = [w.user.pk for w in people.workers]
    return (
        Case.objects.filter(reporter_id__in=ids).count(),
        CaseAttachment.objects.filter(uploaded_by_id__in=ids).count(),
    )


def run_phase(config, name, server, people, categories, photo, workdir) -> Phase:
    spec_path = workdir / f"{name}.json"
    spec_path.write_text(json.dumps(spec_for(name, server, people, categories, photo)))
    cases_before, photos_before = filed_by(people)
    last_photo = CaseAttachment.objects.order_by("-id").values_list("id", flat=True).first() or 0
    connection.close()  # the parent's own connection stays out of the figures

    sampler = Sampler(server)
    sampler.start()
    ours = {os.getpid(), *server.pids()}
    others0 = other_processes_cpu(ours)
    cpu0, (busy0, total0) = server.cpu(), machine_cpu()
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and load script
        [sys.executable, str(BENCH_DIR / "_load.py"), str(spec_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ours.add(proc.pid)
    try:
        stdout, stderr = proc.communicate(timeout=ARGS.warmup + ARGS.duration + 120)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    cpu1, (busy1, total1) = server.cpu(), machine_cpu()
    others1 = other_processes_cpu(ours)
    sampler.finish()
    if proc.returncode != 0:
        server.fail(f"the load process failed ({proc.returncode}):\n{stderr[-3000:]}")
    load = json.loads(stdout.strip().splitlines()[-1])
    others = sum(t - others0.get(pid, 0.0) for pid, t in others1.items())
    per_process = [t - cpu0.get(pid, 0.0) for pid, t in cpu1.items()]

    problems = []
    if load["non_2xx"]:
        problems.append(f"{load['non_2xx']} non-2xx responses, e.g.:")
        problems += [f"    {sample}" for sample in load["failures"]]
    if load["errors"]:
        problems.append(f"{load['errors']} connection errors, e.g.:")
        problems += [f"    {sample}" for sample in load["error_samples"]]
    if name.startswith("create"):
        created = load["statuses"].get("201", 0)
        cases_after, photos_after = filed_by(people)
        expected_photos = created if name == "create_photo" else 0
        if cases_after - cases_before != created or photos_after - photos_before != (
            expected_photos
        ):
            problems.append(
                f"check failed: {created} responses 201, but {cases_after - cases_before} "
                f"new cases and {photos_after - photos_before} new photos in the database"
            )
        if name == "create_photo" and created and not stored_photo_ok(server, last_photo):
            problems.append("check failed: the last photo stored is not a 1200x900 image")
    return Phase(
        config=config,
        name=name,
        load=load,
        server_cpu=sum(per_process),
        server_cpu_by_process=per_process,
        database_cpu=sampler.database_cpu,
        others_cpu=others,
        machine_busy=busy1 - busy0,
        machine_total=total1 - total0,
        rss=sampler.rss,
        connections=sampler.connections,
        connections_after=sampler.after,
        problems=problems,
    )


def stored_photo_ok(server: Server, after_id: int) -> bool:
    """The last photo stored has the upload's pixel size (it may be re-encoded,
    so neither its bytes nor its length are compared). On the server's MEDIA_ROOT,
    or in the configured storage when that is not the file system."""
    stored = CaseAttachment.objects.filter(id__gt=after_id).order_by("-id").first()
    if stored is None:
        return False
    on_disk = server.media / stored.file.name
    try:
        source = on_disk.open("rb") if on_disk.exists() else default_storage.open(stored.file.name)
        with source, Image.open(source) as image:
            return image.size == PHOTO_SIZE
    except OSError:
        return False


def visible_counts(people: People) -> tuple[list[int], int]:
    workers = sorted(cases_visible_to(w.user).count() for w in people.workers)
    return workers, cases_visible_to(people.dispatcher.user).count()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f}"


def print_phase(p: Phase) -> None:
    load = p.load
    cores = os.cpu_count() or 1
    print(
        f"  {p.name:<16}{load['count']:>7,} in {load['seconds']:.0f} s = "
        f"{load['rate']:7.1f} req/s   p50 {ms(load['p50'])} ms  p95 {ms(load['p95'])} ms  "
        f"p99 {ms(load['p99'])} ms  max {ms(load['max'])} ms",
        flush=True,
    )
    if load["non_2xx"]:
        print(
            f"  {'':<16}served (2xx): {load['served_rate']:.1f} req/s, "
            f"p95 {ms(load['served_p95'])} ms",
            flush=True,
        )
    requests = max(load["requests"], 1)
    busy = max(p.machine_busy, 1e-9)
    rest = p.machine_busy - p.server_cpu - load["client_cpu"] - p.database_cpu - p.others_cpu
    print(
        f"  {'':<16}statuses {load['statuses']}, {load['errors']} connection errors; "
        f"response {load['response_bytes_mean'] / 1024:,.1f} KiB; server CPU "
        f"{p.server_cpu / requests * 1000:.1f} ms/request"
        + (
            " (by process: " + ", ".join(f"{t:.1f}" for t in p.server_cpu_by_process) + " s)"
            if len(p.server_cpu_by_process) > 1
            else ""
        ),
        flush=True,
    )
    print(
        f"  {'':<16}machine CPU {p.machine_busy / p.machine_total * 100:.0f}% of {cores} "
        f"cores: server {p.server_cpu / busy * 100:.0f}%, load process "
        f"{load['client_cpu'] / busy * 100:.0f}%, PostgreSQL for it "
        f"{p.database_cpu / busy * 100:.0f}% ({p.database_cpu / requests * 1000:.1f} "
        f"ms/request), other processes {p.others_cpu / busy * 100:.0f}%, kernel and the rest "
        f"{rest / busy * 100:.0f}%; server RSS peak "
        f"{p.rss / 2**20:,.0f} MiB; PostgreSQL connections peak {p.connections}, "
        f"{p.connections_after} left after",
        flush=True,
    )
    if p.others_cpu > 0.1 * p.machine_busy:
        print(
            f"  {'':<16}note: other processes used {p.others_cpu:.1f} CPU-s of this phase; "
            "the figures are lower than on a quiet machine",
            flush=True,
        )
    for line in p.problems:
        print(f"  {'':<16}{line}", flush=True)


def run_config(workers: int, conn_max_age: int, people: People, photo: Path) -> list[Phase]:
    config = f"workers={workers} conn_max_age={conn_max_age}"
    workdir = Path(tempfile.mkdtemp(prefix="run-", dir=_tmp.name))
    server = Server(workers, conn_max_age, workdir)
    try:
        up = server.start()
        categories = [
            c["code"]
            for c in server.get_json("/api/v1/categories/", people.workers[0].token)
            if c["default_department"]
        ]
        if not categories:
            server.fail("/api/v1/categories/ lists no category with a department")
        print(
            f"{config}: nginx, gunicorn and uvicorn up in {up:.1f} s on port {server.port} "
            f"({len(server.pids())} processes, RSS {server.rss() / 2**20:,.0f} MiB); "
            f"{len(categories)} routed categories",
            flush=True,
        )
        phases: list[Phase] = []
        for name in ARGS.phases:
            if name.startswith("list") and not any(p.name.startswith("list") for p in phases):
                seen, dispatcher_sees = visible_counts(people)
                print(
                    f"  lists see: each grid worker {seen[0]:,} to {seen[-1]:,} cases "
                    f"(median {statistics.median(seen):,.0f}: their 2 grids and their own "
                    f"reports); the dispatcher of {people.subdistrict.code} "
                    f"{dispatcher_sees:,} cases",
                    flush=True,
                )
            phase = run_phase(config, name, server, people, categories, photo, workdir)
            print_phase(phase)
            phases.append(phase)
        errors = server.log_errors()
        if errors:
            print(f"  server log: {len(errors)} errors, e.g. {errors[0]}")
        return phases
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        queued = drop_queued_tasks(settings.REDIS_URL)
        if queued:
            print(
                f"  dropped {queued:,} Celery tasks (thumbnails) the server queued in Redis "
                f"database {BENCH_REDIS_DB}: no worker runs here"
            )


def verdicts(phases: list[Phase]) -> list[str]:
    by = {p.name: p.load for p in phases}
    out = []
    if "create" in by:
        c = by["create"]
        ok = c["rate"] >= CREATE_RATE_TARGET and c["p95"] <= CREATE_P95_TARGET
        out.append(
            f"create {c['rate']:.0f}/s p95 {c['p95'] * 1000:.0f} ms: {'met' if ok else 'MISSED'}"
        )
    for name in ("list_worker", "list_dispatcher"):
        if name in by:
            ok = by[name]["p95"] <= LIST_P95_TARGET
            out.append(f"{name} p95 {by[name]['p95'] * 1000:.0f} ms: {'met' if ok else 'MISSED'}")
    return out


def main() -> None:
    wall = time.perf_counter()
    people = bench_people(ARGS.clients)
    photo = Path(_tmp.name) / "photo.jpg"
    photo_size = noise_jpeg(photo)
    load1 = os.getloadavg()[0]
    print(
        f"Benchmark database {BENCH_DB}: {Case.objects.count():,} cases; {ARGS.clients} clients "
        f"as {len(people.workers)} grid workers in subdistrict {people.subdistrict.code} "
        f"({people.subdistrict.name}), 2 grids each; photo 1200x900 JPEG q95 of noise, "
        f"{photo_size:,} bytes; {ARGS.warmup:g} s warm-up + {ARGS.duration:g} s measured per "
        f"phase; {os.cpu_count()} cores, load average {load1:.2f}; server settings "
        f"{ARGS.settings}, code at {code_state()}.",
        flush=True,
    )
    connection.close()

    results: list[Phase] = []
    for workers, conn_max_age in itertools.product(ARGS.workers, ARGS.conn_max_age):
        results += run_config(workers, conn_max_age, people, photo)

    print()
    print(
        f"{'config':<28}{'phase':<17}{'requests':>9}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}"
        f"{'p99 ms':>8}{'max ms':>8}{'non-2xx':>8}   CPU ms/req: server  database"
        f"{'RSS MiB':>9}{'PG conns':>9}{'others':>7}"
    )
    for p in results:
        load = p.load
        requests = max(load["requests"], 1)
        print(
            f"{p.config:<28}{p.name:<17}{load['count']:>9,}{load['rate']:>8.1f}"
            f"{load['p50'] * 1000:>8.1f}{load['p95'] * 1000:>8.1f}{load['p99'] * 1000:>8.1f}"
            f"{load['max'] * 1000:>8.1f}{load['non_2xx'] + load['errors']:>8}"
            f"{p.server_cpu / requests * 1000:>20.1f}{p.database_cpu / requests * 1000:>10.1f}"
            f"{p.rss / 2**20:>9.0f}{p.connections:>9}"
            f"{p.others_cpu / max(p.machine_busy, 1e-9) * 100:>6.0f}%"
        )
    print(
        f"targets: create (no photo) >= {CREATE_RATE_TARGET:.0f}/s with p95 <= "
        f"{CREATE_P95_TARGET * 1000:.0f} ms; list p95 <= {LIST_P95_TARGET * 1000:.0f} ms"
    )
    for config in dict.fromkeys(p.config for p in results):
        verdict = verdicts([p for p in results if p.config == config])
        if verdict:
            print(f"  {config}: " + "; ".join(verdict))
    print(f"run time: {time.perf_counter() - wall:,.1f} s")
    if any(p.problems for p in results):
        raise SystemExit("check failed: see above")


if __name__ == "__main__":
    try:
        main()
    finally:
        _tmp.cleanup()
