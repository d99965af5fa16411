"""The deadline sweep under a realistic burst: 10,000 cases turning red in
the same minute among 1,000,000 open ones, in a city staffed as a real one.

1. Staff: loads (once) the people a city's cases reach, with their roles:
   a grid worker assigned to every grid, ``BENCH_HANDLERS`` (default 40)
   handlers in every department, dispatchers at every command centre
   (community 1, subdistrict 3, district 4, city 6) and supervisors
   (subdistrict 2, district 5, city 10): about 8,000 people in the demo city
   (5,891 grids). Checks the count of each role and fails if it is short.
2. Cases: loads ``BENCH_CASES`` (default 1,000,000) open cases with set-based
   SQL (INSERT ... SELECT from generate_series) spread at random over the
   demo city's grids, with their real ancestor ids and area path, random
   routed categories, open statuses with the stage, limit and clock each
   status runs on, light green and yellow/due times 1 to 31 days ahead.
   Every other NOT NULL column gets its model default (``model_defaults``),
   so a column added later is filled, or the load stops and names it.
   Plain secondary indexes are dropped and rebuilt from their definitions
   around the INSERT, foreign keys checked set-based; then VACUUM ANALYZE;
   the number loaded is checked. Later runs keep them and only reset what an
   earlier run moved (``BENCH_RELOAD=1`` loads afresh).
3. Quiet sweep: times ``sla_sweep()`` with nothing crossing a threshold,
   median of ``BENCH_ROUNDS`` runs. Target <= 100 ms.
4. Overdue sweep: moves the due (and yellow) time of ``BENCH_OVERDUE``
   (default 10,000) random cases a few minutes into the past, lights left
   as they are, and ``BENCH_DIRECTIVES`` (default 1,000) reminders past
   their deadline, and times one sweep: it marks them all red, with the
   escalations and supervision orders the overdue policy asks for, marks
   the reminders overdue, and tells everyone in one digest each (written,
   and pushed live over the channel layer, inside the timed run). Target
   <= 10 s. Checks that exactly that many turned red, one red event per
   case, one overdue event per reminder, no notification row per event,
   and that a second sweep right after writes nothing: any failed check
   ends the run with an error.

``BENCH_SMOKE=1`` (or ``main(smoke=True)``) runs the same steps with small
numbers. Inside a transaction (tests/test_benchmarks.py runs it in the test
database) it loads without TRUNCATE, VACUUM and the bulk-load shortcuts
that need a superuser.

Runs against the benchmark database (``bench/_benchdb.py``), never the
development one: it truncates the case tables there when it (re)loads.
``BENCH_EXPLAIN=1`` prints EXPLAIN ANALYZE of the sweep's two selects.

Run with ``bin/bench sla_sweep``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import env_flag

if __name__ == "__main__":
    import _benchdb

    _benchdb.setup()

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction
from django.db.models import Count
from django.utils import timezone

from cases import deadlines
from cases.models import (
    OPEN_STATUSES,
    STAGE_OF_STATUS,
    Case,
    CaseDirective,
    CaseEvent,
    Category,
    Status,
)
from cases.sweep import sla_sweep
from core.dbroles import as_owner
from demo.city import CITY
from grids.models import Area, GridAssignment, Level
from notifications.models import DigestMark, Notification
from organisation.models import Department, Role, RoleMembership, User


class LoadBroken(SystemExit):
    """The load or a check failed: the figures would mean nothing."""


@dataclass(frozen=True)
class Config:
    cases: int
    overdue: int
    directives: int
    rounds: int
    handlers: int  # per department
    reload: bool
    explain: bool
    smoke: bool
    # Inside a transaction (a test's): no TRUNCATE, VACUUM or bulk-load
    # shortcuts, only what the application's own role could do.
    plain: bool

    @classmethod
    def from_env(cls, smoke: bool | None = None) -> Config:
        smoke = env_flag("BENCH_SMOKE") if smoke is None else smoke
        full = not smoke
        return cls(
            cases=int(os.environ.get("BENCH_CASES", "1000000" if full else "2000")),
            overdue=int(os.environ.get("BENCH_OVERDUE", "10000" if full else "200")),
            directives=int(os.environ.get("BENCH_DIRECTIVES", "1000" if full else "20")),
            rounds=int(os.environ.get("BENCH_ROUNDS", "9" if full else "2")),
            handlers=int(os.environ.get("BENCH_HANDLERS", "40" if full else "3")),
            reload=env_flag("BENCH_RELOAD"),
            explain=env_flag("BENCH_EXPLAIN"),
            smoke=smoke,
            plain=connection.in_atomic_block,
        )


PREFIX = "BENCH"  # numbers of the loaded cases: BENCH0000000001 ...
USER_PREFIX = "bench-"  # usernames of the loaded staff
# Dispatchers per command centre and supervisors per area, by level.
DISPATCHERS = {Level.CITY: 6, Level.DISTRICT: 4, Level.SUBDISTRICT: 3, Level.COMMUNITY: 1}
SUPERVISORS = {Level.CITY: 10, Level.DISTRICT: 5, Level.SUBDISTRICT: 2}
MIN_USERS = 5000  # a city's staff, at the least (full runs)

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
    /*defaults:columns*/
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
    /*defaults:values*/
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


def check(condition: bool, message: str) -> None:
    if not condition:
        raise LoadBroken(f"check failed: {message}")


def insert_columns(sql: str) -> set[str]:
    """The columns an ``INSERT INTO t (...)`` statement names."""
    names = sql.split("(", 1)[1].split(")", 1)[0]
    return {n.strip() for n in names.replace("/*defaults:columns*/", "").split(",") if n.strip()}


def model_defaults(model: type[models.Model], given: set[str]) -> tuple[list[str], dict]:
    """The NOT NULL columns of ``model`` a set-based INSERT does not give, each
    with the model's own default, as columns and named parameters. A column
    with no default stops the load and is named: the load must give it."""
    columns, params = [], {}
    for field in model._meta.concrete_fields:
        if field.primary_key or field.null or field.column in given:
            continue
        value = field.get_default()
        if value is None:
            raise LoadBroken(
                f"{model._meta.db_table}.{field.column} is NOT NULL and has no default: "
                "give it a value in the load"
            )
        columns.append(field.column)
        params[f"default_{field.column}"] = field.get_db_prep_save(value, connection)
    unknown = given - {f.column for f in model._meta.concrete_fields}
    if unknown:
        raise LoadBroken(f"{model._meta.db_table} has no columns {sorted(unknown)}")
    return columns, params


def case_insert_sql() -> tuple[str, dict]:
    columns, params = model_defaults(Case, insert_columns(INSERT_SQL))
    sql = INSERT_SQL.replace("/*defaults:columns*/", "".join(f", {c}" for c in columns))
    sql = sql.replace("/*defaults:values*/", "".join(f", %(default_{c})s" for c in columns))
    return sql, params


# --- Staff ---------------------------------------------------------------------------


def staff_plan(cfg: Config, city: Area) -> list[tuple[str, str, dict]]:
    """(username, role, scope) of every person the benchmark city employs."""
    people = []
    areas = Area.objects.filter(path__startswith=city.path).order_by("level", "id")
    for area in areas.values("id", "level", "code"):
        level = area["level"]
        if level == Level.GRID:
            people.append((f"{USER_PREFIX}gw-{area['code']}", Role.GRID_WORKER, {"grid": area}))
        for n in range(DISPATCHERS.get(level, 0)):
            people.append(
                (f"{USER_PREFIX}dp-{area['code']}-{n}", Role.DISPATCHER, {"area_id": area["id"]})
            )
        for n in range(SUPERVISORS.get(level, 0)):
            people.append(
                (f"{USER_PREFIX}sv-{area['code']}-{n}", Role.SUPERVISOR, {"area_id": area["id"]})
            )
    for department in Department.objects.filter(is_active=True).order_by("id"):
        for n in range(cfg.handlers):
            people.append(
                (
                    f"{USER_PREFIX}hd-{department.code}-{n}",
                    Role.HANDLER,
                    {"department_id": department.pk},
                )
            )
    return people


def load_staff(cfg: Config, city: Area) -> Counter:
    """Create the city's staff unless there already; their count per role."""
    plan = staff_plan(cfg, city)
    wanted = Counter(role for _name, role, _scope in plan)
    present = staff_counts()
    if present != wanted:
        started = time.perf_counter()
        with transaction.atomic():
            # Their reminders first: a directive keeps its issuer (PROTECT).
            CaseDirective.objects.filter(issued_by__username__startswith=USER_PREFIX).delete()
            RoleMembership.objects.filter(user__username__startswith=USER_PREFIX).delete()
            GridAssignment.objects.filter(user__username__startswith=USER_PREFIX).delete()
            User.objects.filter(username__startswith=USER_PREFIX).delete()
            unusable = make_password(None)  # no one signs in as them
            users = User.objects.bulk_create(
                [
                    User(username=name, password=unusable, display_name=name, is_active=True)
                    for name, _role, _scope in plan
                ],
                batch_size=2000,
            )
            since = timezone.localdate() - dt.timedelta(days=30)
            RoleMembership.objects.bulk_create(
                [
                    RoleMembership(
                        user=user,
                        role=role,
                        **{k: v for k, v in scope.items() if k != "grid"},
                    )
                    for user, (_name, role, scope) in zip(users, plan, strict=True)
                ],
                batch_size=2000,
            )
            GridAssignment.objects.bulk_create(
                [
                    GridAssignment(user=user, grid_id=scope["grid"]["id"], start_date=since)
                    for user, (_name, _role, scope) in zip(users, plan, strict=True)
                    if "grid" in scope
                ],
                batch_size=2000,
            )
        print(
            f"staff            : {len(users):,} people loaded in "
            f"{time.perf_counter() - started:,.1f} s",
            flush=True,
        )
        present = staff_counts()
    check(present == wanted, f"staff per role {dict(present)}, expected {dict(wanted)}")
    assigned = GridAssignment.objects.filter(user__username__startswith=USER_PREFIX).count()
    check(assigned == wanted[Role.GRID_WORKER], "a grid worker for every grid")
    if not cfg.smoke:
        check(sum(present.values()) >= MIN_USERS, f"at least {MIN_USERS:,} staff")
    return present


