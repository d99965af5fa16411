"""The deadline sweep at demo-city scale: 1,000,000 open cases.

1. Loads ``BENCH_CASES`` (default 1,000,000) open cases with set-based SQL
   (INSERT ... SELECT from generate_series) spread at random over the demo
   city's grids, with their real ancestor ids and area path, random routed
   categories, open statuses with the stage, limit and clock each status runs
   on, light green and yellow/due times 1 to 31 days ahead (plain secondary
   indexes dropped and rebuilt from their definitions around the INSERT,
   foreign keys checked set-based); then VACUUM ANALYZE. Later runs keep
   them and only reset what an earlier run moved (``BENCH_RELOAD=1`` loads
   afresh).
2. Quiet sweep: times ``sla_sweep()`` with nothing crossing a threshold,
   median of ``BENCH_ROUNDS`` runs. Target <= 100 ms.
3. Overdue sweep: moves the due (and yellow) time of ``BENCH_OVERDUE``
   (default 10,000) random cases a few minutes into the past, lights left as
   they are, and times one sweep marking them all red, with the escalations
   and supervision orders the overdue policy asks for (an escalated case
   starts a new deadline at the centre above, green again). Target <= 10 s.
   Checks one red event per case, and that a second sweep right after
   writes nothing.

Runs against the benchmark database (``bench/_benchdb.py``), never the
development one: it truncates the case tables there when it (re)loads.
``BENCH_EXPLAIN=1`` prints EXPLAIN ANALYZE of the sweep's two selects.

Run with ``bin/bench sla_sweep``.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _benchdb

BENCH_DB = _benchdb.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.utils import timezone  # noqa: E402

from cases import deadlines  # noqa: E402
from cases.models import (  # noqa: E402
    OPEN_STATUSES,
    STAGE_OF_STATUS,
    Case,
    CaseDirective,
    CaseEvent,
    Category,
    Status,
)
from cases.sweep import sla_sweep  # noqa: E402
from governance.dbroles import as_owner  # noqa: E402
from grids.demo_city import CITY  # noqa: E402
from grids.models import Area, Level  # noqa: E402

CASES = int(os.environ.get("BENCH_CASES", "1000000"))
OVERDUE = int(os.environ.get("BENCH_OVERDUE", "10000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "9"))
RELOAD = os.environ.get("BENCH_RELOAD", "") not in ("", "0", "false")
EXPLAIN = os.environ.get("BENCH_EXPLAIN", "") not in ("", "0", "false")
PREFIX = "BENCH"  # numbers of the loaded cases: BENCH0000000001 ...

# Share of the open cases in each status (suspended: clock stopped, no due times).
STATUS_MIX = [
    (Status.REPORTED, 0.08),
    (Status.REGISTERED, 0.07),
    (Status.RETURNED, 0.02),
    (Status.DISPATCHED, 0.08),
    (Status.IN_PROGRESS, 0.55),
    (Status.SUSPENDED, 0.05),
    (Status.HANDLED, 0.15),
]
# Stages gone through to reach each status (the stage number of the current one).
STAGE_SEQ = {
    Status.REPORTED: 1,
    Status.REGISTERED: 2,
    Status.DISPATCHED: 3,
    Status.RETURNED: 4,
    Status.IN_PROGRESS: 4,
    Status.SUSPENDED: 4,
    Status.HANDLED: 5,
}
WITH_DEPARTMENT = {Status.DISPATCHED, Status.IN_PROGRESS, Status.SUSPENDED, Status.HANDLED}

INSERT_SQL = """
INSERT INTO cases_case (
    number, source, category_id, description, address, location,
    grid_id, community_id, subdistrict_id, district_id, area_path, command_level,
    reporter_id, reporter_name, reporter_phone, reporter_email, urgency, status,
    department_id, routed_department_id, unrouted,
    stage, stage_seq, stage_unit, stage_clock, stage_started_at, stage_limit, stage_paused,
    yellow_at, due_at, light, suspended_at, pending_request, pending_extension,
    is_supervised, self_handled, return_count, rework_count, extension_count, overdue_count,
    reject_reason, duplicate_of_id, satisfaction, version, created_at, updated_at, closed_at
)
SELECT
    %(prefix)s || lpad(r.i::text, 10, '0'),
    (ARRAY['grid_worker', 'citizen', 'hotline', 'sensor'])[1 + floor(r.rsrc * 4)::int],
    c.id, 'Benchmark case ' || r.i, '',
    ST_SetSRID(ST_MakePoint(g.x0 + (g.x1 - g.x0) * (0.05 + 0.9 * r.rx),
                            g.y0 + (g.y1 - g.y0) * (0.05 + 0.9 * r.ry)), 4326),
    g.id, g.community_id, g.subdistrict_id, g.district_id, g.path, %(level)s,
    NULL, '', '', '', c.urgency, s.status,
    CASE WHEN s.with_department THEN c.department_id END,
    CASE WHEN s.routed THEN c.department_id END,
    false,
    s.stage, s.stage_seq, u.unit, u.clock, t.started, u.limit_minutes, 0,
    CASE WHEN NOT s.suspended THEN t.at + 0.8 * t.remaining END,
    CASE WHEN NOT s.suspended THEN t.at + t.remaining END,
    'green',
    CASE WHEN s.suspended THEN t.started + (t.at - t.started) / 2 END,
    '', 0, false, false, s.returns, 0, 0, 0, '', NULL, '', s.stage_seq,
    t.started - r.rage * interval '30 days', t.at, NULL
