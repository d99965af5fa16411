"""The driver process of ``bench/live.py``: case transitions at a fixed rate.

Run by live.py as its own process (``python bench/_live_driver.py SPEC.json``)
with Django on the benchmark database, so that its CPU (the services and the
live push after commit) is measured apart from the server's and the
clients'. It takes cases through the main line with the real services, as
bench/case_transitions.py does:

    report → register → dispatch → acknowledge → report_back → inspect_pass

``processes`` driver processes of ``threads`` threads each (every thread its
own database connection) share the schedule: thread k of process p acts at
``start + (p * threads + k + n * processes * threads) / rate`` for n = 0, 1,
..., so that together they start one action every ``1 / rate`` seconds
(several processes, since one Python process cannot use more than a core).
A thread that falls behind acts at once (nothing is skipped) and the delay
is recorded.

``push_from`` says where the services run. "thread": in plain threads, as in
a Celery task or a management command. "loop": each action goes from the
process's event loop through ``sync_to_async``, as Django's ASGI handler
runs a view for an API request under uvicorn. Either way ``live.send``
publishes in the calling thread over the process's kept Redis connection
(notifications.live).

Each thread keeps ``in_flight`` cases open: it reports a new case
when it has fewer, else it moves its oldest case one step on, so the actions
come in equal shares. Cases are reported at random points in the grids of
the spec (those of the connected grid workers): by the grid's worker
(``worker_share`` of them, source grid_worker) or as a hotline call taken by
the city dispatcher, who also registers, dispatches and inspects; a handler
of the case's department acknowledges and reports back (with a small JPEG).

Timing. The commit time of an event is ``time.time()`` when the COMMIT of
its transaction returned (``BaseDatabaseWrapper.commit`` is wrapped for
that: it measures, it changes nothing), so a client's latency includes
everything that runs after commit before the push (other on-commit hooks).
The live push itself is ``notifications.live.push_case_event``'s work,
done here by the receiver of ``cases.publishing.case_event_committed`` that
this process puts in its place (the same ``notifications.live.send`` call),
which times it and counts the groups the channel layer refused. Every other
``live.send_many`` (the notifications' pushes, one call per event) is timed
too.

After the run, ``probe`` pushes of an eight-group message to groups no one
follows compare the cost of ``live.send`` (the process's publisher) with
``async_to_sync(send_async)`` (a new event loop, thread and Redis
connection per call outside an event loop).

Writes one JSON object to ``spec["out"]``.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import random
import resource
import sys
import threading
import time
import traceback
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

with open(sys.argv[1], encoding="utf-8") as _f:
    SPEC = json.load(_f)

os.environ["MEDIA_ROOT"] = SPEC["media_root"]

import django  # noqa: E402
from asgiref.sync import async_to_sync, sync_to_async  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.backends.base.base import BaseDatabaseWrapper  # noqa: E402
from PIL import Image  # noqa: E402

from cases import services  # noqa: E402
from cases.models import Category, Source  # noqa: E402
from cases.publishing import case_event_committed  # noqa: E402
from notifications import live  # noqa: E402
from organisation.models import User  # noqa: E402

if settings.DATABASES["default"]["NAME"] != SPEC["database"]:
    raise SystemExit(f"the driver is set up on {settings.DATABASES['default']['NAME']!r}")

STAGES = ("report", "register", "dispatch", "acknowledge", "report_back", "inspect_pass")
MAX_ERROR_SAMPLES = 5


def small_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 140, 60)).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


JPEG = small_jpeg()

# --- Instruments -----------------------------------------------------------------------

_local = threading.local()
_commit = BaseDatabaseWrapper.commit


def _timed_commit(self):
    _commit(self)
    _local.committed_at = time.time()


BaseDatabaseWrapper.commit = _timed_commit

# (event id, case id, action, committed, push started, push done, groups, groups refused)
EVENTS: list[tuple] = []


# (started, done, message types) of every other live push: the notifications.
OTHER_PUSHES: list[tuple] = []
_send_many = live.send_many


def _timed_send_many(batch) -> int:
    started = time.time()
    try:
        return _send_many(batch)
    finally:
        kinds = ",".join(sorted({str(message.get("type")) for _g, message, _o in batch}))
        OTHER_PUSHES.append((started, time.time(), kinds))


live.send_many = _timed_send_many


def push(sender, message: dict, groups: list[str], origin: str = "", **kwargs) -> None:
    started = time.time()
    refused = _send_many([(groups, message, origin)])
    done = time.time()
    committed = getattr(_local, "committed_at", started)
    EVENTS.append(
        (
            message["id"],
            message["case_id"],
            message["action"],
            committed,
            started,
            done,
            len(groups),
            refused,
        )
    )


if not case_event_committed.disconnect(dispatch_uid="notifications.live"):
    raise SystemExit("notifications.live is not connected to case_event_committed any more")
case_event_committed.connect(push, dispatch_uid="bench.live.push", weak=False)

# --- The schedule ----------------------------------------------------------------------


class Worker(threading.Thread):
    def __init__(self, k: int, start: float, end: float):
        super().__init__(name=f"driver-{k}", daemon=True)
        self.k = k
        self.start_at = start
        self.end_at = end
        self.rng = random.Random(f"{SPEC['seed']}-{SPEC['process']}-{k}")
        self.open: deque[tuple] = deque()  # (case id, index of its next stage, department)
        self.calls: list[tuple] = []  # (due, started, done, stage, ok)
        self.errors: list[str] = []
        self.error_count = 0
        self.cases: set[int] = set()

    def load(self) -> None:
        ids = {SPEC["dispatcher_id"], *SPEC["handlers"].values()}
        ids.update(g[1] for g in SPEC["grids"] if g[1])
        self.users = User.objects.in_bulk(ids)
        self.dispatcher = self.users[SPEC["dispatcher_id"]]
        self.handlers = {int(d): self.users[u] for d, u in SPEC["handlers"].items()}
        self.categories = list(Category.objects.filter(pk__in=SPEC["categories"]))

    def report(self) -> int:
        _grid, worker_id, x0, y0, x1, y1 = self.rng.choice(SPEC["grids"])
        lng, lat = self.rng.uniform(x0, x1), self.rng.uniform(y0, y1)
        category = self.rng.choice(self.categories)
        if worker_id and self.rng.random() < SPEC["worker_share"]:
            case = services.case_report(
                reporter=self.users[worker_id],
                source=Source.GRID_WORKER,
                description="压测: 路灯不亮 (live benchmark)",
                lng=lng,
                lat=lat,
                category=category,
            )
        else:
            case = services.case_report(
                reporter=self.dispatcher,
                source=Source.HOTLINE,
                description="Benchmark: hotline call about a broken street lamp.",
                lng=lng,
                lat=lat,
                category=category,
                reporter_name="Bench Caller",
                reporter_phone="13800000000",
            )
        return case.pk

    def advance(self, case_id: int, stage: str, department_id: int | None):
        """Take ``stage`` on the case; the case as it leaves it."""
        if stage == "register":
            return services.case_register(case=case_id, actor=self.dispatcher)
        if stage == "dispatch":
            return services.case_dispatch(case=case_id, actor=self.dispatcher)
        if stage == "acknowledge":
            return services.case_acknowledge(case=case_id, actor=self.handlers[department_id])
        if stage == "report_back":
            photo = SimpleUploadedFile("result.jpg", JPEG, content_type="image/jpeg")
            return services.case_report_back(
                case=case_id,
                actor=self.handlers[department_id],
                note="Lamp replaced.",
                photos=[photo],
            )
        return services.case_inspect(case=case_id, actor=self.dispatcher, passed=True)

    def step(self) -> str:
        if len(self.open) < SPEC["in_flight"]:
            case_id = self.report()
            self.cases.add(case_id)
            self.open.append((case_id, 1, None))
            return "report"
        case_id, index, department_id = self.open.popleft()
        stage = STAGES[index]
        case = self.advance(case_id, stage, department_id)
        if index + 1 < len(STAGES):
            self.open.append((case_id, index + 1, case.department_id))
        return stage

    def slots(self):
        """Due times of this thread's actions: slot k of every round of all
        the driver processes' threads."""
        interval = SPEC["threads"] * SPEC["processes"] / SPEC["rate"]
        due = self.start_at + (SPEC["process"] * SPEC["threads"] + self.k) / SPEC["rate"]
        while due < self.end_at:
            yield due
            due += interval

    def act(self, due: float) -> None:
        started = time.time()
        ok = True
        try:
            stage = self.step()
        except Exception as exc:  # a refused action: drop that case, go on
            ok, stage = False, "error"
            self.error_count += 1
            if len(self.errors) < MAX_ERROR_SAMPLES:
                self.errors.append(f"{type(exc).__name__}: {exc}")
        self.calls.append((due, started, time.time(), stage, ok))

    def run(self) -> None:
        """push_from "thread": plain threads, as a Celery task or a command."""
        try:
            self.load()
            for due in self.slots():
                delay = due - time.time()
                if delay > 0:
                    time.sleep(delay)
                self.act(due)
        except Exception:
            self.error_count += 1
            self.errors.append(traceback.format_exc()[-2000:])
        finally:
            connection.close()

    async def run_on_loop(self) -> None:
        """push_from "loop": each action run from the process's event loop
        through ``sync_to_async``, as Django's ASGI handler runs a view, so
        as a view's sync code runs under uvicorn."""
        try:
            await sync_to_async(self.load, thread_sensitive=False)()
            for due in self.slots():
                delay = due - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                await sync_to_async(self.act, thread_sensitive=False)(due)
        except Exception:
            self.error_count += 1
            self.errors.append(traceback.format_exc()[-2000:])


