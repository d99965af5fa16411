"""Case transitions per second through the services, on the demo city.

Files N cases (``BENCH_CASES``, default 300) as the city-level dispatcher
taking hotline calls at random points inside random grids of the demo city,
in categories that route to a department, then takes every case through the
main line one stage at a time, each stage timed on its own:

    report → register → dispatch → acknowledge → report_back → inspect_pass

register, dispatch and inspect_pass as the dispatcher; acknowledge and
report_back as a handler of the case's department (one benchmark handler per
department; report_back carries one small in-memory JPEG). Prints, per
action, the rate (ops/s, median of ``BENCH_ROUNDS`` rounds) and p50/p95
latency over all calls, then overall transitions per second.

Cases and events cannot be deleted, so this runs against the benchmark
database (``bench/_benchdb.py``), never the development one. Photos go to a
temporary MEDIA_ROOT removed at the end. Every case must end closed with
one event per step, or the run ends with an error. ``--smoke`` (or
``BENCH_SMOKE=1``) takes a handful of cases through one round
(tests/test_benchmarks.py).

Run with ``bin/bench case_transitions``.
"""

from __future__ import annotations

import io
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _benchdb
from _harness import percentile, print_table, smoke_mode

SMOKE = smoke_mode()
_media = tempfile.TemporaryDirectory(prefix="bench-media-")
BENCH_DB = _benchdb.setup(media_root=_media.name)

from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.db import connection  # noqa: E402
from PIL import Image  # noqa: E402

from cases import services  # noqa: E402
from cases.models import OPEN_STATUSES, Case, CaseEvent, Category, Source, Status  # noqa: E402
from demo.city import CITY  # noqa: E402
from grids.models import Area, Level  # noqa: E402
from organisation.models import Department, Role, RoleMembership, User  # noqa: E402

CASES = int(os.environ.get("BENCH_CASES", "5" if SMOKE else "300"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1" if SMOKE else "3"))
WARMUP = 2 if SMOKE else 10
STAGES = ("report", "register", "dispatch", "acknowledge", "report_back", "inspect_pass")
TRANSITIONS = STAGES[1:]  # the stages that move an existing case


def small_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 140, 60)).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


JPEG = small_jpeg()


def bench_handlers() -> dict[int, User]:
    """One handler per active department (the demo ``handler`` is only in CGJ)."""
    handlers = {}
    for department in Department.objects.filter(is_active=True):
        user, _created = User.objects.get_or_create(
            username=f"bench-handler-{department.code.lower()}",
            defaults={"display_name": f"Bench handler {department.code}"},
        )
        RoleMembership.objects.get_or_create(user=user, role=Role.HANDLER, department=department)
        handlers[department.pk] = user
    return handlers


def grid_boxes() -> list[tuple[float, float, float, float]]:
    """Every grid's bounding box shrunk by 10% on each side (demo grids are
    rectangles, so a point in it is inside the grid and off its edges)."""
    city = Area.objects.get(code=CITY[0])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_XMin(boundary), ST_YMin(boundary), ST_XMax(boundary), ST_YMax(boundary) "
            "FROM grids_area WHERE level = %s AND path LIKE %s",
            [Level.GRID, city.path + "%"],
        )
        boxes = []
        for x0, y0, x1, y1 in cursor.fetchall():
            dx, dy = (x1 - x0) * 0.1, (y1 - y0) * 0.1
            boxes.append((x0 + dx, y0 + dy, x1 - dx, y1 - dy))
    return boxes


class Runner:
    def __init__(self, dispatcher: User, handlers: dict[int, User], categories, boxes, seed: int):
        self.dispatcher = dispatcher
        self.handlers = handlers
        self.categories = categories
        self.boxes = boxes
        self.rng = random.Random(seed)

    def report(self, _case) -> Case:
        x0, y0, x1, y1 = self.rng.choice(self.boxes)
        return services.case_report(
            reporter=self.dispatcher,
            source=Source.HOTLINE,
            description="Benchmark: hotline call about a broken street lamp.",
            lng=self.rng.uniform(x0, x1),
            lat=self.rng.uniform(y0, y1),
            category=self.rng.choice(self.categories),
            reporter_name="Bench Caller",
            reporter_phone="13800000000",
        )

    def register(self, case: Case) -> Case:
        return services.case_register(case=case.pk, actor=self.dispatcher)

    def dispatch(self, case: Case) -> Case:
        return services.case_dispatch(case=case.pk, actor=self.dispatcher)

    def acknowledge(self, case: Case) -> Case:
        return services.case_acknowledge(case=case.pk, actor=self.handlers[case.department_id])

    def report_back(self, case: Case) -> Case:
        photo = SimpleUploadedFile("result.jpg", JPEG, content_type="image/jpeg")
        return services.case_report_back(
            case=case.pk,
            actor=self.handlers[case.department_id],
            note="Benchmark: lamp replaced.",
            photos=[photo],
        )

    def inspect_pass(self, case: Case) -> Case:
        return services.case_inspect(case=case.pk, actor=self.dispatcher, passed=True)

    def run(self, n: int) -> tuple[dict[str, float], dict[str, list[float]], list[Case]]:
        """Take ``n`` new cases through every stage; per stage its total
        seconds and each call's latency in seconds."""
        cases: list = [None] * n
        totals, latencies = {}, {}
        for stage in STAGES:
            step = getattr(self, stage)
            lat = []
            started = time.perf_counter()
            for i in range(n):
                t0 = time.perf_counter()
                cases[i] = step(cases[i])
                lat.append(time.perf_counter() - t0)
            totals[stage] = time.perf_counter() - started
            latencies[stage] = lat
        return totals, latencies, cases


