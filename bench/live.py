"""Live updates over WebSocket: thousands of clients on one uvicorn process.

Starts uvicorn (``governance.asgi:application``, one process, ``--ws``
implementation) on a free loopback port against the benchmark database and
the real channel layer (channels_redis' RedisPubSubChannelLayer on the Redis
of REDIS_URL, database ``BENCH_REDIS_DB``, with a channel prefix of this
run's own: see bench/_live_settings.py). Then, for each ``--clients`` count
(1,000 then 5,000), on a fresh server:

1. Connect. A load process (``bench/_live_load.py``; ``--load-processes``
   of them, each an asyncio loop with the ``websockets`` client) opens the
   connections at ``--ramp`` per second, authenticated with
   ``Authorization: Token <key>`` and no Origin, and subscribes each to its
   user's standing groups (``cases.audience.standing_groups``: ``dept.<id>``
   for handlers, ``area.<id>`` for dispatchers and grid workers); each
   ``subscribe`` must be answered ``subscribed``.
2. Drive. Driver processes (``bench/_live_driver.py``; ``--driver-processes``
   of ``--driver-threads`` threads each: one Python process cannot use more
   than a core) take cases through report → register → dispatch →
   acknowledge → report_back → inspect_pass with the real services at
   ``--rate`` actions per second in all: ``--warmup`` seconds, then
   ``--duration`` seconds measured. Cases are reported in the grids of the
   connected grid workers (``--worker-share`` of them by that worker, the
   rest as hotline calls), so every event reaches the grid's worker, the
   dispatchers of its subdistrict, district and city and the handlers of its
   department. The drivers record when each event's transaction committed
   and how long the pushes after it took (``notifications.live``: sync code
   publishes over the process's kept Redis connection). With ``--push-from loop``
   (the default) the services run from an event loop through
   ``sync_to_async``, as for an API request under uvicorn; with ``thread``
   in plain threads, as in a Celery task. A probe after the run compares
   that publisher with ``async_to_sync`` (an event loop per push).
   Storm. Before driving, ``--storms`` reconnection storms (3 by default):
   uvicorn is stopped and started again on the same port, as on a deploy
   or after a crash (``--no-storm-restart``: the clients hang up
   themselves and the server stays), and every client reconnects at once,
   each after a random wait of up to ``--storm-jitter`` seconds (the first
   backoff of static/governance/live.js, full jitter; 0: all at the same
   instant), subscribes again and resyncs: a ``resync`` message since N
   (N: the last event id before the drop) over the socket, then ``GET
   /api/v1/events/?since=M`` only while the answer says ``has_more``.
   While they are away, ``--storm-reports`` cases are reported in their
   grids (hotline calls), so that many of them have events to resync.
   Printed: the time from the reconnect signal to the last client
   resynced, to the last one subscribed, and the failures. ``--no-drive``
   stops after the storms.
3. Check. ``--grace`` seconds after the window ends, and once no message
   has come for 2 s (at most ``--drain`` seconds more: a server that fell
   behind is still delivering), the clients hang up.
   For every client the events it should have received are read from the
   event log: the CaseEvent rows committed in the measured window whose
   ``audience`` shares a group with the groups the client joined. Missing
   events are lost; a second copy of an event is a duplicate (counted apart
   when the client follows several of the event's groups: the server sends
   such an event once).

Clients. Of every ten bench users (``bench-live-*``, created once with DRF
tokens and reused), seven are grid workers with two grids each (assigned from
2020 on, so today too; the city's grids shuffled, so 1,000 clients cover
1,400 grids over the whole city), two are handlers spread over the active
departments and one a dispatcher: most at subdistrict command centres, every
tenth at a district and every fiftieth at the city's. The first N users are
the N clients, so 1,000 and 5,000 clients have the same mix.

Figures per phase: connect time (first connection to the last client ready)
and failures; latency from commit to the client reading the frame
(``time.time()`` on both sides) p50/p95/p99/max over every delivery (first
copy per client and event), deliveries, fan-out per event; lost,
duplicated and unexpected events; the transitions achieved per second and
what the push costs the driver; uvicorn RSS (VmRSS) before connecting,
with everyone connected, and its peak (VmHWM); CPU during the measured
window of the server (and apart, its HTTP worker processes: ``http``), the
load and driver processes, Redis, PostgreSQL for the benchmark database,
and of unrelated processes (tests someone runs: the 2 cores are shared,
and a note says when the figures suffer from it).
The load process's own event loop lag is shown too: it adds to the
latencies it measures.

Targets on this machine: p95 <= 250 ms, nothing lost, 5,000 connections
held in <= 1 GiB.

The driver stands in for the rest of a deployment: the API processes whose
actions make the events (services, notifications, their PostgreSQL work:
about 20 ms of CPU per transition, more than a core at 50/s). In production
they run on cores of their own; here they share 2 cores with the server
under test and the clients, and their bursts (a dispatch notifies a whole
department) take the CPU from the server for hundreds of milliseconds at a
time. So the drivers run at ``--driver-nice`` 10 by default: the server and
the clients go first, and the drivers still keep the rate (the achieved
rate is printed and checked). ``--driver-nice 0`` measures them at equal
priority. Exits non-zero when an event was lost, a client failed
(to connect, to subscribe, or was disconnected) or the driver's actions
failed.

Cases cannot be deleted, so this runs against the benchmark database
(``bench/_benchdb.py``); each phase adds about ``rate * (warmup +
duration) / 6`` cases there. Report-back photos go to a temporary
MEDIA_ROOT; the thumbnail tasks they queue (no worker runs here) are
dropped from Redis database ``BENCH_REDIS_DB`` at the end.

Run with ``bin/bench live`` (``bin/bench live --clients 200 --duration 10``;
``--ws websockets,websockets-sansio`` compares uvicorn's two WebSocket
implementations; ``--deflate on,off`` whether the clients offer
permessage-deflate, which the server, run as bin/run runs it, declines).
``--smoke`` (or ``BENCH_SMOKE=1``): 10 clients and a few transitions for a
few seconds, with the same checks (tests/test_benchmarks.py).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import os
import queue
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _benchdb
from _harness import (
    BENCH_REDIS_DB,
    bench_redis_url,
    code_state,
    drop_queued_tasks,
    free_port,
    int_list,
    log_errors,
    log_tail,
    machine_cpu,
    memory,
    proc_stat,
    smoke_mode,
)

BENCH_DIR = Path(__file__).resolve().parent
P95_TARGET = 0.250  # s
RSS_TARGET = 2**30  # bytes, with 5,000 connections
RSS_TARGET_CLIENTS = 5000
ASSIGNED_SINCE = date(2020, 1, 1)
# Seven grid workers, two handlers and one dispatcher in every ten users.
ROLE_PATTERN = ("W", "H", "W", "W", "W", "D", "W", "W", "H", "W")
GRIDS_PER_WORKER = 2
SHUFFLE_SEED = 2026
SAMPLE_PERIOD = 0.5  # s
QUIET = 2.0  # s without a delivery after which a load process hangs up
SLICES = 6  # parts of the window the latency is shown for
CLIENTS_PER_LOAD_PROCESS = 2500  # --load-processes auto


def str_list(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", type=int_list, default=[1000, 5000], help="e.g. 1000,5000")
    parser.add_argument("--rate", type=float, default=50.0, help="transitions/s")
    parser.add_argument("--warmup", type=float, default=10.0, help="unmeasured seconds of driving")
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds")
    parser.add_argument(
        "--grace", type=float, default=5.0, help="seconds after the window before hanging up"
    )
    parser.add_argument(
        "--drain",
        type=float,
        default=120.0,
        help="after the grace, seconds to wait at most for deliveries still coming",
    )
    parser.add_argument("--ramp", type=float, default=200.0, help="new connections/s")
    parser.add_argument(
        "--handshakes", type=int, default=100, help="connections opening at once at most"
    )
    parser.add_argument(
        "--ws",
        type=str_list,
        default=["websockets-sansio"],
        help="uvicorn --ws implementations, e.g. websockets,websockets-sansio (as bin/run: "
        "websockets-sansio)",
    )
    parser.add_argument(
        "--deflate",
        type=str_list,
        default=["on"],
        help="clients offer permessage-deflate (on, as browsers do) or not (off); e.g. on,off",
    )
    parser.add_argument(
        "--load-processes",
        default="auto",
        help=f"client processes (auto: one per {CLIENTS_PER_LOAD_PROCESS:,} clients)",
    )
    parser.add_argument(
        "--server-log-level",
        default="info",
        help="uvicorn's --log-level (info, as bin/run: three lines per WebSocket connection)",
    )
    parser.add_argument("--storms", type=int, default=3, help="reconnection storms (0: none)")
    jitter = "seconds over which a storm's clients spread their first reconnect (0: at once)"
    parser.add_argument("--storm-jitter", type=float, default=1.0, help=jitter)
    parser.add_argument(
        "--storm-reports",
        type=int,
        default=20,
        help="cases reported in the clients' grids while they are away, for them to resync",
    )
    for flag, text in (
        ("--storm-restart", "restart uvicorn for a storm (as a deploy), or let clients hang up"),
        ("--drive", "drive transitions after the storms (--no-drive: connect and storms only)"),
    ):
        parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=True, help=text)
    parser.add_argument("--driver-processes", type=int, default=2)
    parser.add_argument(
        "--push-from",
        choices=("thread", "loop"),
        default="loop",
        help="driver services in plain threads (as a Celery task) or run from an event loop "
        "(as an API request under uvicorn): see bench/_live_driver.py",
    )
    parser.add_argument("--driver-threads", type=int, default=4, help="per driver process")
    parser.add_argument(
        "--driver-nice",
        type=int,
        default=10,
        help="niceness of the driver processes (e.g. 10: the server and clients go first)",
    )
    parser.add_argument("--in-flight", type=int, default=8, help="open cases per driver thread")
    parser.add_argument(
        "--worker-share", type=float, default=0.5, help="share of cases reported by grid workers"
    )
    parser.add_argument(
        "--probe", type=int, default=100, help="pushes timed after the run (0: none)"
    )
    parser.add_argument(
        "--settings",
        default="bench._live_settings",
        help="DJANGO_SETTINGS_MODULE of the server and the driver",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, same checks")
    if smoke_mode():  # explicit options still win
        parser.set_defaults(
            clients=[10], rate=4.0, warmup=1.0, duration=2.0, grace=1.0, drain=10.0,
            driver_processes=1, driver_threads=2, in_flight=2, probe=5, storm_reports=3,
        )  # fmt: skip
    args = parser.parse_args()
    if any(d not in ("on", "off") for d in args.deflate):
        parser.error("--deflate takes on and/or off")
    if args.load_processes != "auto" and not args.load_processes.isdigit():
        parser.error("--load-processes takes a number or auto")
    return args


ARGS = parse_args()
_tmp = tempfile.TemporaryDirectory(prefix="bench-live-")
BENCH_DB = _benchdb.setup(media_root=os.path.join(_tmp.name, "media"))

from django.conf import settings  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from cases import services  # noqa: E402
from cases.audience import standing_groups  # noqa: E402
from cases.models import Case, CaseEvent, Category, Source  # noqa: E402
from demo.city import CITY  # noqa: E402
from governance.forwarded import uvicorn_args  # noqa: E402
from grids.models import Area, GridAssignment, Level  # noqa: E402
from organisation.models import Department, Role, RoleMembership, User  # noqa: E402

# --- People ------------------------------------------------------------------------------


@dataclass
class Client:
    index: int
    user_id: int
    token: str
    role: str
    groups: list[str]  # standing groups to subscribe to (the own group is joined on connecting)
    grids: list[int] = field(default_factory=list)


ROLE_NAMES = {"W": "grid worker", "H": "handler", "D": "dispatcher"}


def city_areas() -> tuple[Area, list[int], list[int], list[int]]:
    """The city, its districts, subdistricts and grids (ids, by code)."""
    city = Area.objects.without_geometry().get(code=CITY[0])

    def ids(level: int) -> list[int]:
        return list(
            Area.objects.filter(level=level, path__startswith=city.path)
            .order_by("code")
            .values_list("pk", flat=True)
        )

    return city, ids(Level.DISTRICT), ids(Level.SUBDISTRICT), ids(Level.GRID)


def plan_people(n: int) -> list[dict]:
    """Who the first ``n`` bench users are: username, role and scope."""
    city, districts, subdistricts, grids = city_areas()
    grids = grids[:]
    random.Random(SHUFFLE_SEED).shuffle(grids)
    departments = list(
        Department.objects.filter(is_active=True).order_by("code").values_list("pk", flat=True)
    )
    counters: Counter = Counter()
    plans = []
    for i in range(n):
        kind = ROLE_PATTERN[i % len(ROLE_PATTERN)]
        k = counters[kind]
        counters[kind] += 1
        if kind == "W":
            plan = {
                "username": f"bench-live-worker-{k + 1:05d}",
                "role": Role.GRID_WORKER,
                "grids": [
                    grids[(GRIDS_PER_WORKER * k + j) % len(grids)] for j in range(GRIDS_PER_WORKER)
                ],
            }
        elif kind == "H":
            plan = {
                "username": f"bench-live-handler-{k + 1:05d}",
                "role": Role.HANDLER,
                "department": departments[k % len(departments)],
            }
        else:
            if k % 50 == 0:
                area = city.pk
            elif k % 10 == 0:
                area = districts[(k // 10) % len(districts)]
            else:
                area = subdistricts[counters["D-sub"] % len(subdistricts)]
                counters["D-sub"] += 1
            plan = {
                "username": f"bench-live-dispatcher-{k + 1:05d}",
                "role": Role.DISPATCHER,
                "area": area,
            }
        plan["kind"] = kind
        plans.append(plan)
    return plans


def bench_people(n: int) -> list[Client]:
    """The first ``n`` bench users with their tokens and standing groups,
    created (with their roles, grids and tokens) where missing."""
    plans = plan_people(n)
    names = [p["username"] for p in plans]
    existing = set(User.objects.filter(username__in=names).values_list("username", flat=True))
    unusable = make_password(None)
    User.objects.bulk_create(
        [
            User(username=p["username"], display_name=f"Bench {p['username'][11:]}",
                 password=unusable)
            for p in plans
            if p["username"] not in existing
        ],
        batch_size=1000,
    )  # fmt: skip
    users = dict(User.objects.filter(username__in=names).values_list("username", "pk"))
    have_token = set(
        Token.objects.filter(user_id__in=users.values()).values_list("user_id", flat=True)
    )
    Token.objects.bulk_create(
        [Token(user_id=pk, key=Token.generate_key()) for pk in users.values()
         if pk not in have_token],
        batch_size=1000,
    )  # fmt: skip
    tokens = dict(Token.objects.filter(user_id__in=users.values()).values_list("user_id", "key"))

    memberships = set(
        RoleMembership.objects.filter(user_id__in=users.values()).values_list(
            "user_id", "role", "area_id", "department_id"
        )
    )
    assignments = set(
        GridAssignment.objects.filter(user_id__in=users.values()).values_list("user_id", "grid_id")
    )
    created = 0
    with transaction.atomic():
        new_assignments = []
        for p in plans:
            pk = users[p["username"]]
            key = (pk, p["role"], p.get("area"), p.get("department"))
            if key not in memberships:
                # One by one: a handler's membership also puts them in the
                # department's permission group (organisation.signals).
                RoleMembership.objects.create(
                    user_id=pk, role=p["role"], area_id=p.get("area"),
                    department_id=p.get("department"),
                )  # fmt: skip
                created += 1
            for grid in p.get("grids", ()):
                if (pk, grid) not in assignments:
                    new_assignments.append(
                        GridAssignment(user_id=pk, grid_id=grid, start_date=ASSIGNED_SINCE)
                    )
        GridAssignment.objects.bulk_create(new_assignments, batch_size=1000)
    if created:
        print(f"Created {created:,} bench users' roles.", flush=True)

    started = time.perf_counter()
    clients = []
    by_pk = User.objects.in_bulk(list(users.values()))
    for i, p in enumerate(plans):
        user = by_pk[users[p["username"]]]
        groups = standing_groups(user)
        own = f"user.{user.pk}"
        if not groups or groups[0] != own or len(groups) < 2:
            raise SystemExit(f"{user.username}: standing groups {groups!r}")
        clients.append(
            Client(i, user.pk, tokens[user.pk], p["kind"], groups[1:], p.get("grids", []))
        )
    print(
        f"Standing groups of {n:,} users read in {time.perf_counter() - started:.1f} s.",
        flush=True,
    )
    return clients


def actors() -> tuple[int, dict[int, int], list[int]]:
    """The city dispatcher (hotline, register, dispatch, inspect), one handler
    per active department (as bench/case_transitions.py) and the routed
    categories."""
    dispatcher = User.objects.get(username="dispatcher").pk
    handlers = {}
    for department in Department.objects.filter(is_active=True):
        user, _created = User.objects.get_or_create(
            username=f"bench-handler-{department.code.lower()}",
            defaults={"display_name": f"Bench handler {department.code}"},
        )
        RoleMembership.objects.get_or_create(user=user, role=Role.HANDLER, department=department)
        handlers[department.pk] = user.pk
    categories = list(
        Category.objects.filter(is_active=True, default_department__is_active=True)
        .order_by("code")
        .values_list("pk", flat=True)
    )
    return dispatcher, handlers, categories


def grid_boxes(clients: list[Client]) -> list[list]:
    """[grid, its worker, x0, y0, x1, y1] for every grid of the clients'
    grid workers: the grid's bounding box shrunk by 10% on each side (demo
    grids are rectangles, so a point in it is inside the grid)."""
    worker_of: dict[int, int] = {}
    for c in clients:
        for grid in c.grids:
            worker_of.setdefault(grid, c.user_id)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, ST_XMin(boundary), ST_YMin(boundary), ST_XMax(boundary), "
            "ST_YMax(boundary) FROM grids_area WHERE id = ANY(%s) ORDER BY id",
            [list(worker_of)],
        )
        boxes = []
        for pk, x0, y0, x1, y1 in cursor.fetchall():
            dx, dy = (x1 - x0) * 0.1, (y1 - y0) * 0.1
            boxes.append([pk, worker_of[pk], x0 + dx, y0 + dy, x1 - dx, y1 - dy])
    return boxes


# --- Processes ---------------------------------------------------------------------------


def raise_fd_limit() -> int:
    """The soft limit of open files raised to the hard one (inherited by the
    server and the load processes: a connection is a file on each side)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def process_cpu(ours: dict[str, set[int]]) -> dict[int, tuple[str, float]]:
    """Every process's kind and CPU seconds: ours (server, load, driver,
    bench), ``redis``, ``database`` (PostgreSQL's backends for the benchmark
    database and its own background processes) and ``others`` (everything
    else, other databases' backends included: tests someone runs)."""
    pid_kind = {pid: kind for kind, pids in ours.items() for pid in pids}
    found = {}
    needle = f" {BENCH_DB} ".encode()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        stat = proc_stat(pid)
        if stat is None:
            continue
        command, seconds = stat
        kind = pid_kind.get(pid)
        if kind is None:
            if command == "redis-server":
                kind = "redis"
            elif command == "postgres":
                try:
                    cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
                except (FileNotFoundError, ProcessLookupError):
                    continue
                backend = b"(" in cmdline or b"[local]" in cmdline
                kind = "database" if needle in cmdline or not backend else "others"
            else:
                kind = "others"
        found[pid] = (kind, seconds)
    return found