# --- The cost of a push from sync code ---------------------------------------------------


def probe(n: int) -> dict:
    """Seconds per ``live.send`` (the process's publisher) and per
    ``async_to_sync(send_async)`` (an event loop per call), each ``n`` times,
    to eight groups no one follows."""
    groups = [f"case.{10**12 + i}" for i in range(8)]
    message = {"type": "case.event", "version": 1, "id": 0, "action": "probe"}

    def per_call(send) -> float:
        send()  # imports, first connection
        started = time.perf_counter()
        for _ in range(n):
            send()
        return (time.perf_counter() - started) / n

    return {
        "n": n,
        "groups": len(groups),
        "async_to_sync": per_call(lambda: async_to_sync(live.send_async)(groups, message)),
        "publisher": per_call(lambda: _send_many([(groups, message, "")])),
    }


def main() -> None:
    if SPEC["nice"]:
        os.nice(SPEC["nice"])
    connection.close()
    start = SPEC["start_at"]  # shared by the driver processes
    end = start + SPEC["warmup"] + SPEC["duration"]
    workers = [Worker(k, start, end) for k in range(SPEC["threads"])]
    if SPEC["push_from"] == "loop":

        async def run_all() -> None:
            loop = asyncio.get_running_loop()
            loop.set_default_executor(ThreadPoolExecutor(max_workers=SPEC["threads"]))
            await asyncio.gather(*(w.run_on_loop() for w in workers))

        asyncio.run(run_all())
    else:
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finished = time.time()
    probed = probe(SPEC["probe"]) if SPEC["probe"] and SPEC["process"] == 0 else None
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result = {
        "start": start,
        "window_start": start + SPEC["warmup"],
        "window_end": end,
        "finished": finished,
        "events": EVENTS,
        "other_pushes": OTHER_PUSHES,
        "calls": [c for w in workers for c in w.calls],
        "cases": sorted(set().union(*(w.cases for w in workers))),
        "errors": sum(w.error_count for w in workers),
        "error_samples": [e for w in workers for e in w.errors][:MAX_ERROR_SAMPLES],
        "probe": probed,
        "cpu": usage.ru_utime + usage.ru_stime,
    }
    with open(SPEC["out"], "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
