"""Point-to-grid resolution at demo-city scale.

Prints single-point resolutions per second through the selector and through
a raw SQL query on a plain psycopg connection (same statement, same points,
same run) and their ratio, then bulk resolution of 10,000 points. Checks that
the selector and the raw SQL agree, and that random points of the city's
extent resolve; a failed check ends the run with an error.

Runs on the benchmark database (``bench/_benchdb.py``: the demo city, seeded
there once). ``--smoke`` (or ``BENCH_SMOKE=1``) runs the same steps with a
few hundred points (tests/test_benchmarks.py).

Run with ``bin/bench grid_lookup`` (provisions, seeds the demo city, runs).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _benchdb
from _harness import database_conninfo, smoke_mode

SMOKE = smoke_mode()
BENCH_DB = _benchdb.setup()

import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from demo.city import CITY_EXTENT  # noqa: E402
from grids.selectors import POINT_TO_GRID_SQL, grid_for_point, grids_for_points  # noqa: E402

SINGLE = int(os.environ.get("BENCH_SINGLE", "200" if SMOKE else "5000"))
BULK = int(os.environ.get("BENCH_BULK", "500" if SMOKE else "10000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1" if SMOKE else "3"))
AGREE = min(500, SINGLE)  # points resolved both ways and compared
# Share of random points in the city's extent that must resolve to a grid
# (the demo city tiles its extent; the rest would fall in gaps).
RESOLVED_AT_LEAST = 0.95


def random_points(n: int, seed: int) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    x0, y0, x1, y1 = CITY_EXTENT
    return [(rng.uniform(x0, x1), rng.uniform(y0, y1)) for _ in range(n)]


def raw_connection() -> psycopg.Connection:
    return psycopg.connect(**database_conninfo(settings.DATABASES["default"]), autocommit=True)


def time_selector(points) -> float:
    started = time.perf_counter()
    for lng, lat in points:
        grid_for_point(lng=lng, lat=lat)
    return len(points) / (time.perf_counter() - started)


def time_raw(cursor, points) -> float:
    started = time.perf_counter()
    for lng, lat in points:
        cursor.execute(POINT_TO_GRID_SQL, (lng, lat))
        cursor.fetchone()
    return len(points) / (time.perf_counter() - started)


def time_bulk(points) -> float:
    started = time.perf_counter()
    grids_for_points(points)
    return len(points) / (time.perf_counter() - started)


def main() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM grids_area WHERE level = 5")
        grids = cursor.fetchone()[0]
    print(
        f"Benchmark database {BENCH_DB}: demo city {grids} grids. "
        f"Single: {SINGLE} points x {ROUNDS} rounds; bulk: {BULK} points x {ROUNDS} rounds."
    )

    points = random_points(SINGLE, seed=1)
    with raw_connection() as raw:
        cursor = raw.cursor()
        # Same answers both ways, and warm caches and prepared statements.
        for lng, lat in points[:AGREE]:
            cursor.execute(POINT_TO_GRID_SQL, (lng, lat))
            if cursor.fetchone()[0] != grid_for_point(lng=lng, lat=lat).id:
                raise SystemExit(f"selector and raw SQL disagree at ({lng}, {lat})")
        selector_rates, raw_rates = [], []
        for round_no in range(ROUNDS):
            sample = random_points(SINGLE, seed=100 + round_no)
            selector_rates.append(time_selector(sample))
            raw_rates.append(time_raw(cursor, sample))

    bulk_rates = [time_bulk(random_points(BULK, seed=200 + r)) for r in range(ROUNDS)]
    resolved = sum(1 for m in grids_for_points(random_points(BULK, seed=999)) if m)

    selector = statistics.median(selector_rates)
    raw_rate = statistics.median(raw_rates)
    bulk = statistics.median(bulk_rates)
    print(
        f"single, selector : {selector:10,.0f} points/s   (rounds: "
        + ", ".join(f"{r:,.0f}" for r in selector_rates)
        + ")"
    )
    print(
        f"single, raw SQL  : {raw_rate:10,.0f} points/s   (rounds: "
        + ", ".join(f"{r:,.0f}" for r in raw_rates)
        + ")"
    )
    print(f"selector / raw   : {selector / raw_rate:10.0%}")
    print(
        f"bulk {BULK:,} points: {bulk:10,.0f} points/s   ({BULK / bulk * 1000:,.0f} ms per call; "
        "rounds: " + ", ".join(f"{r:,.0f}" for r in bulk_rates) + ")"
    )
    print(f"bulk check       : {resolved:,} of {BULK:,} random points in the city extent resolved")
    print("targets          : selector >= 1,500/s and >= 50% of raw; bulk >= 20,000/s")
    if resolved < RESOLVED_AT_LEAST * BULK:
        raise SystemExit(
            f"check failed: only {resolved:,} of {BULK:,} random points resolved to a grid"
        )


if __name__ == "__main__":
    main()