FROM (
    SELECT i,
           floor(random() * %(grids)s)::int AS gi,
           floor(random() * %(categories)s)::int AS ci,
           random() AS rs, random() AS rsrc, random() AS rx, random() AS ry,
           random() AS rstart, random() AS rleft, random() AS rage
    FROM generate_series(1, %(n)s) AS i
) AS r
JOIN bench_grid AS g ON g.rn = r.gi
JOIN bench_category AS c ON c.rn = r.ci
JOIN bench_status AS s ON r.rs >= s.lo AND r.rs < s.hi
JOIN bench_limit AS u ON u.category_rn = r.ci AND u.stage = s.stage
CROSS JOIN LATERAL (
    SELECT statement_timestamp() AS at,
           statement_timestamp() - r.rstart * interval '2 hours' AS started,
           interval '1 day' + r.rleft * interval '30 days' AS remaining
) AS t
"""

# Loaded cases whose foreign keys point nowhere (the load skips the per-row checks).
FK_CHECK_SQL = """
SELECT count(*) FROM cases_case AS c
WHERE NOT EXISTS (SELECT 1 FROM grids_area AS a WHERE a.id = c.grid_id)
   OR NOT EXISTS (SELECT 1 FROM grids_area AS a WHERE a.id = c.community_id)
   OR NOT EXISTS (SELECT 1 FROM grids_area AS a WHERE a.id = c.subdistrict_id)
   OR NOT EXISTS (SELECT 1 FROM grids_area AS a WHERE a.id = c.district_id)
   OR NOT EXISTS (SELECT 1 FROM cases_category AS k WHERE k.id = c.category_id)
   OR (c.department_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM organisation_department AS d WHERE d.id = c.department_id))
   OR (c.routed_department_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM organisation_department AS d
                       WHERE d.id = c.routed_department_id))
"""

# Anything open whose light an earlier run moved, or whose yellow time comes
# within the hour: a new stage (stage number + 1, so the sweep's dedupe keys
# are fresh), green, due 1 to 31 days ahead; no supervision, first command level.
RESET_SQL = """
UPDATE cases_case AS c
SET light = 'green', yellow_at = now() + 0.8 * x.remaining, due_at = now() + x.remaining,
    stage_seq = c.stage_seq + 1, stage_started_at = now(), is_supervised = false,
    command_level = %(level)s, version = c.version + 1, updated_at = now()