class Sampler(threading.Thread):
    """Every SAMPLE_PERIOD: each process's CPU seconds (see ``process_cpu``),
    the machine's and the server's RSS. A process that ends between two
    samples keeps the CPU of its last sample."""

    def __init__(self, ours: dict[str, set[int]], server_pid: int, http_pids=None):
        super().__init__(daemon=True)
        self.ours = ours
        self.http_pids = http_pids  # a callable: the HTTP server's processes now
        self.server_pid = server_pid
        self.samples: list[tuple[float, dict[int, tuple[str, float]], tuple[float, float]]] = []
        self.stopping = threading.Event()
        self.seen: dict[int, tuple[str, float]] = {}

    def sample(self) -> None:
        if self.http_pids is not None:
            self.ours["http"] |= self.http_pids()
        current = process_cpu(self.ours)
        self.seen.update(current)
        self.samples.append((time.time(), dict(self.seen), machine_cpu()))

    def run(self) -> None:
        while not self.stopping.wait(SAMPLE_PERIOD):
            self.sample()

    def finish(self) -> None:
        self.stopping.set()
        self.join()

    def between(self, start: float, end: float) -> tuple[dict[str, float], float, float, float]:
        """CPU seconds by kind (``rest``: the machine's busy time no process
        accounts for: processes that came and went between two samples,
        interrupts), machine busy and total seconds, and the seconds covered,
        from the last sample at or before ``start`` to the first at or after
        ``end``."""
        before = [s for s in self.samples if s[0] <= start] or self.samples[:1]
        after = [s for s in self.samples if s[0] >= end] or self.samples[-1:]
        (t0, cpu0, machine0), (t1, cpu1, machine1) = before[-1], after[0]
        cpu: dict[str, float] = defaultdict(float)
        for pid, (kind, seconds) in cpu1.items():
            cpu[kind] += max(0.0, seconds - cpu0.get(pid, (kind, 0.0))[1])
        busy = machine1[0] - machine0[0]
        cpu["rest"] = max(0.0, busy - sum(cpu.values()))
        return dict(cpu), busy, machine1[1] - machine0[1], t1 - t0