def staff_counts() -> Counter:
    return Counter(
        dict(
            RoleMembership.objects.filter(user__username__startswith=USER_PREFIX)
            .values_list("role")
            .annotate(n=Count("id"))
        )
    )


def load(cfg: Config, city: Area) -> None:
    """Truncate the case tables and load ``cfg.cases`` open cases (inside a
    transaction: add them to what is there, the plain way)."""
    calendar = deadlines.current_calendar()
    categories = list(
        Category.objects.filter(is_active=True, default_department__is_active=True).order_by("id")
    )
    check(bool(categories), "categories routed to an active department")
    insert_sql, defaults = case_insert_sql()
    print(f"Loading {cfg.cases:,} cases (truncating the case tables first)...", flush=True)
    started = time.perf_counter()
    with transaction.atomic():
        if not cfg.plain:
            execute("TRUNCATE cases_case RESTART IDENTITY CASCADE")
            # Event ids start again at 1: so do the digests.
            DigestMark.objects.update(last_event_id=0)
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
        check(grids > 0, "the city has grids")
        check(
            not scalar(
                "SELECT count(*) FROM bench_grid WHERE split_part(path, '/', 6) <> id::text"
            ),
            "grid paths are /city/district/subdistrict/community/grid/",
        )
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
        # (Inside a transaction: the plain way, as the application's role could.)
        indexes = [] if cfg.plain else secondary_indexes()
        for name, _definition in indexes:
            execute(f'DROP INDEX "{name}"')
        if not cfg.plain:
            execute("SET LOCAL session_replication_role = replica")
        prepared = time.perf_counter()
        inserted = execute(
            insert_sql,
            {
                "prefix": PREFIX,
                "level": settings.CASES_FIRST_COMMAND_LEVEL,
                "grids": grids,
                "categories": len(categories),
                "n": cfg.cases,
                **defaults,
            },
        )
        if not cfg.plain:
            execute("SET LOCAL session_replication_role = origin")
        insert_done = time.perf_counter()
        check(inserted == cfg.cases, f"{inserted:,} cases inserted, expected {cfg.cases:,}")
        orphans = scalar(FK_CHECK_SQL)
        check(not orphans, f"{orphans} loaded cases refer to rows that do not exist")
        checked = time.perf_counter()
        execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _name, definition in indexes:
            execute(definition)
        check(secondary_indexes() == indexes or cfg.plain, "the indexes came back as they were")
        indexed = time.perf_counter()
    analyse(cfg)
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