FROM (
    SELECT id, interval '1 day' + random() * interval '30 days' AS remaining
    FROM cases_case
    WHERE status = ANY(%(open)s) AND status <> 'suspended' AND stage <> ''
      AND (light <> 'green' OR yellow_at IS NULL OR yellow_at < now() + interval '1 hour'
           OR command_level <> %(level)s OR is_supervised)
) AS x
WHERE c.id = x.id
"""

OVERDUE_SQL = """
UPDATE cases_case AS c
SET due_at = now() - x.ago, yellow_at = now() - x.ago - interval '30 minutes'
FROM (
    SELECT id, (1 + random() * 59) * interval '1 minute' AS ago
    FROM cases_case
    WHERE number LIKE %(prefix)s AND light = 'green' AND due_at IS NOT NULL
    ORDER BY random()
    LIMIT %(n)s
) AS x
WHERE c.id = x.id
RETURNING c.id, c.stage
"""


def execute(sql: str, params=None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def scalar(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def load() -> None:
    """Truncate the case tables and load CASES open cases."""
    city = Area.objects.get(code=CITY[0])
    calendar = deadlines.current_calendar()
    categories = list(
        Category.objects.filter(is_active=True, default_department__is_active=True).order_by("id")
    )
    print(f"Loading {CASES:,} cases (truncating the case tables first)...", flush=True)
    started = time.perf_counter()
    with transaction.atomic():
        execute("TRUNCATE cases_case RESTART IDENTITY CASCADE")
        execute(
            """
            CREATE TEMP TABLE bench_grid ON COMMIT DROP AS
            SELECT (row_number() OVER (ORDER BY id) - 1)::int AS rn, id, path,
                   split_part(path, '/', 3)::bigint AS district_id,
                   split_part(path, '/', 4)::bigint AS subdistrict_id,
                   split_part(path, '/', 5)::bigint AS community_id,
                   ST_XMin(boundary) AS x0, ST_YMin(boundary) AS y0,
                   ST_XMax(boundary) AS x1, ST_YMax(boundary) AS y1
            FROM grids_area WHERE level = %s AND path LIKE %s
            """,
            [Level.GRID, city.path + "%"],
        )
        grids = scalar("SELECT count(*) FROM bench_grid")
        if scalar("SELECT count(*) FROM bench_grid WHERE split_part(path, '/', 6) <> id::text"):
            raise SystemExit("grid paths are not /city/district/subdistrict/community/grid/")
        execute(
            "CREATE TEMP TABLE bench_category (rn int, id bigint, urgency text, "
            "department_id bigint) ON COMMIT DROP"
        )
        execute(
            "CREATE TEMP TABLE bench_limit (category_rn int, stage text, unit text, "
            "clock text, limit_minutes float8) ON COMMIT DROP"
        )
        execute(
            "CREATE TEMP TABLE bench_status (lo float8, hi float8, status text, stage text, "
            "stage_seq int, with_department bool, routed bool, suspended bool, returns int) "
            "ON COMMIT DROP"
        )
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO bench_category VALUES (%s, %s, %s, %s)",
                [
                    (rn, c.pk, c.default_urgency, c.default_department_id)
                    for rn, c in enumerate(categories)
                ],
            )
            # The limit each category's cases run on, as the services compute it.
            limits = []
            for rn, category in enumerate(categories):
                for stage in sorted(set(STAGE_OF_STATUS.values())):
                    limit = deadlines.limit_for(
                        category_id=category.pk, urgency=category.default_urgency, stage=stage
                    )
                    limits.append(
                        (rn, stage, limit.unit, limit.clock, limit.clock_minutes(calendar))
                    )
            cursor.executemany("INSERT INTO bench_limit VALUES (%s, %s, %s, %s, %s)", limits)
            rows, lo = [], 0.0
            for status, share in STATUS_MIX:
                hi = 1.0 if status == STATUS_MIX[-1][0] else lo + share
                rows.append(
                    (
                        lo,
                        hi,
                        status,
                        STAGE_OF_STATUS[status],
                        STAGE_SEQ[status],
                        status in WITH_DEPARTMENT,
                        status != Status.REPORTED,
                        status == Status.SUSPENDED,
                        1 if status == Status.RETURNED else 0,
                    )
                )
                lo = hi
            cursor.executemany(
                "INSERT INTO bench_status VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", rows
            )
            cursor.execute("SELECT setseed(0.2026)")
        # Bulk-load the usual way: drop the plain secondary indexes and build them
        # again from their own definitions afterwards, and skip the per-row
        # (deferred) foreign-key triggers, checking the keys set-based instead.
        # All in this one transaction: a failure leaves the schema as it was.
        indexes = secondary_indexes()
        for name, _definition in indexes:
            execute(f'DROP INDEX "{name}"')
        execute("SET LOCAL session_replication_role = replica")
        prepared = time.perf_counter()
        inserted = execute(
            INSERT_SQL,
            {
                "prefix": PREFIX,
                "level": settings.CASES_FIRST_COMMAND_LEVEL,
                "grids": grids,
                "categories": len(categories),
                "n": CASES,
            },
        )
        execute("SET LOCAL session_replication_role = origin")
        insert_done = time.perf_counter()
        orphans = scalar(FK_CHECK_SQL)
        if orphans:
            raise SystemExit(f"{orphans} loaded cases refer to rows that do not exist")
        checked = time.perf_counter()
        execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _name, definition in indexes:
            execute(definition)
        if secondary_indexes() != indexes:
            raise SystemExit("the indexes of cases_case did not come back as they were")
        indexed = time.perf_counter()
    execute("VACUUM (ANALYZE) cases_case")
    analysed = time.perf_counter()
    print(
        f"load             : {inserted:,} cases in {analysed - started:,.1f} s "
        f"(INSERT {insert_done - prepared:,.1f} s, foreign keys checked "
        f"{checked - insert_done:,.1f} s, {len(indexes)} indexes built "
        f"{indexed - checked:,.1f} s, VACUUM ANALYZE "
        f"{analysed - indexed:,.1f} s; {grids:,} grids, {len(categories)} categories)"
    )


def secondary_indexes() -> list[tuple[str, str]]:
    """cases_case's plain indexes: not a constraint's (primary key, unique number),
    not partial (the sweep's two stay as the migrations made them: rebuilt from
    pg_get_indexdef, a predicate would come back written differently)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, pg_get_indexdef(i.indexrelid)
            FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid
            WHERE i.indrelid = 'cases_case'::regclass AND i.indpred IS NULL
              AND NOT EXISTS (SELECT 1 FROM pg_constraint AS k WHERE k.conindid = i.indexrelid)
            ORDER BY c.relname
            """
        )
        return cursor.fetchall()


def reset() -> None:
    """Undo what an earlier run moved, then VACUUM ANALYZE."""
    started = time.perf_counter()
    with transaction.atomic():
        moved = execute(
            RESET_SQL,
            {"level": settings.CASES_FIRST_COMMAND_LEVEL, "open": list(OPEN_STATUSES)},
        )
        settled = execute(
            "UPDATE cases_casedirective SET settled_at = now() WHERE settled_at IS NULL"
        )
    reset_done = time.perf_counter()
    execute("VACUUM (ANALYZE) cases_case")
    print(
        f"load             : {CASES:,} cases kept from an earlier run; reset {moved:,} cases "
        f"and settled {settled:,} directives in {reset_done - started:,.1f} s, "
        f"VACUUM ANALYZE {time.perf_counter() - reset_done:,.1f} s"
    )


def explain() -> None:
    now = timezone.now()
    for label, sql in (
        (
            "red",
            "SELECT id FROM cases_case WHERE light IN ('green', 'yellow') AND due_at IS NOT NULL "
            "AND due_at <= %s ORDER BY due_at LIMIT 1000 FOR UPDATE SKIP LOCKED",
        ),
        (
            "yellow",
            "SELECT id FROM cases_case WHERE light = 'green' AND yellow_at IS NOT NULL "
            "AND yellow_at <= %s ORDER BY yellow_at LIMIT 1000 FOR UPDATE SKIP LOCKED",
        ),
    ):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, [now])
            print(f"EXPLAIN {label}:")
            for (line,) in cursor.fetchall():
                print("    " + line)


def timed_sweep():
    started = time.perf_counter()
    result = sla_sweep()
    return time.perf_counter() - started, result


def written_since(event_id: int, directive_id: int) -> tuple[Counter, int]:
    actions = Counter(
        dict(
            CaseEvent.objects.filter(id__gt=event_id).values_list("action").annotate(n=Count("id"))
        )
    )
    return actions, CaseDirective.objects.filter(id__gt=directive_id).count()


def last_ids() -> tuple[int, int]:
    return (
        scalar("SELECT coalesce(max(id), 0) FROM cases_caseevent"),
        scalar("SELECT coalesce(max(id), 0) FROM cases_casedirective"),
    )


def main() -> None:
    wall = time.perf_counter()
    present = scalar("SELECT count(*) FROM cases_case WHERE number LIKE %s", [PREFIX + "%"])
    with as_owner():  # truncating, dropping indexes and vacuuming are the owner's
        if RELOAD or present != CASES:
            load()
        else:
            reset()
    open_cases = Case.objects.filter(status__in=OPEN_STATUSES).count()
    grids = Area.objects.filter(level=Level.GRID).count()
    load1, _load5, _load15 = os.getloadavg()
    print(
        f"Benchmark database {BENCH_DB}: demo city {grids:,} grids, {open_cases:,} open cases "
        f"({scalar('SELECT count(*) FROM cases_case'):,} in all); sweep batch "
        f"{settings.CASES_SWEEP_BATCH:,}; load average {load1:.2f}."
    )

    # Quiet: nothing crosses a threshold.
    warm_seconds, warm = timed_sweep()
    if warm.red or warm.yellow:
        print(f"note: the first sweep still found {warm.red} red / {warm.yellow} yellow")
    if EXPLAIN:
        explain()
    quiet, quiet_results = [], []
    for _ in range(ROUNDS):
        seconds, result = timed_sweep()
        quiet.append(seconds)
        quiet_results.append(result)
    crossed = sum(r.red + r.yellow for r in quiet_results)
    print(
        f"quiet sweep      : median {ms(statistics.median(quiet))} over {ROUNDS} runs, "
        f"{crossed} cases crossed (first run {ms(warm_seconds)}; rounds: "
        + ", ".join(f"{s * 1000:.1f}" for s in quiet)
        + " ms)"
    )

    # Overdue: OVERDUE cases due a few minutes ago.
    event_id, directive_id = last_ids()
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(OVERDUE_SQL, {"prefix": PREFIX + "%", "n": OVERDUE})
        overdue = cursor.fetchall()
    made = time.perf_counter() - started
    stages = Counter(stage for _id, stage in overdue)
    print(
        f"made overdue     : {len(overdue):,} cases due 1-60 min ago, lights untouched "
        f"(UPDATE {made:,.1f} s); stages: "
        + ", ".join(f"{stage} {n:,}" for stage, n in sorted(stages.items()))
    )
    if EXPLAIN:
        explain()
    seconds, result = timed_sweep()
    actions, directives = written_since(event_id, directive_id)
    overdue_ids = {pk for pk, _stage in overdue}
    red_events = Counter(
        CaseEvent.objects.filter(id__gt=event_id, action="sla_red").values_list(
            "case_id", flat=True
        )
    )
    each_once = set(red_events) == overdue_ids and set(red_events.values()) == {1}
    lights = Counter(Case.objects.filter(pk__in=overdue_ids).values_list("light", flat=True))
    print(
        f"overdue sweep    : {seconds:,.2f} s for {len(overdue):,} overdue "
        f"({len(overdue) / seconds:,.0f} cases/s, {result.batches} batches): red {result.red:,}, "
        f"escalated {result.escalated:,}, supervised {result.supervised:,}, "
        f"yellow {result.yellow:,}"
    )
    print(
        f"written          : {sum(actions.values()):,} events ("
        + ", ".join(f"{a} {n:,}" for a, n in sorted(actions.items()))
        + f"), {directives:,} supervision orders; one sla_red event for each of the "
        f"{len(overdue):,}: {'yes' if each_once else 'NO'}; their lights now: "
        + ", ".join(f"{light or '-'} {n:,}" for light, n in sorted(lights.items()))
    )

    event_id, directive_id = last_ids()
    again_seconds, again = timed_sweep()
    actions, directives = written_since(event_id, directive_id)
    nothing = not actions and not directives and not (again.red or again.yellow)
    print(
        f"second sweep     : {ms(again_seconds)}, {sum(actions.values())} events, "
        f"{directives} directives, {again.red} red, {again.yellow} yellow: "
        + ("nothing new" if nothing else "WROTE AGAIN")
    )
    after = [timed_sweep()[0] for _ in range(ROUNDS)]
    print(
        f"quiet after      : median {ms(statistics.median(after))} over {ROUNDS} runs "
        f"(the old index entries of the {len(overdue):,} not vacuumed yet)"
    )
    print(f"targets          : quiet sweep <= 100 ms; {OVERDUE:,} overdue in one sweep <= 10 s")
    print(f"run time         : {time.perf_counter() - wall:,.1f} s")
    if not nothing or not each_once:
        raise SystemExit("check failed: see above")


if __name__ == "__main__":
    main()
