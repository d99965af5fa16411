"""The case API over HTTP: the real servers under 32 concurrent clients.

Starts nginx in front of gunicorn and uvicorn as bin/run does
(governance/stack.py; ``--workers`` gunicorn workers, default
GUNICORN_WORKERS or 2 per CPU) on a free loopback port against the
benchmark database, waits until every gunicorn worker has warmed up, then
drives it through nginx from separate load processes (``bench/_load.py``:
asyncio clients sharing an httpx pool of keep-alive HTTP/1.1 connections,
each client sending its requests back to back; ``--load-processes`` shares
the clients among several, and each one's CPU is printed, with a note when
one is busy enough to hold the load back) through four phases, each
``--warmup`` (3 s) unmeasured, then ``--duration`` (20 s) measured:

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
instead, each request when it is due whether or not earlier ones were
answered (an open loop over up to ``--connections``, 256, connections:
requests in flight, as from many phones, not only 32), and times
each from when it was due, which gives the latency at a given load rather
than at saturation, and lets an overloaded server shed. A fixed schedule cannot
complete more than it offers, and the window can end with a request in
flight, so ``--rate 110`` rather than 100 shows the rate target met.

gunicorn's sync workers run one request at a time each, each keeping its
PostgreSQL connection for DB_CONN_MAX_AGE seconds (``--conn-max-age``,
default 300 as in the settings; 0 opens a connection per request). The
servers inherit the environment (GUNICORN_*, REQUEST_QUEUE_TIMEOUT_MS and
NGINX_MAX_IN_FLIGHT for load shedding, DB_POOL_MAX_SIZE for a pool instead),
and ``--settings`` names their settings module. Server CPU counts nginx,
gunicorn and uvicorn, every process. Requests shed under overload (503 with
Retry-After, README "Servers") count as non-2xx; the shed ones are also
counted apart, with the rate and p95 of the requests served (2xx).

``--cpu-hog FRACTION`` starts busy-loop processes beside the servers (one
per core, each busy FRACTION of every 50 ms) once they are up, runs the
phases, and stops them: the machine shared with another tenant. The hog's
CPU shows in the ``others`` column (unrelated processes), and the share it
took is printed. Under it the servers should shed excess load (503 with
Retry-After: counted, and the p95 of the requests served printed) rather
than let latency run away.

``--photo-capacity`` runs, instead of the phases, create_photo at each rate
of ``--photo-rates`` in turn (5, 10, 20, 30, 40, 50, 60, 65, 70, 75, 80, 90, 100 req/s), in
short windows (2 s warm-up, 8 s measured unless given), until a step misses,
prints the table of steps and reports the capacity: the highest rate whose
p95 <= 1 s with every answer 2xx.

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

Run with ``bin/bench http_api``; the targets' runs:

    bin/bench http_api --rate 110
    bin/bench http_api --rate 110 --cpu-hog 0.33
    bin/bench http_api --photo-capacity
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
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _benchdb
from _harness import (
    CpuCounter,
    CpuHog,
    DatabaseSampler,
    ServerStack,
    bench_redis_url,
    code_state,
    database_conninfo,
    drop_queued_tasks,
    float_list,
    int_list,
    ms,
    percentile,
    print_table,
    smoke_mode,
)

BENCH_DIR = Path(__file__).resolve().parent
PHASES = ("create", "create_photo", "list_worker", "list_dispatcher")
CREATE_RATE_TARGET = 100.0  # cases/s, without photo
CREATE_P95_TARGET = 0.150  # s
LIST_P95_TARGET = 0.100  # s
PHOTO_P95_TARGET = 1.0  # s, for the photo capacity
PHOTO_RATES = "5,10,20,30,40,50,60,65,70,75,80,90,100"  # req/s offered in turn by --photo-capacity
# With --rate, connections at most over all load processes: the requests in
# flight when the server falls behind (nginx holds 16,384 and sheds beyond
# what gunicorn takes); a smaller pool would queue them in the client instead.
RATE_CONNECTIONS = 256
LOAD_BUSY_LIMIT = 0.7  # of a core: a load process busier than this may hold the load back
LOAD_LAG_LIMIT = 0.020  # s: requests started later than this (p95) were held back by the client
PHOTO_BYTES = 1024 * 1024  # the photo is generated within 2% of this
PHOTO_SIZE = (1200, 900)
JITTER = 0.0003  # degrees, as demo/cases.py
ASSIGNED_SINCE = date(2020, 1, 1)


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
    parser.add_argument(
        "--warmup", type=float, help="unmeasured seconds per phase (3; capacity steps 2)"
    )
    parser.add_argument(
        "--duration", type=float, help="measured seconds per phase (20; capacity steps 8)"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="requests/s over all clients on a fixed schedule (0: back to back)",
    )
    parser.add_argument(
        "--phases", default=",".join(PHASES), help=f"comma-separated, of: {', '.join(PHASES)}"
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=RATE_CONNECTIONS,
        help=f"with --rate: connections at most in all ({RATE_CONNECTIONS}; back to back: "
        "one per client)",
    )
    parser.add_argument(
        "--load-processes",
        type=int,
        default=1,
        help="processes the clients are shared among (more when one is busy near a core)",
    )
    parser.add_argument(
        "--cpu-hog",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="busy-loop processes beside the servers take this share of the machine's CPU",
    )
    parser.add_argument(
        "--photo-capacity",
        action="store_true",
        help="instead of the phases: create_photo at each --photo-rates rate until one misses",
    )
    parser.add_argument(
        "--photo-rates", type=float_list, default=PHOTO_RATES, help=f"req/s ({PHOTO_RATES})"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, same checks")
    if smoke_mode():  # explicit options still win
        parser.set_defaults(clients=2, warmup=0.3, duration=1.0, photo_rates="2,4")
    args = parser.parse_args()
    if args.warmup is None:
        args.warmup = 2.0 if args.photo_capacity else 3.0
    if args.duration is None:
        args.duration = 8.0 if args.photo_capacity else 20.0
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = set(args.phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    return args


ARGS = parse_args()
_tmp = tempfile.TemporaryDirectory(prefix="bench-http-")
BENCH_DB = _benchdb.setup(media_root=os.path.join(_tmp.name, "media"))

from django.conf import settings  # noqa: E402
from django.core.files.storage import default_storage  # noqa: E402
from django.db import connection  # noqa: E402
from PIL import Image  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from cases.models import Case, CaseAttachment  # noqa: E402
from cases.selectors import cases_visible_to  # noqa: E402
from demo.city import CITY  # noqa: E402
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


def bench_server(workers: int, conn_max_age: int, workdir: Path) -> ServerStack:
    """The servers on the benchmark database and Redis (not started)."""
    database_url = os.environ["DATABASE_URL"]
    if urlsplit(database_url).path.lstrip("/") != BENCH_DB:
        raise SystemExit(f"the server would not run on {BENCH_DB}: {database_url}")
    server = ServerStack(
        workdir=workdir,
        static_root=Path(settings.STATIC_ROOT),
        environ={
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": bench_redis_url(settings.REDIS_URL),
            "DJANGO_SETTINGS_MODULE": ARGS.settings,
            "DEBUG": "false",
            "DB_CONN_MAX_AGE": str(conn_max_age),
        },
        gunicorn_workers=workers,
    )
    return server


def get_json(server: ServerStack, path: str, token: str):
    request = urllib.request.Request(  # noqa: S310 - our own server on loopback
        server.base + path, headers={"Authorization": f"Token {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.load(response)


# --- The load processes --------------------------------------------------------------


def load_specs(name: str, server: ServerStack, people: People, categories, photo, rate) -> list:
    """One spec per load process: the clients cut into ``--load-processes``
    consecutive shares, each knowing its place in the whole schedule."""
    base = {
        "host": "127.0.0.1",
        "port": server.port,
        "kind": {"list_worker": "list", "list_dispatcher": "list"}.get(name, name),
        "path": "/api/v1/cases/",
        "warmup": ARGS.warmup,
        "duration": ARGS.duration,
        "rate": rate,
        "seed": int(time.time()),
        "categories": categories,
        "photo": str(photo),
    }
    if name == "list_dispatcher":
        clients = [{"token": people.dispatcher.token}] * len(people.workers)
    else:
        clients = [{"token": w.token, "points": w.points} for w in people.workers]
    processes = max(1, min(ARGS.load_processes, len(clients)))
    share = -(-len(clients) // processes)
    return [
        {
            **base,
            "clients": clients[i : i + share],
            "first_index": i,
            "total_clients": len(clients),
            # back to back, one connection per client; on a schedule, a share of the pool
            "connections": -(-ARGS.connections // processes) if rate else 0,
        }
        for i in range(0, len(clients), share)
    ]


def start_load(specs: list[dict], workdir: Path, name: str) -> list[subprocess.Popen]:
    processes = []
    for n, spec in enumerate(specs):
        path = workdir / f"{name}-{n}.json"
        path.write_text(json.dumps(spec))
        processes.append(
            subprocess.Popen(  # noqa: S603 - our own interpreter and load script
                [sys.executable, str(BENCH_DIR / "_load.py"), str(path)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    return processes


def finish_load(processes: list[subprocess.Popen], server: ServerStack) -> list[dict]:
    loads = []
    for proc in processes:
        try:
            stdout, stderr = proc.communicate(timeout=ARGS.warmup + ARGS.duration + 120)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
        if proc.returncode != 0:
            server.fail(f"a load process failed ({proc.returncode}):\n{stderr[-3000:]}")
        loads.append(json.loads(stdout.strip().splitlines()[-1]))
    return loads


def merge_loads(loads: list[dict], rate: float) -> dict:
    """The load processes' results as one: counts added, latencies pooled
    before the percentiles are taken."""
    lat = [v for load in loads for v in load["latencies"]]
    served = [v for load in loads for v in load["served"]]
    statuses: Counter = Counter()
    for load in loads:
        statuses.update({int(k): v for k, v in load["statuses"].items()})
    total = sum(statuses.values())
    duration = ARGS.duration
    return {
        "target_rate": rate,
        "clients": sum(load["clients"] for load in loads),
        "count": len(lat),
        "seconds": duration,
        "rate": len(lat) / duration,
        "p50": percentile(lat, 50),
        "p95": percentile(lat, 95),
        "p99": percentile(lat, 99),
        "max": max(lat, default=float("nan")),
        # The requests answered 2xx (the others were refused, e.g. shed with 503).
        "served_rate": len(served) / duration,
        "served_p95": percentile(served, 95),
        "late_p95": percentile([v for load in loads for v in load["late"]], 95),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "non_2xx": sum(v for k, v in statuses.items() if not 200 <= k < 300),
        "shed": sum(load["shed"] for load in loads),
        "shed_without_retry_after": sum(load["shed_without_retry_after"] for load in loads),
        "failures": [f for load in loads for f in load["failures"]][:5],
        "errors": sum(load["errors"] for load in loads),
        "error_samples": [e for load in loads for e in load["error_samples"]][:5],
        "requests": total,
        "response_bytes_mean": sum(load["response_bytes"] for load in loads) / max(total, 1),
        "client_cpu": sum(load["client_cpu"] for load in loads),
        # Each load process's CPU as a share of one core over its run.
        "client_busy": [load["client_cpu"] / max(load["wall"], 1e-9) for load in loads],
    }


# --- Phases --------------------------------------------------------------------------


@dataclass
class Phase:
    config: str
    name: str
    load: dict
    server_cpu: float
    server_cpu_by_process: list[float]  # the master first, then its workers
    database_cpu: float  # the benchmark database's backends (sampled)
    others_cpu: float  # processes neither ours nor PostgreSQL's (other work, a CPU hog)
    machine_busy: float
    machine_total: float
    rss: int
    connections: int
    connections_after: int
    problems: list[str]

    @property
    def label(self) -> str:
        """The phase, with the rate offered in a photo capacity step."""
        return f"{self.name}@{self.load['target_rate']:g}/s" if ARGS.photo_capacity else self.name

    @property
    def others_share(self) -> float:
        return self.others_cpu / max(self.machine_busy, 1e-9)


def filed_by(people: People) -> tuple[int, int]:
    ids = [w.user.pk for w in people.workers]
    return (
        Case.objects.filter(reporter_id__in=ids).count(),
        CaseAttachment.objects.filter(uploaded_by_id__in=ids).count(),
    )


def run_phase(config, name, server, people, categories, photo, workdir, rate) -> Phase:
    specs = load_specs(name, server, people, categories, photo, rate)
    cases_before, photos_before = filed_by(people)
    last_photo = CaseAttachment.objects.order_by("-id").values_list("id", flat=True).first() or 0
    connection.close()  # the parent's own connection stays out of the figures

    sampler = DatabaseSampler(database_conninfo(settings.DATABASES["default"]), rss=server.rss)
    sampler.start()
    counter = CpuCounter({os.getpid(), *server.pids()})
    cpu0 = server.cpu()
    processes = start_load(specs, workdir, name)
    counter.ours.update(p.pid for p in processes)
    counter.start()
    loads = finish_load(processes, server)
    counter.stop()
    cpu1 = server.cpu()
    sampler.finish()
    load = merge_loads(loads, rate)
    per_process = [t - cpu0.get(pid, 0.0) for pid, t in cpu1.items()]

    problems = []
    if load["non_2xx"]:
        problems.append(f"{load['non_2xx']} non-2xx responses, e.g.:")
        problems += [f"    {sample}" for sample in load["failures"]]
    if load["shed_without_retry_after"]:
        problems.append(f"{load['shed_without_retry_after']} answers 503 without Retry-After")
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
        others_cpu=counter.others,
        machine_busy=counter.machine_busy,
        machine_total=counter.machine_total,
        rss=sampler.rss,
        connections=sampler.connections,
        connections_after=sampler.after,
        problems=problems,
    )


def stored_photo_ok(server: ServerStack, after_id: int) -> bool:
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


def print_phase(p: Phase) -> None:
    load = p.load
    cores = os.cpu_count() or 1
    pad = " " * 18
    print(
        f"  {p.name:<16}{load['count']:>7,} in {load['seconds']:.0f} s = "
        f"{load['rate']:7.1f} req/s   p50 {ms(load['p50'])} ms  p95 {ms(load['p95'])} ms  "
        f"p99 {ms(load['p99'])} ms  max {ms(load['max'])} ms",
        flush=True,
    )
    if load["non_2xx"]:
        print(
            f"{pad}served (2xx): {load['served_rate']:.1f} req/s, "
            f"p95 {ms(load['served_p95'])} ms; shed (503 + Retry-After): {load['shed']:,}",
            flush=True,
        )
    if load["target_rate"]:
        print(
            f"{pad}the load process started requests after they were due by p95 "
            f"{ms(load['late_p95'])} ms (its own lag)",
            flush=True,
        )
    requests = max(load["requests"], 1)
    busy = max(p.machine_busy, 1e-9)
    rest = p.machine_busy - p.server_cpu - load["client_cpu"] - p.database_cpu - p.others_cpu
    print(
        f"{pad}statuses {load['statuses']}, {load['errors']} connection errors; "
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
        f"{pad}machine CPU {p.machine_busy / p.machine_total * 100:.0f}% of {cores} "
        f"cores: server {p.server_cpu / busy * 100:.0f}%, load processes "
        f"{load['client_cpu'] / busy * 100:.0f}%, PostgreSQL for it "
        f"{p.database_cpu / busy * 100:.0f}% ({p.database_cpu / requests * 1000:.1f} "
        f"ms/request), other processes {p.others_share * 100:.0f}%, kernel and the rest "
        f"{rest / busy * 100:.0f}%; server RSS peak "
        f"{p.rss / 2**20:,.0f} MiB; PostgreSQL connections peak {p.connections}, "
        f"{p.connections_after} left after",
        flush=True,
    )
    print(
        f"{pad}load: {len(load['client_busy'])} process(es) at "
        + ", ".join(f"{b:.0%}" for b in load["client_busy"])
        + " of a core",
        flush=True,
    )
    if max(load["client_busy"]) > LOAD_BUSY_LIMIT:
        print(
            f"{pad}note: a load process was busy over {LOAD_BUSY_LIMIT:.0%} of a core and may "
            "have held the load back: run more (--load-processes)",
            flush=True,
        )
    elif load["target_rate"] and load["late_p95"] > LOAD_LAG_LIMIT:
        print(
            f"{pad}note: the load processes started requests late (p95 over "
            f"{LOAD_LAG_LIMIT * 1000:.0f} ms) without being busy: the machine is short of "
            "CPU for them, and the latencies include their lag",
            flush=True,
        )
    if p.others_share > 0.1 and not ARGS.cpu_hog:
        print(
            f"{pad}note: other processes used {p.others_cpu:.1f} CPU-s of this phase; "
            "the figures are lower than on a quiet machine",
            flush=True,
        )
    for line in p.problems:
        print(f"{pad}{line}", flush=True)


def photo_capacity(config, server, people, categories, photo, workdir) -> list[Phase]:
    """create_photo at each rate of ``--photo-rates`` in turn, until one
    misses (p95 over PHOTO_P95_TARGET, or any answer not 2xx)."""
    steps = []
    for rate in ARGS.photo_rates:
        phase = run_phase(config, "create_photo", server, people, categories, photo, workdir, rate)
        print(f"  offered {rate:g} req/s:", flush=True)
        print_phase(phase)
        steps.append(phase)
        if not photo_step_met(phase):
            break
    return steps


def photo_step_met(p: Phase) -> bool:
    load = p.load
    return load["p95"] <= PHOTO_P95_TARGET and not load["non_2xx"] and not load["errors"]


def print_photo_capacity(steps: list[Phase]) -> None:
    print()
    print_table(
        (("offered", ">8g"), ("req/s", ">8.1f"), ("p50 ms", ">8.1f"), ("p95 ms", ">8.1f"),
         ("p99 ms", ">8.1f"), ("max ms", ">8.1f"), ("non-2xx", ">8"), ("errors", ">7"),
         ("server ms/req", ">14.1f"), ("others", ">7.0%"), ("  verdict", "<12")),
        (
            (p.load["target_rate"], p.load["rate"], p.load["p50"] * 1000, p.load["p95"] * 1000,
             p.load["p99"] * 1000, p.load["max"] * 1000, p.load["non_2xx"], p.load["errors"],
             p.server_cpu / max(p.load["requests"], 1) * 1000, p.others_share,
             "  met" if photo_step_met(p) else "  MISSED")
            for p in steps
        ),
    )  # fmt: skip
    met = [p.load["target_rate"] for p in steps if photo_step_met(p)]
    print(
        f"photo capacity: {max(met):g} req/s (the highest offered rate with p95 <= "
        f"{PHOTO_P95_TARGET * 1000:.0f} ms and every answer 2xx)"
        if met
        else f"photo capacity: below {steps[0].load['target_rate']:g} req/s (the lowest rate tried)"
    )


def run_config(workers: int, conn_max_age: int, people: People, photo: Path) -> list[Phase]:
    config = f"workers={workers} conn_max_age={conn_max_age}"
    workdir = Path(tempfile.mkdtemp(prefix="run-", dir=_tmp.name))
    server = bench_server(workers, conn_max_age, workdir)
    try:
        up = server.start()
        categories = [
            c["code"]
            for c in get_json(server, "/api/v1/categories/", people.workers[0].token)
            if c["default_department"]
        ]
        if not categories:
            server.fail("/api/v1/categories/ lists no category with a department")
        print(
            f"{config}: nginx, gunicorn and uvicorn up in {up:.1f} s on port "
            f"{server.port} ({len(server.pids())} processes, RSS "
            f"{server.rss() / 2**20:,.0f} MiB); {len(categories)} routed categories",
            flush=True,
        )
        phases: list[Phase] = []
        with CpuHog(ARGS.cpu_hog) as hog:
            if hog.count:
                print(f"  {hog.describe()}, started beside the servers", flush=True)
            if ARGS.photo_capacity:
                phases = photo_capacity(config, server, people, categories, photo, workdir)
            for name in [] if ARGS.photo_capacity else ARGS.phases:
                if name.startswith("list") and not any(p.name.startswith("list") for p in phases):
                    seen, dispatcher_sees = visible_counts(people)
                    print(
                        f"  lists see: each grid worker {seen[0]:,} to {seen[-1]:,} cases "
                        f"(median {statistics.median(seen):,.0f}: their 2 grids and their own "
                        f"reports); the dispatcher of {people.subdistrict.code} "
                        f"{dispatcher_sees:,} cases",
                        flush=True,
                    )
                phase = run_phase(
                    config, name, server, people, categories, photo, workdir, ARGS.rate
                )
                print_phase(phase)
                phases.append(phase)
            if hog.count:
                print(
                    f"  the CPU hog took {hog.used():.0%} of the machine's CPU while it ran",
                    flush=True,
                )
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
                f"{bench_redis_url(settings.REDIS_URL)}: no worker runs here"
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
    if ARGS.cpu_hog:
        out += [
            f"{p.label} under the hog: shed {p.load['shed']:,}, served "
            f"{p.load['served_rate']:.0f}/s at p95 {p.load['served_p95'] * 1000:.0f} ms"
            for p in phases
        ]
    return out


def print_summary(results: list[Phase]) -> None:
    print()
    print_table(
        (("config", "<28"), ("phase", "<17"), ("requests", ">9,"), ("req/s", ">8.1f"),
         ("p50 ms", ">8.1f"), ("p95 ms", ">8.1f"), ("p99 ms", ">8.1f"), ("max ms", ">8.1f"),
         ("non-2xx", ">8"), ("shed", ">6"), ("served p95", ">11.1f"),
         ("CPU ms/req: server", ">20.1f"), ("database", ">10.1f"), ("RSS MiB", ">9.0f"),
         ("PG conns", ">9"), ("load", ">6.0%"), ("others", ">7.0%")),
        (
            (p.config, p.label, p.load["count"], p.load["rate"], p.load["p50"] * 1000,
             p.load["p95"] * 1000, p.load["p99"] * 1000, p.load["max"] * 1000,
             p.load["non_2xx"] + p.load["errors"], p.load["shed"],
             p.load["served_p95"] * 1000,
             p.server_cpu / max(p.load["requests"], 1) * 1000,
             p.database_cpu / max(p.load["requests"], 1) * 1000, p.rss / 2**20,
             p.connections, max(p.load["client_busy"]), p.others_share)
            for p in results
        ),
    )  # fmt: skip
    print(
        f"targets: create (no photo) >= {CREATE_RATE_TARGET:.0f}/s with p95 <= "
        f"{CREATE_P95_TARGET * 1000:.0f} ms; list p95 <= {LIST_P95_TARGET * 1000:.0f} ms"
    )
    print(
        "columns: load = the busiest load process's share of a core; others = CPU of "
        "unrelated processes (a CPU hog among them) as a share of the machine's busy time"
    )
    for config in dict.fromkeys(p.config for p in results):
        verdict = verdicts([p for p in results if p.config == config])
        if verdict:
            print(f"  {config}: " + "; ".join(verdict))


def main() -> None:
    wall = time.perf_counter()
    people = bench_people(ARGS.clients)
    photo = Path(_tmp.name) / "photo.jpg"
    photo_size = noise_jpeg(photo)
    load1 = os.getloadavg()[0]
    mode = (
        f"photo capacity: create_photo at {', '.join(f'{r:g}' for r in ARGS.photo_rates)} req/s"
        if ARGS.photo_capacity
        else f"phases {', '.join(ARGS.phases)}"
        + (f" at {ARGS.rate:g} req/s" if ARGS.rate else " back to back")
    ) + (f", up to {ARGS.connections} connections" if ARGS.rate or ARGS.photo_capacity else "")
    print(
        f"Benchmark database {BENCH_DB}: {Case.objects.count():,} cases; {ARGS.clients} clients "
        f"as {len(people.workers)} grid workers in subdistrict {people.subdistrict.code} "
        f"({people.subdistrict.name}), 2 grids each, from {ARGS.load_processes} load "
        f"process(es) (httpx); photo 1200x900 JPEG q95 of noise, {photo_size:,} bytes; {mode}; "
        f"{ARGS.warmup:g} s warm-up + {ARGS.duration:g} s measured per phase; "
        f"{CpuHog(ARGS.cpu_hog).describe()}; {os.cpu_count()} cores, load average "
        f"{load1:.2f}; server settings {ARGS.settings}, code at {code_state()}.",
        flush=True,
    )
    connection.close()

    results: list[Phase] = []
    for workers, conn_max_age in itertools.product(ARGS.workers, ARGS.conn_max_age):
        phases = run_config(workers, conn_max_age, people, photo)
        if ARGS.photo_capacity:
            print_photo_capacity(phases)
        results += phases

    print_summary(results)
    print(f"run time: {time.perf_counter() - wall:,.1f} s")
    # A capacity search ends on a step that missed on purpose: only its database checks count.
    if any(
        any(line.startswith("check failed") for line in p.problems)
        or (p.problems and not (ARGS.photo_capacity and not photo_step_met(p)))
        for p in results
    ):
        raise SystemExit("check failed: see above")


if __name__ == "__main__":
    try:
        main()
    finally:
        _tmp.cleanup()