def analyse(cfg: Config) -> None:
    # VACUUM cannot run in a transaction (the smoke run is inside a test's).
    execute("ANALYZE cases_case" if cfg.plain else "VACUUM (ANALYZE) cases_case")


def reset(cfg: Config) -> None:
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
    analyse(cfg)
    print(
        f"load             : {cfg.cases:,} cases kept from an earlier run; reset {moved:,} cases "
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


DIRECTIVES_SQL = """
INSERT INTO cases_casedirective (
    case_id, kind, issued_by_id, message, due_at, created_at /*defaults:columns*/
)
SELECT c.id, 'reminder', (%(issuers)s::bigint[])[1 + floor(random() * %(k)s)::int],
       'Benchmark reminder', now() - (1 + random() * 59) * interval '1 minute',
       now() - interval '1 day' /*defaults:values*/
FROM (
    SELECT id FROM cases_case
    WHERE number LIKE %(prefix)s AND status = ANY(%(open)s) AND status <> 'suspended'
    ORDER BY random()
    LIMIT %(n)s
) AS c
"""


def add_late_directives(cfg: Config) -> int:
    """``cfg.directives`` reminders from the city's supervisors, past their deadline."""
    issuers = list(
        RoleMembership.objects.filter(
            role=Role.SUPERVISOR, user__username__startswith=USER_PREFIX
        ).values_list("user_id", flat=True)
    )
    check(bool(issuers), "supervisors to issue reminders")
    columns, defaults = model_defaults(CaseDirective, insert_columns(DIRECTIVES_SQL))
    sql = DIRECTIVES_SQL.replace("/*defaults:columns*/", "".join(f", {c}" for c in columns))
    sql = sql.replace("/*defaults:values*/", "".join(f", %(default_{c})s" for c in columns))
    with transaction.atomic():
        added = execute(
            sql,
            {
                "issuers": issuers,
                "k": len(issuers),
                "prefix": PREFIX + "%",
                "open": list(OPEN_STATUSES),
                "n": cfg.directives,
                **defaults,
            },
        )
    check(added == cfg.directives, f"{added:,} reminders added, expected {cfg.directives:,}")
    return added


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


def last_ids() -> tuple[int, int, int]:
    return (
        scalar("SELECT coalesce(max(id), 0) FROM cases_caseevent"),
        scalar("SELECT coalesce(max(id), 0) FROM cases_casedirective"),
        scalar("SELECT coalesce(max(id), 0) FROM notifications_notification"),
    )


def main(smoke: bool | None = None) -> dict:
    """Run the benchmark; the figures, as printed. Raises ``LoadBroken``
    (a SystemExit) when the load or a check fails."""
    cfg = Config.from_env(smoke)
    wall = time.perf_counter()
    city = Area.objects.filter(code=CITY[0], level=Level.CITY).first()
    check(city is not None, f"the city {CITY[0]} is loaded")
    staff = load_staff(cfg, city)
    present = scalar("SELECT count(*) FROM cases_case WHERE number LIKE %s", [PREFIX + "%"])
    # Truncating, dropping indexes and vacuuming are the owner's; inside a
    # test's transaction (plain) the load does only what the application may.
    with contextlib.nullcontext() if cfg.plain else as_owner():
        if cfg.reload or present != cfg.cases:
            load(cfg, city)
        else:
            reset(cfg)
    loaded = scalar("SELECT count(*) FROM cases_case WHERE number LIKE %s", [PREFIX + "%"])
    check(loaded == cfg.cases, f"{loaded:,} benchmark cases, expected {cfg.cases:,}")
    open_cases = Case.objects.filter(status__in=OPEN_STATUSES).count()
    grids = Area.objects.filter(level=Level.GRID, path__startswith=city.path).count()
    load1, _load5, _load15 = os.getloadavg()
    print(
        f"Benchmark database {connection.settings_dict['NAME']}"
        f"{' (smoke)' if cfg.smoke else ''}: {grids:,} grids, {open_cases:,} open cases "
        f"({scalar('SELECT count(*) FROM cases_case'):,} in all); "
        f"{sum(staff.values()):,} staff ("
        + ", ".join(f"{role} {n:,}" for role, n in sorted(staff.items()))
        + f"); sweep batch {settings.CASES_SWEEP_BATCH:,}; load average {load1:.2f}."
    )

    # Quiet: nothing crosses a threshold.
    warm_seconds, warm = timed_sweep()
    if warm.red or warm.yellow or warm.directives_overdue:
        print(f"note: the first sweep still found {warm.red} red / {warm.yellow} yellow")
    if cfg.explain:
        explain()
    quiet, quiet_results = [], []
    for _ in range(cfg.rounds):
        seconds, result = timed_sweep()
        quiet.append(seconds)
        quiet_results.append(result)
    crossed = sum(r.red + r.yellow for r in quiet_results)
    print(
        f"quiet sweep      : median {ms(statistics.median(quiet))} over {cfg.rounds} runs, "
        f"{crossed} cases crossed (first run {ms(warm_seconds)}; rounds: "
        + ", ".join(f"{s * 1000:.1f}" for s in quiet)
        + " ms)"
    )

    # Overdue: cfg.overdue cases due a few minutes ago, and late reminders.
    event_id, directive_id, notification_id = last_ids()
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(OVERDUE_SQL, {"prefix": PREFIX + "%", "n": cfg.overdue})
        overdue = cursor.fetchall()
    made = time.perf_counter() - started
    check(len(overdue) == cfg.overdue, f"{len(overdue):,} cases made overdue")
    late = add_late_directives(cfg)
    stages = Counter(stage for _id, stage in overdue)
    print(
        f"made overdue     : {len(overdue):,} cases due 1-60 min ago, lights untouched "
        f"(UPDATE {made:,.1f} s); stages: "
        + ", ".join(f"{stage} {n:,}" for stage, n in sorted(stages.items()))
        + f"; {late:,} reminders past their deadline"
    )
    if cfg.explain:
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
    written = Notification.objects.filter(id__gt=notification_id)
    rows = written.count()
    per_event = written.filter(event__isnull=False).count()
    recipients = written.values("recipient_id").distinct().count()
    kinds = Counter(dict(written.values_list("kind").annotate(n=Count("id"))))
    print(
        f"overdue sweep    : {seconds:,.2f} s for {len(overdue):,} overdue "
        f"({len(overdue) / seconds:,.0f} cases/s, {result.batches} batches): red {result.red:,}, "
        f"escalated {result.escalated:,}, supervised {result.supervised:,}, "
        f"yellow {result.yellow:,}, reminders overdue {result.directives_overdue:,}"
    )
    print(
        f"written          : {sum(actions.values()):,} events ("
        + ", ".join(f"{a} {n:,}" for a, n in sorted(actions.items()))
        + f"), {directives:,} supervision orders; one sla_red event for each of the "
        f"{len(overdue):,}: {'yes' if each_once else 'NO'}; their lights now: "
        + ", ".join(f"{light or '-'} {n:,}" for light, n in sorted(lights.items()))
    )
    print(
        f"notifications    : {rows:,} rows written ({per_event:,} for single events) to "
        f"{recipients:,} people: " + ", ".join(f"{kind} {n:,}" for kind, n in sorted(kinds.items()))
    )
    check(result.red == cfg.overdue, f"{result.red:,} turned red, expected {cfg.overdue:,}")
    check(each_once, "one sla_red event for each overdue case")
    check(
        result.directives_overdue == cfg.directives
        and actions["directive_overdue"] == cfg.directives,
        f"{result.directives_overdue:,} reminders marked overdue, expected {cfg.directives:,}",
    )
    check(per_event == 0, "the sweep's events are told in digests only")
    check(rows > 0 and rows <= recipients * len(kinds), "one row per person and kind")

    event_id, directive_id, _notification_id = last_ids()
    again_seconds, again = timed_sweep()
    actions, directives = written_since(event_id, directive_id)
    nothing = not actions and not directives and not (again.red or again.yellow)
    print(
        f"second sweep     : {ms(again_seconds)}, {sum(actions.values())} events, "
        f"{directives} directives, {again.red} red, {again.yellow} yellow: "
        + ("nothing new" if nothing else "WROTE AGAIN")
    )
    after = [timed_sweep()[0] for _ in range(cfg.rounds)]
    print(
        f"quiet after      : median {ms(statistics.median(after))} over {cfg.rounds} runs "
        f"(the old index entries of the {len(overdue):,} not vacuumed yet)"
    )
    print(f"targets          : quiet sweep <= 100 ms; {cfg.overdue:,} overdue in one sweep <= 10 s")
    print(f"run time         : {time.perf_counter() - wall:,.1f} s")
    check(nothing, "a second sweep right after writes nothing")
    return {
        "seconds": seconds,
        "cases_per_second": len(overdue) / seconds,
        "red": result.red,
        "notifications": rows,
        "recipients": recipients,
        "staff": sum(staff.values()),
    }


if __name__ == "__main__":
    main()