def _launch(command: list[str], env: dict, log_path: Path) -> subprocess.Popen:
    with open(log_path, "wb") as log:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command, cwd=_benchdb.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )


def _until_healthy(proc: subprocess.Popen, port: int, timeout: float) -> str:
    """Wait for /healthz on ``port`` to answer 200: "" then, else what went wrong."""
    started = time.perf_counter()
    while time.perf_counter() < started + timeout:
        if proc.poll() is not None:
            return f"exited with {proc.returncode}"
        try:
            url = f"http://127.0.0.1:{port}/healthz"
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return ""
        except OSError:
            pass
        time.sleep(0.2)
    return f"/healthz did not answer 200 within {timeout:.0f} s"


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class HttpServer:
    """gunicorn (as the stack runs it, governance/stack.py) for the clients'
    resync over HTTP: uvicorn serves only the WebSocket. It stays up while
    uvicorn restarts for a storm."""

    def __init__(self, workdir: Path):
        self.log_path = workdir / "gunicorn.log"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self, env: dict) -> None:
        command = [
            sys.executable, "-m", "gunicorn",
            "-c", str(_benchdb.ROOT / "deploy" / "gunicorn.conf.py"),
            "--bind", f"127.0.0.1:{self.port}", "governance.wsgi:application",
        ]  # fmt: skip
        self.proc = _launch(command, env, self.log_path)
        if problem := _until_healthy(self.proc, self.port, 90):
            self.stop()
            raise SystemExit(f"gunicorn {problem}:\n{log_tail(self.log_path, 40)}")

    def stop(self) -> None:
        _stop(self.proc)