def main() -> None:
    dispatcher = User.objects.get(username="dispatcher")
    handlers = bench_handlers()
    categories = list(
        Category.objects.filter(is_active=True, default_department__is_active=True)
        .select_related("default_department")
        .order_by("code")
    )
    boxes = grid_boxes()
    open_cases = Case.objects.filter(status__in=OPEN_STATUSES).count()
    print(
        f"Benchmark database {BENCH_DB}: demo city {len(boxes):,} grids, "
        f"{len(handlers)} departments with a handler, {len(categories)} routed categories; "
        f"{open_cases:,} open cases already there; load average {os.getloadavg()[0]:.2f}."
    )
    print(
        f"{CASES} cases x {ROUNDS} rounds: hotline reports by the city dispatcher at random "
        "points in random grids, then each stage over all cases in turn."
    )

    # Warm up: imports, caches, the working calendar, connections.
    Runner(dispatcher, handlers, categories, boxes, seed=1).run(WARMUP)

    rates: dict[str, list[float]] = {s: [] for s in STAGES}
    latencies: dict[str, list[float]] = {s: [] for s in STAGES}
    overall, overall_with_report = [], []
    events_before = CaseEvent.objects.count()
    done: list[Case] = []
    wall = time.perf_counter()
    for round_no in range(ROUNDS):
        totals, lat, cases = Runner(
            dispatcher, handlers, categories, boxes, seed=100 + round_no
        ).run(CASES)
        done.extend(cases)
        for stage in STAGES:
            rates[stage].append(CASES / totals[stage])
            latencies[stage].extend(lat[stage])
        overall.append(CASES * len(TRANSITIONS) / sum(totals[s] for s in TRANSITIONS))
        overall_with_report.append(CASES * len(STAGES) / sum(totals.values()))
    wall = time.perf_counter() - wall

    # Every case went the whole way, with one event per step.
    closed = Case.objects.filter(pk__in=[c.pk for c in done], status=Status.CLOSED).count()
    events = CaseEvent.objects.count() - events_before
    if closed != len(done) or events != len(done) * len(STAGES):
        raise SystemExit(
            f"check failed: {closed} of {len(done)} cases closed, {events} events "
            f"(expected {len(done) * len(STAGES)})"
        )

    print_table(
        (("action", "<14"), ("ops/s", ">9,.1f"), ("p50 ms", ">9.1f"), ("p95 ms", ">9.1f"),
         ("   rounds (ops/s)", "<")),
        (
            (stage, statistics.median(rates[stage]), percentile(latencies[stage], 50) * 1000,
             percentile(latencies[stage], 95) * 1000,
             "   " + ", ".join(f"{r:,.1f}" for r in rates[stage]))
            for stage in STAGES
        ),
    )  # fmt: skip
    print(
        f"overall        : {statistics.median(overall):,.1f} transitions/s "
        f"(register → inspect_pass, {len(TRANSITIONS)} per case; rounds: "
        + ", ".join(f"{r:,.1f}" for r in overall)
        + ")"
    )
    print(
        f"incl. report   : {statistics.median(overall_with_report):,.1f} steps/s "
        f"({len(STAGES)} per case; rounds: "
        + ", ".join(f"{r:,.1f}" for r in overall_with_report)
        + ")"
    )
    print(
        f"check          : {closed:,} of {len(done):,} cases closed, {events:,} events written; "
        f"{wall:.1f} s for the timed rounds"
    )


if __name__ == "__main__":
    try:
        main()
    finally:
        _media.cleanup()