class Server:
    """uvicorn, one process, on a free port against the benchmark database
    (the WebSocket), with gunicorn beside it for HTTP (``HttpServer``)."""

    def __init__(self, ws: str, workdir: Path):
        self.ws = ws
        self.log_path = workdir / "uvicorn.log"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.http = HttpServer(workdir)

    def start(self, env: dict) -> float:
        if self.http.proc is None:
            self.http.start(env)
        command = [
            sys.executable, "-m", "uvicorn", "governance.asgi:application",
            "--host", "127.0.0.1", "--port", str(self.port), "--lifespan", "on",
            "--no-access-log", "--ws", self.ws, "--log-level", ARGS.server_log_level,
            # as bin/run serves it: a third of the memory per connection
            "--ws-per-message-deflate", "false",
            *uvicorn_args(),  # forwarded headers as bin/run trusts them
        ]  # fmt: skip
        started = time.perf_counter()
        self.proc = _launch(command, env, self.log_path)
        if problem := _until_healthy(self.proc, self.port, 60):
            self.fail(f"uvicorn {problem}")
        return time.perf_counter() - started

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else 0

    def http_pids(self) -> set[int]:
        """gunicorn's master and its workers now (they are replaced after
        GUNICORN_MAX_REQUESTS requests: a storm's resyncs are thousands)."""
        master = self.http.proc.pid if self.http.proc else 0
        path = Path(f"/proc/{master}/task/{master}/children")
        with contextlib.suppress(OSError):
            return {master, *(int(pid) for pid in path.read_text().split())}
        return set()

    def memory(self) -> dict[str, int]:
        return memory(self.pid)

    def fail(self, message: str) -> None:
        self.stop()
        raise SystemExit(f"{message}; server log:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines)

    def log_errors(self) -> list[str]:
        return log_errors(self.log_path)

    def stop(self) -> None:
        _stop(self.proc)


class LoadProcess:
    """One ``_live_load.py`` process; its stdout read line by line in a thread."""

    def __init__(self, spec: dict, workdir: Path, number: int):
        self.spec_path = workdir / f"load-{number}.json"
        self.spec_path.write_text(json.dumps(spec))
        self.out = Path(spec["out"])
        self.lines: queue.Queue = queue.Queue()
        self.stderr_path = workdir / f"load-{number}.log"
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and load script
                [sys.executable, str(BENCH_DIR / "_live_load.py"), str(self.spec_path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next_json(self, timeout: float) -> dict:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            line = None
        if line is None:
            self.proc.kill()
            raise SystemExit(
                f"load process {self.proc.pid} gave no answer within {timeout:.0f} s:\n"
                + self.stderr_path.read_text(errors="replace")[-3000:]
            )
        return json.loads(line)

    def stop(self) -> None:
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.write("stop\n")
            self.proc.stdin.flush()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# --- A phase -----------------------------------------------------------------------------


@dataclass
class Phase:
    config: str
    clients: int
    connect: dict
    load_end: list[dict]
    driver: dict
    analysis: dict
    rss_idle: int
    rss_connected: int
    rss_end: int
    rss_peak: int
    cpu: dict[str, float]
    machine_busy: float
    machine_total: float
    window_seconds: float
    load_processes: int
    server_errors: list[str]
    driver_log_errors: list[str]
    problems: list[str] = field(default_factory=list)
    storms: list[dict] = field(default_factory=list)

    @classmethod
    def storms_only(cls, config: str, n: int, connect: dict, storms: list[dict]) -> Phase:
        phase = cls(config, n, connect, [], {}, {}, 0, 0, 0, 0, {}, 0, 0, 0, 0, [], [])
        phase.storms = storms
        phase.problems = storm_problems(phase)
        return phase


def load_process_count(n: int) -> int:
    if ARGS.load_processes == "auto":
        return max(1, math.ceil(n / CLIENTS_PER_LOAD_PROCESS))
    return max(1, int(ARGS.load_processes))


def server_env() -> dict:
    database_url = os.environ["DATABASE_URL"]
    if urlsplit(database_url).path.lstrip("/") != BENCH_DB:
        raise SystemExit(f"the server would not run on {BENCH_DB}: {database_url}")
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": bench_redis_url(settings.REDIS_URL),
        "DJANGO_SETTINGS_MODULE": ARGS.settings,
        "LIVE_BENCH_PREFIX": f"governance-bench-live-{os.getpid()}",
        "DEBUG": "false",
    }


def connect_clients(server: Server, clients: list[Client], deflate: bool, workdir: Path):
    """Start the load processes; wait until every client is ready or failed."""
    count = load_process_count(len(clients))
    start_at = time.time() + 1.0
    loads = []
    for number in range(count):
        mine = clients[number::count]
        spec = {
            "host": "127.0.0.1",
            "port": server.port,
            "http_port": server.http.port,
            "path": "/ws/v1/live/",
            "ramp": ARGS.ramp,
            "handshakes": max(1, ARGS.handshakes // count),
            "quiet": QUIET,
            "drain": ARGS.drain,
            "deflate": deflate,
            "timeout": 60.0,
            "start_at": start_at,
            "out": str(workdir / f"received-{number}.json"),
            "clients": [
                {"index": c.index, "user_id": c.user_id, "token": c.token, "groups": c.groups}
                for c in mine
            ],
        }
        loads.append(LoadProcess(spec, workdir, number))
    timeout = len(clients) / ARGS.ramp + 180
    ready = [load.next_json(timeout) for load in loads]
    return loads, ready


def merge_ready(ready: list[dict]) -> dict:
    failures: Counter = Counter()
    for r in ready:
        failures.update(r["failures"])
    return {
        "ready": sum(r["ready"] for r in ready),
        "failed": sum(r["failed"] for r in ready),
        "failures": dict(failures),
        "failure_samples": [s for r in ready for s in r["failure_samples"]][:5],
        "seconds": max(r["done"] for r in ready)
        - min(r["first_started"] or r["began"] for r in ready),
        "open_p50": max(r["open"].get("p50", 0) for r in ready),
        "open_p95": max(r["open"].get("p95", 0) for r in ready),
        "open_max": max(r["open"].get("max", 0) for r in ready),
        "ready_p50": max(r["ready_latency"].get("p50", 0) for r in ready),
        "ready_p95": max(r["ready_latency"].get("p95", 0) for r in ready),
        "ready_max": max(r["ready_latency"].get("max", 0) for r in ready),
    }  # fmt: skip


STORM_TARGET = 15.0  # s for 5,000 clients to be back and resynced


def latest_event_id() -> int:
    event_id = CaseEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    connection.close()
    return event_id


def tell(loads: list[LoadProcess], command: str, timeout: float) -> list[dict]:
    """A command to every load process; their answers."""
    for load in loads:
        load.proc.stdin.write(command + "\n")
        load.proc.stdin.flush()
    return [load.next_json(timeout) for load in loads]


def report_while_away(clients: list[Client], count: int) -> int:
    """``count`` hotline calls reported by the city dispatcher at points in
    the clients' grids: each event reaches the grid's worker and the
    dispatchers above it, who then have something to resync."""
    if count <= 0:
        return 0
    dispatcher_id, _handlers, categories = actors()
    dispatcher = User.objects.get(pk=dispatcher_id)
    rng = random.Random()
    boxes = grid_boxes(clients)
    for _ in range(count):
        _grid, _worker, x0, y0, x1, y1 = rng.choice(boxes)
        services.case_report(
            reporter=dispatcher,
            source=Source.HOTLINE,
            description="Benchmark: reported while the live clients were away.",
            lng=rng.uniform(x0, x1),
            lat=rng.uniform(y0, y1),
            category=Category.objects.get(pk=rng.choice(categories)),
            reporter_name="Bench Caller",
            reporter_phone="13800000000",
        )
    connection.close()
    return count


def run_storm(
    server: Server,
    loads: list[LoadProcess],
    env: dict,
    ours: dict,
    sampler: Sampler,
    clients: list[Client],
) -> dict:
    """Every client drops and reconnects at once (see the module's docstring)."""
    since = latest_event_id()
    tell(loads, "drop" if ARGS.storm_restart else "drop close", 60)
    reported = report_while_away(clients, ARGS.storm_reports)
    restart = 0.0
    if ARGS.storm_restart:
        server.stop()
        restart = server.start(env)
        ours["server"].add(server.pid)
    answers = tell(loads, f"storm {since} {ARGS.storm_jitter:g}", 300)
    began = min(a["began"] for a in answers)
    done = max(a["done"] for a in answers)
    time.sleep(SAMPLE_PERIOD * 2)  # a sample after the storm
    cpu, busy, total, covered = sampler.between(began, done)
    return {
        "cpu": {kind: seconds / max(covered, 1e-9) for kind, seconds in cpu.items()},
        "machine_busy": busy / max(total, 1e-9),
        "restart": restart,
        "since": since,
        "reported": reported,
        "back": sum(a["storm"] for a in answers),
        "failed": sum(a["failed"] for a in answers),
        "failure_samples": [s for a in answers for s in a["failure_samples"]][:5],
        "attempts": sum(a["attempts"] for a in answers),
        "events": sum(a["events"] for a in answers),
        "http_pages": sum(a.get("http_pages", 0) for a in answers),
        "ready_seconds": max(a["ready"] for a in answers) - began,
        "seconds": done - began,
        "ready_p95": max(a["ready_latency"].get("p95", 0) for a in answers),
        "resync_p95": max(a["resync_latency"].get("p95", 0) for a in answers),
    }


def print_storm(number: int, n: int, storm: dict) -> None:
    how = "clients hung up"
    if ARGS.storm_restart:
        how = f"uvicorn restarted in {storm['restart']:.1f} s"
    print(
        f"  storm {number}: {how}; {storm['back']:,} of {n:,} clients back and resynced in "
        f"{storm['seconds']:.1f} s (all subscribed at {storm['ready_seconds']:.1f} s; "
        f"{storm['failed']} failed; {storm['attempts']:,} connection attempts; per client p95 "
        f"subscribed {storm['ready_p95'] * 1000:,.0f} ms, resync {storm['resync_p95'] * 1000:,.0f}"
        f" ms; {storm['events']:,} events resynced since id {storm['since']}, "
        f"{storm['http_pages']:,} pages of them over HTTP; {storm['reported']} cases reported "
        f"while away); jitter "
        f"{ARGS.storm_jitter:g} s",
        flush=True,
    )
    cpu = ", ".join(f"{kind} {share:.2f}" for kind, share in sorted(storm["cpu"].items()))
    print(
        f"    CPU during the storm, in cores: {cpu}; the machine {storm['machine_busy']:.0%} busy",
        flush=True,
    )
    for sample in storm["failure_samples"]:
        print(f"    failure: {sample}", flush=True)


DRIVER_SETUP = 6.0  # s for the driver processes to set Django up before the schedule starts


def run_driver(clients: list[Client], workdir: Path, env: dict) -> list[tuple]:
    """Start the driver processes; (process, spec, log path) of each."""
    dispatcher, handlers, categories = actors()
    common = {
        "database": BENCH_DB,
        "media_root": str(workdir / "media"),
        "rate": ARGS.rate,
        "warmup": ARGS.warmup,
        "duration": ARGS.duration,
        "processes": ARGS.driver_processes,
        "threads": ARGS.driver_threads,
        "push_from": ARGS.push_from,
        "nice": ARGS.driver_nice,
        "in_flight": ARGS.in_flight,
        "worker_share": ARGS.worker_share,
        "seed": int(time.time()),
        "probe": ARGS.probe,
        "dispatcher_id": dispatcher,
        "handlers": {str(k): v for k, v in handlers.items()},
        "categories": categories,
        "grids": grid_boxes(clients),
        "start_at": time.time() + DRIVER_SETUP,
    }
    connection.close()
    drivers = []
    for number in range(ARGS.driver_processes):
        spec = {**common, "process": number, "out": str(workdir / f"driver-{number}.json")}
        spec_path = workdir / f"driver-spec-{number}.json"
        spec_path.write_text(json.dumps(spec))
        log_path = workdir / f"driver-{number}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(  # noqa: S603 - our own interpreter and driver script
                [sys.executable, str(BENCH_DIR / "_live_driver.py"), str(spec_path)],
                cwd=_benchdb.ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        drivers.append((proc, spec, log_path))
    return drivers


def wait_for_drivers(drivers: list[tuple]) -> dict:
    """Wait for every driver process; their results merged."""
    deadline = time.time() + DRIVER_SETUP + ARGS.warmup + ARGS.duration + 180
    for proc, _spec, log_path in drivers:
        try:
            proc.wait(timeout=max(1.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            raise SystemExit(
                "a driver did not finish: " + log_path.read_text(errors="replace")[-3000:]
            ) from None
        if proc.returncode != 0:
            raise SystemExit(
                f"a driver failed ({proc.returncode}):\n"
                + log_path.read_text(errors="replace")[-3000:]
            )
    parts = [json.loads(Path(spec["out"]).read_text()) for _proc, spec, _log in drivers]
    merged = dict(parts[0])
    for key in ("events", "other_pushes", "calls", "cases", "error_samples"):
        merged[key] = [item for part in parts for item in part[key]]
    merged["errors"] = sum(part["errors"] for part in parts)
    merged["finished"] = max(part["finished"] for part in parts)
    merged["probe"] = next((part["probe"] for part in parts if part["probe"]), None)
    return merged


def run_phase(ws: str, deflate: bool, clients: list[Client]) -> Phase:
    n = len(clients)
    config = f"ws={ws} deflate={'on' if deflate else 'off'}"
    workdir = Path(tempfile.mkdtemp(prefix=f"phase-{n}-", dir=_tmp.name))
    env = server_env()
    server = Server(ws, workdir)
    loads: list[LoadProcess] = []
    drivers: list[tuple] = []
    try:
        up = server.start(env)
        time.sleep(1.0)
        rss_idle = server.memory().get("VmRSS", 0)
        print(
            f"{config}, {n:,} clients: uvicorn up in {up:.1f} s on port {server.port}, "
            f"RSS {rss_idle / 2**20:,.0f} MiB",
            flush=True,
        )
        ours = {"server": {server.pid}, "bench": {os.getpid()}, "load": set(), "driver": set()}
        ours["http"] = server.http_pids()
        sampler = Sampler(ours, server.pid, server.http_pids)
        sampler.sample()
        sampler.start()

        loads, ready = connect_clients(server, clients, deflate, workdir)
        ours["load"].update(load.proc.pid for load in loads)
        connect = merge_ready(ready)
        time.sleep(2.0)  # let the last subscriptions settle
        rss_connected = server.memory().get("VmRSS", 0)
        print(
            f"  connected {connect['ready']:,} of {n:,} clients in {connect['seconds']:.1f} s "
            f"with {len(loads)} load process(es) ({connect['failed']} failed); upgrade p95 "
            f"{connect['open_p95'] * 1000:.0f} ms, ready (all groups subscribed) p50 "
            f"{connect['ready_p50'] * 1000:.0f} ms p95 {connect['ready_p95'] * 1000:.0f} ms max "
            f"{connect['ready_max'] * 1000:.0f} ms; server RSS {rss_connected / 2**20:,.0f} MiB "
            f"({(rss_connected - rss_idle) / max(connect['ready'], 1) / 1024:,.0f} KiB per "
            "connection)",
            flush=True,
        )
        for sample in connect["failure_samples"]:
            print(f"    failure: {sample}", flush=True)
        storms = []
        for number in range(1, ARGS.storms + 1):
            storms.append(run_storm(server, loads, env, ours, sampler, clients))
            print_storm(number, n, storms[-1])
        if not ARGS.drive:
            return Phase.storms_only(config, n, connect, storms)

        drivers = run_driver(clients, workdir, env)
        ours["driver"].update(proc.pid for proc, _spec, _log in drivers)
        driver = wait_for_drivers(drivers)
        # The probe ran after the window: wait for stragglers from the window's end.
        remaining = driver["window_end"] + ARGS.grace - time.time()
        if remaining > 0:
            time.sleep(remaining)
        rss_end = server.memory().get("VmRSS", 0)
        for load in loads:
            load.stop()
        load_end = [load.next_json(ARGS.drain + 120) for load in loads]
        for load in loads:
            load.proc.wait(timeout=30)
        rss_peak = server.memory().get("VmHWM", 0)
        sampler.finish()
        received, lag = [], []
        for load in loads:
            data = json.loads(load.out.read_text())
            received += data["clients"]
            lag += data["lag"]
            load.out.unlink()
        cpu, busy, total, covered = sampler.between(driver["window_start"], driver["window_end"])
        analysis = analyse(received, driver, lag)
        phase = Phase(
            config=config,
            clients=n,
            connect=connect,
            storms=storms,
            load_end=load_end,
            driver=summarise_driver(driver),
            analysis=analysis,
            rss_idle=rss_idle,
            rss_connected=rss_connected,
            rss_end=rss_end,
            rss_peak=rss_peak,
            cpu=cpu,
            machine_busy=busy,
            machine_total=total,
            window_seconds=covered,
            load_processes=len(loads),
            server_errors=server.log_errors(),
            driver_log_errors=[e for _p, _s, log in drivers for e in log_errors(log)],
        )
        phase.problems = problems_of(phase)
        return phase
    finally:
        for proc, _spec, _log in drivers:
            if proc.poll() is None:
                proc.kill()
        for load in loads:
            load.kill()
        server.stop()
        server.http.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# --- Figures -----------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 10) - 1]


def summarise_driver(driver: dict) -> dict:
    ws, we = driver["window_start"], driver["window_end"]
    events = [e for e in driver["events"] if ws <= e[3] < we]
    calls = [c for c in driver["calls"] if ws <= c[0] < we]
    ok = [c for c in calls if c[4]]
    service = [c[2] - c[1] for c in ok]
    late = [max(0.0, c[1] - c[0]) for c in calls]
    push = [e[5] - e[4] for e in events]
    others = [o for o in driver["other_pushes"] if ws <= o[0] < we]
    hooks = [e[4] - e[3] for e in events]
    seconds = we - ws
    return {
        "events": len(events),
        "rate": len(events) / seconds,
        "calls": len(calls),
        "call_rate": len(ok) / seconds,
        "actions": dict(Counter(e[2] for e in events)),
        "service_p50": percentile(service, 50),
        "service_p95": percentile(service, 95),
        "late_p95": percentile(late, 95),
        "late_max": max(late, default=0.0),
        "push_p50": percentile(push, 50),
        "push_p95": percentile(push, 95),
        "push_max": max(push, default=0.0),
        "push_share": sum(push) / max(sum(service), 1e-9),
        "hooks_p50": percentile(hooks, 50),
        "hooks_p95": percentile(hooks, 95),
        "other_pushes": len(others),
        "other_push_p50": percentile([o[1] - o[0] for o in others], 50),
        "other_push_seconds": sum(o[1] - o[0] for o in others),
        "groups_mean": statistics.fmean([e[6] for e in events]) if events else 0.0,
        "refused": sum(e[7] for e in events),
        "errors": driver["errors"],
        "error_samples": driver["error_samples"],
        "probe": driver["probe"],
        "threads": ARGS.driver_threads,
        "processes": ARGS.driver_processes,
    }


def analyse(received: list[dict], driver: dict, lag: list[list[float]]) -> dict:
    """Latency, fan-out, lost, duplicated and unexpected events of the window;
    the load processes' event loop lag in it."""
    ws, we = driver["window_start"], driver["window_end"]
    committed = {e[0]: e[3] for e in driver["events"]}
    pushed_at = {e[0]: e[4] for e in driver["events"]}
    window = [e[0] for e in driver["events"] if ws <= e[3] < we]
    if not window:
        raise SystemExit("the driver committed no event in the window")
    lo, hi = min(window), max(window)
    ours = set(driver["cases"])
    log: dict[int, set[str]] = {}
    foreign = 0
    for pk, case_id, audience in CaseEvent.objects.filter(id__gte=lo, id__lte=hi).values_list(
        "id", "case_id", "audience"
    ):
        if case_id in ours:
            log[pk] = set(audience)
        else:
            foreign += 1
    connection.close()
    unpublished = sorted(set(log) - set(committed))
    by_group: dict[str, list[int]] = defaultdict(list)
    for pk, audience in log.items():
        for group in audience:
            by_group[group].append(pk)

    latencies: list[float] = []
    from_push: list[float] = []
    expected_total = missing = unexpected = duplicates = explained = 0
    missing_clients = 0
    missing_samples: list[str] = []
    fan_out: Counter = Counter()
    copies_per_event: Counter = Counter()
    other: Counter = Counter()
    failed = 0
    closed_early = []
    frames_in_window = 0
    late = 0  # first copies read after the grace period
    by_slice: list[list[float]] = [[] for _ in range(SLICES)]  # by commit time in the window
    last_arrival = we
    for r in received:
        other.update(r["other"])
        frames_in_window += sum(1 for t in r["times"] if ws <= t < we)
        frames_in_window += sum(1 for t in r["other_times"] if ws <= t < we)
        if r["failure"]:
            failed += 1
            continue
        if r["closed_early"]:
            closed_early.append(r["closed_early"])
        groups = set(r["groups"])
        expected: set[int] = set()
        for group in groups:
            expected.update(by_group.get(group, ()))
        first: dict[int, float] = {}
        copies: Counter = Counter()
        for pk, t in zip(r["ids"], r["times"], strict=True):
            if lo <= pk <= hi:
                copies[pk] += 1
                if pk not in first:
                    first[pk] = t
        expected_total += len(expected)
        for pk in expected:
            fan_out[pk] += 1
        lost = expected - first.keys()
        if lost:
            missing += len(lost)
            missing_clients += 1
            if len(missing_samples) < 5:
                missing_samples.append(
                    f"user {r['user_id']} ({', '.join(sorted(groups))}): {len(lost)} of "
                    f"{len(expected)}, e.g. {sorted(lost)[:5]}"
                )
        unexpected += len(first.keys() - expected)
        for pk, n in copies.items():
            copies_per_event[pk] += n
            if n > 1:
                duplicates += n - 1
                if pk in log:
                    explained += min(n, len(log[pk] & groups)) - 1
            if pk in expected and pk in committed:
                if first[pk] > we + ARGS.grace:
                    late += 1
                    last_arrival = max(last_arrival, first[pk])
                latencies.append(first[pk] - committed[pk])
                by_slice[min(SLICES - 1, int((committed[pk] - ws) / (we - ws) * SLICES))].append(
                    first[pk] - committed[pk]
                )
                from_push.append(first[pk] - pushed_at[pk])
    lag_in_window = [v for t, v in lag if ws <= t < we + ARGS.grace]
    return {
        "first_id": lo,
        "last_id": hi,
        "events": len(log),
        "foreign": foreign,
        "unpublished": len(unpublished),
        "expected": expected_total,
        "delivered": len(latencies),
        "frames": sum(copies_per_event.values()),
        "frames_in_window": frames_in_window,
        "late": late,
        "p50_by_slice": [percentile(v, 50) for v in by_slice],
        "last_late": last_arrival - we,
        "missing": missing,
        "missing_clients": missing_clients,
        "missing_samples": missing_samples,
        "unexpected": unexpected,
        "duplicates": duplicates,
        "duplicates_by_groups": explained,
        "fan_out_mean": statistics.fmean([fan_out.get(pk, 0) for pk in log]) if log else 0.0,
        "fan_out_max": max((fan_out.get(pk, 0) for pk in log), default=0),
        "frames_per_event": sum(copies_per_event.values()) / max(len(log), 1),
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "p99": percentile(latencies, 99),
        "max": max(latencies, default=float("nan")),
        "push_to_client_p50": percentile(from_push, 50),
        "push_to_client_p95": percentile(from_push, 95),
        "other_messages": dict(other),
        "failed_clients": failed,
        "closed_early": len(closed_early),
        "closed_early_samples": closed_early[:5],
        "lag_p99": percentile(lag_in_window, 99),
        "lag_max": max(lag_in_window, default=0.0),
    }


def storm_problems(p: Phase) -> list[str]:
    return [
        f"storm {number}: {storm['failed']} clients not back, e.g. {storm['failure_samples']}"
        for number, storm in enumerate(p.storms, 1)
        if storm["failed"]
    ]


def problems_of(p: Phase) -> list[str]:
    a, d = p.analysis, p.driver
    out = storm_problems(p)
    if p.connect["failed"]:
        out.append(f"{p.connect['failed']} clients failed to connect or subscribe: "
                   f"{p.connect['failures']}")  # fmt: skip
    if a["closed_early"]:
        out.append(f"{a['closed_early']} clients were disconnected during the run, e.g. "
                   f"{a['closed_early_samples']}")  # fmt: skip
    if a["missing"]:
        out.append(f"{a['missing']:,} events lost, at {a['missing_clients']} clients, e.g.:")
        out += [f"    {s}" for s in a["missing_samples"]]
    if a["unpublished"]:
        out.append(f"{a['unpublished']} events in the log were never pushed by the driver")
    if d["errors"]:
        out.append(f"{d['errors']} driver actions failed, e.g. {d['error_samples']}")
    if d["refused"]:
        out.append(f"the channel layer refused {d['refused']} group pushes")
    return out


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def print_phase(p: Phase) -> None:
    a, d = p.analysis, p.driver
    pad = " " * 2
    print(
        f"{pad}window {ARGS.duration:g} s: {a['events']:,} events (ids {a['first_id']}-"
        f"{a['last_id']}), {d['rate']:.1f} transitions/s achieved of {ARGS.rate:g} "
        f"({d['processes']} driver processes of {d['threads']} threads; start delay p95 "
        f"{ms(d['late_p95'])} ms, max {ms(d['late_max'])} ms); actions {d['actions']}",
        flush=True,
    )
    print(
        f"{pad}latency commit→client p50 {ms(a['p50'])} ms  p95 {ms(a['p95'])} ms  p99 "
        f"{ms(a['p99'])} ms  max {ms(a['max'])} ms over {a['delivered']:,} deliveries; "
        f"push start→client p50 {ms(a['push_to_client_p50'])} ms p95 "
        f"{ms(a['push_to_client_p95'])} ms; the load process's event loop lag p99 "
        f"{ms(a['lag_p99'])} ms, max {ms(a['lag_max'])} ms",
        flush=True,
    )
    print(
        f"{pad}latency p50 by sixth of the window (commit time): "
        + ", ".join(f"{ms(v)}" for v in a["p50_by_slice"])
        + " ms",
        flush=True,
    )
    print(
        f"{pad}fan-out {a['fan_out_mean']:.1f} clients per event (max {a['fan_out_max']}), "
        f"{a['frames_per_event']:.1f} frames per event; lost {a['missing']:,}, duplicates "
        f"{a['duplicates']:,} ({a['duplicates_by_groups']:,} of them one per extra group the "
        f"client follows), unexpected {a['unexpected']:,}; other messages "
        f"{a['other_messages'] or 'none'}"
        + (f"; {a['foreign']} events by other writers in the window" if a["foreign"] else "")
        + (
            f"; {a['late']:,} deliveries came after the {ARGS.grace:g} s grace, the last "
            f"{a['last_late']:.1f} s after the window"
            if a["late"]
            else ""
        ),
        flush=True,
    )
    print(
        f"{pad}driver: service call p50 {ms(d['service_p50'])} ms p95 {ms(d['service_p95'])} ms; "
        f"push after commit (live.send to {d['groups_mean']:.1f} groups) p50 "
        f"{ms(d['push_p50'])} ms p95 {ms(d['push_p95'])} ms max {ms(d['push_max'])} ms = "
        f"{d['push_share'] * 100:.0f}% of the service time; other on-commit work before it p50 "
        f"{ms(d['hooks_p50'])} ms p95 {ms(d['hooks_p95'])} ms; {d['other_pushes']:,} other "
        f"pushes (notifications, {d['other_pushes'] / max(d['events'], 1):.1f} per event) p50 "
        f"{ms(d['other_push_p50'])} ms each, {d['other_push_seconds']:.1f} s in all",
        flush=True,
    )
    if d["probe"]:
        pr = d["probe"]
        print(
            f"{pad}push probe ({pr['groups']} groups, {pr['n']} times): live.send (the "
            f"process's publisher) {ms(pr['publisher'])} ms per call, async_to_sync(send_async) "
            f"(an event loop per call) {ms(pr['async_to_sync'])} ms",
            flush=True,
        )
    seconds = max(p.window_seconds, 1e-9)
    busy = max(p.machine_busy, 1e-9)
    cpu = p.cpu
    cores = os.cpu_count() or 1
    print(
        f"{pad}CPU in the window ({seconds:.1f} s, % of one core): server "
        f"{cpu.get('server', 0) / seconds * 100:.0f}% "
        f"({cpu.get('server', 0) / max(a['frames_in_window'], 1) * 1e6:,.0f} µs per frame "
        f"sent: {a['frames_in_window'] / seconds:,.0f} frames/s), load "
        f"{cpu.get('load', 0) / seconds * 100:.0f}%, driver "
        f"{cpu.get('driver', 0) / seconds * 100:.0f}%, Redis "
        f"{cpu.get('redis', 0) / seconds * 100:.0f}%, PostgreSQL "
        f"{cpu.get('database', 0) / seconds * 100:.0f}%, other processes "
        f"{cpu.get('others', 0) / seconds * 100:.0f}%, unaccounted (kernel, short-lived "
        f"processes) {cpu.get('rest', 0) / seconds * 100:.0f}%; machine "
        f"{p.machine_busy / max(p.machine_total, 1e-9) * 100:.0f}% of {cores} cores busy",
        flush=True,
    )
    if cpu.get("others", 0) > 0.1 * busy:
        print(
            f"{pad}note: other processes used {cpu['others']:.1f} CPU-s of the window "
            f"({cpu['others'] / busy * 100:.0f}% of the busy time): the figures are worse than "
            "on a quiet machine",
            flush=True,
        )
    load_cpu = sum(e["cpu"] for e in p.load_end)
    print(
        f"{pad}server RSS: {p.rss_idle / 2**20:,.0f} MiB before connecting, "
        f"{p.rss_connected / 2**20:,.0f} MiB connected, {p.rss_end / 2**20:,.0f} MiB at the "
        f"end, peak {p.rss_peak / 2**20:,.0f} MiB; load process(es) {p.load_processes}, "
        f"{load_cpu:.1f} CPU-s in all, RSS "
        + ", ".join(f"{e['max_rss'] / 2**20:,.0f}" for e in p.load_end)
        + " MiB; drained "
        + ", ".join(f"{e['drain_seconds']:.1f}" for e in p.load_end)
        + " s after the grace, closing took "
        + ", ".join(f"{e['close_seconds']:.1f}" for e in p.load_end)
        + " s",
        flush=True,
    )
    if p.server_errors:
        print(f"{pad}server log: {len(p.server_errors)} errors, e.g. {p.server_errors[0]}")
    if p.driver_log_errors:
        print(f"{pad}driver log: {len(p.driver_log_errors)} errors, e.g. {p.driver_log_errors[0]}")
    for line in p.problems:
        print(f"{pad}PROBLEM: {line}", flush=True)


def print_storm_table(results: list[Phase]) -> None:
    storms = [(p, number, s) for p in results for number, s in enumerate(p.storms, 1)]
    if not storms:
        return
    print()
    print(
        f"{'config':<32}{'clients':>8}{'storm':>6}{'restart s':>10}{'subscribed s':>13}"
        f"{'resynced s':>11}{'failed':>7}{'attempts':>9}"
    )
    for p, number, s in storms:
        print(
            f"{p.config:<32}{p.clients:>8,}{number:>6}{s['restart']:>10.1f}"
            f"{s['ready_seconds']:>13.1f}{s['seconds']:>11.1f}{s['failed']:>7}{s['attempts']:>9,}"
        )
    print(f"target: {RSS_TARGET_CLIENTS:,} clients back and resynced in <= {STORM_TARGET:g} s")
    for p, number, s in storms:
        if p.clients >= RSS_TARGET_CLIENTS:
            met = s["seconds"] <= STORM_TARGET and not s["failed"]
            print(f"  {p.config}, {p.clients:,} clients, storm {number}: {s['seconds']:.1f} s: "
                  + ("met" if met else "MISSED"))  # fmt: skip


def main() -> None:
    wall = time.perf_counter()
    fd_limit = raise_fd_limit()
    most = max(ARGS.clients)
    if most * 2 + 100 > fd_limit:
        raise SystemExit(f"{most:,} clients need more open files than the limit of {fd_limit:,}")
    people = bench_people(most)
    mix = Counter(ROLE_NAMES[c.role] for c in people)
    print(
        f"Benchmark database {BENCH_DB}: {Case.objects.count():,} cases; bench users "
        + ", ".join(f"{v:,} {k}s" for k, v in mix.items())
        + f" (of the first {most:,}); {ARGS.rate:g} transitions/s, {ARGS.warmup:g} s warm-up + "
        f"{ARGS.duration:g} s measured + {ARGS.grace:g} s grace; ramp {ARGS.ramp:g} "
        f"connections/s; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; "
        f"open files limit {fd_limit:,}; server settings {ARGS.settings}, code at "
        f"{code_state()}.",
        flush=True,
    )
    connection.close()
    results: list[Phase] = []
    for ws, deflate in itertools.product(ARGS.ws, ARGS.deflate):
        for n in ARGS.clients:
            phase = run_phase(ws, deflate == "on", people[:n])
            if phase.driver:
                print_phase(phase)
            else:
                for line in phase.problems:
                    print(f"  PROBLEM: {line}", flush=True)
            results.append(phase)
    queued = drop_queued_tasks(settings.REDIS_URL)
    if queued:
        print(f"dropped {queued:,} Celery tasks the driver queued in Redis database "
              f"{BENCH_REDIS_DB}: no worker runs here")  # fmt: skip

    print_storm_table(results)
    driven = [p for p in results if p.driver]
    if not driven:
        print(f"run time: {time.perf_counter() - wall:,.1f} s")
        if any(p.problems for p in results):
            raise SystemExit("check failed: see the PROBLEM lines above")
        return
    print()
    print(
        f"{'config':<32}{'clients':>8}{'conn s':>7}{'failed':>7}{'tr/s':>6}{'fan-out':>8}"
        f"{'deliveries':>11}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'max ms':>8}{'lost':>6}"
        f"{'dups':>6}{'RSS idle':>9}{'conn.':>7}{'peak':>7}{'srv CPU':>8}{'others':>7}"
    )
    for p in driven:
        a = p.analysis
        seconds = max(p.window_seconds, 1e-9)
        print(
            f"{p.config:<32}{p.clients:>8,}{p.connect['seconds']:>7.1f}"
            f"{p.connect['failed'] + a['closed_early']:>7}{p.driver['rate']:>6.1f}"
            f"{a['fan_out_mean']:>8.1f}{a['delivered']:>11,}{a['p50'] * 1000:>8.1f}"
            f"{a['p95'] * 1000:>8.1f}{a['p99'] * 1000:>8.1f}{a['max'] * 1000:>8.1f}"
            f"{a['missing']:>6}{a['duplicates']:>6}{p.rss_idle / 2**20:>9.0f}"
            f"{p.rss_connected / 2**20:>7.0f}{p.rss_peak / 2**20:>7.0f}"
            f"{p.cpu.get('server', 0) / seconds * 100:>7.0f}%"
            f"{p.cpu.get('others', 0) / max(p.machine_busy, 1e-9) * 100:>6.0f}%"
        )
    print("(RSS in MiB; server CPU in % of one core; others: share of the machine's busy time)")
    print(
        f"targets: p95 <= {P95_TARGET * 1000:.0f} ms, nothing lost (and no duplicates), "
        f"{RSS_TARGET_CLIENTS:,} connections in <= {RSS_TARGET / 2**30:.0f} GiB"
    )
    for p in driven:
        a = p.analysis
        verdict = [
            f"p95 {a['p95'] * 1000:.0f} ms: {'met' if a['p95'] <= P95_TARGET else 'MISSED'}",
            f"lost {a['missing']}: {'met' if not a['missing'] else 'MISSED'}",
            f"duplicates {a['duplicates']}: {'met' if not a['duplicates'] else 'MISSED'}",
            f"rate {p.driver['rate']:.1f}/s: "
            + ("met" if p.driver["rate"] >= 0.98 * ARGS.rate else "MISSED"),
        ]
        if p.clients >= RSS_TARGET_CLIENTS:
            verdict.append(
                f"peak RSS {p.rss_peak / 2**20:,.0f} MiB: "
                + ("met" if p.rss_peak <= RSS_TARGET else "MISSED")
            )
        print(f"  {p.config}, {p.clients:,} clients: " + "; ".join(verdict))
    print(f"run time: {time.perf_counter() - wall:,.1f} s")
    if any(p.problems for p in results):
        raise SystemExit("check failed: see the PROBLEM lines above")


if __name__ == "__main__":
    try:
        main()
    finally:
        _tmp.cleanup()
