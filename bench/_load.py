"""A load process of ``bench/http_api.py``: asyncio clients through httpx.

Run by http_api.py as one or more processes of their own (``python
bench/_load.py SPEC.json``), so the clients never share a core's time slice
with the server's event loop through the GIL. No Django here: one
``httpx.AsyncClient`` (HTTP/1.1, keep-alive, its pool sized to the clients of
this process) on uvloop when it is there.

Each client sends its requests back to back for ``warmup + duration``
seconds. Latency is from sending the request to having read the whole
response. With ``rate`` (requests/s over all clients of all load processes)
the clients instead take turns on a fixed schedule, each request sent when
it is due whether or not earlier ones were answered (an open loop: a server
that falls behind still sees the whole rate, and sheds what it cannot
take), over at most ``connections`` connections; latency is counted from
when the request was due, so waiting for a free connection counts and a
server that falls behind is not flattered (no coordinated omission). The latencies cover
the responses completed inside the measured window; the status counts cover
every request, warm-up and the last ones in flight included, so that they
can be checked against the database. Prints one JSON object on stdout with
the raw latencies: http_api.py merges the load processes' and takes the
percentiles.

The spec (JSON) gives: host, port, kind (``create`` | ``create_photo`` |
``list``), path, warmup, duration, rate (0: back to back), seed, categories
(codes), photo (a file's path, for create_photo), connections (the pool's
size; default one per client of this process), total_clients and
first_index (this process's clients are ``first_index ...`` of
``total_clients``: the schedule spreads them all over each interval) and
clients: one ``{"token": ..., "points": [[lng, lat, jitter], ...]}`` per
concurrent client of this process.
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import sys
import time
from dataclasses import asdict, dataclass, field

import httpx

MAX_SAMPLES = 5  # bodies of failed responses kept, per kind of failure
MAX_CONSECUTIVE_ERRORS = 20  # a client gives up after this many failures in a row
STAGGER = 0.02  # seconds between the starts of two clients sending back to back
# Longer than nginx's proxy_read_timeout (GUNICORN_TIMEOUT + 5 s): the server
# answers (or sheds) first, and a request the client gave up on is an error.
TIMEOUT = httpx.Timeout(60.0, pool=None)


@dataclass
class Results:
    window_start: float
    window_end: float
    latencies: list[float] = field(default_factory=list)  # completed in the window
    served: list[float] = field(default_factory=list)  # of those, the 2xx answers
    # On a fixed schedule: how long after it was due the load process started
    # each request (its own lag: a busy load process holds the load back).
    late: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)  # every response
    window_statuses: dict[int, int] = field(default_factory=dict)
    # 503 with Retry-After: nginx shedding load (README "Servers")
    shed: int = 0
    shed_without_retry_after: int = 0
    failures: list[str] = field(default_factory=list)  # samples of non-2xx bodies
    errors: int = 0  # connection errors and timeouts
    error_samples: list[str] = field(default_factory=list)
    response_bytes: int = 0

    def add(self, response: httpx.Response, latency: float, done: float, late: float) -> None:
        status = response.status_code
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.response_bytes += len(response.content)
        if status == 503:
            if response.headers.get("retry-after"):
                self.shed += 1
            else:
                self.shed_without_retry_after += 1
        if self.window_start <= done < self.window_end:
            self.latencies.append(latency)
            self.late.append(late)
            if 200 <= status < 300:
                self.served.append(latency)
            self.window_statuses[status] = self.window_statuses.get(status, 0) + 1
        if not 200 <= status < 300 and len(self.failures) < MAX_SAMPLES:
            self.failures.append(f"{status}: {response.text[:500]}")

    def error(self, exc: BaseException) -> None:
        self.errors += 1
        if len(self.error_samples) < MAX_SAMPLES:
            self.error_samples.append(f"{type(exc).__name__}: {exc}")


class Client:
    def __init__(self, spec: dict, client: dict, index: int, photo: bytes | None):
        self.clients = spec["total_clients"]
        self.kind = spec["kind"]
        self.url = f"http://{spec['host']}:{spec['port']}{spec['path']}"
        self.points = client.get("points") or []
        self.categories = spec.get("categories") or []
        self.rng = random.Random(spec.get("seed", 0) * 1000 + index)
        self.index = index
        self.photo = photo
        self.sent = 0
        self.headers = {
            "Authorization": f"Token {client['token']}",
            "Accept": "application/json",
            "Accept-Language": "en",
        }

    def _report_fields(self) -> dict[str, str | float]:
        lng, lat, jitter = self.rng.choice(self.points)
        self.sent += 1
        return {
            "source": "grid_worker",
            "description": f"压测: 井盖缺失, 有行人跌落风险 (client {self.index}, #{self.sent})",
            "lng": lng + self.rng.uniform(-jitter, jitter),
            "lat": lat + self.rng.uniform(-jitter, jitter),
            "category": self.rng.choice(self.categories),
        }

    def request(self, http: httpx.AsyncClient):
        """The next request, as a coroutine that sends it."""
        if self.kind == "list":
            return http.get(self.url, headers=self.headers)
        fields = self._report_fields()
        if self.kind == "create":
            return http.post(self.url, headers=self.headers, json=fields)
        name = f"bench-{self.index}-{self.sent}.jpg"
        return http.post(
            self.url,
            headers=self.headers,
            data={name: str(value) for name, value in fields.items()},
            files={"photos": (name, self.photo, "image/jpeg")},
        )

    async def back_to_back(self, http, results: Results, stop_at: float) -> None:
        """One request at a time, the next as soon as the answer is read."""
        # Clients arrive a little apart: connections opened at once all land
        # on whichever worker accepts first.
        await asyncio.sleep(self.index * STAGGER)
        consecutive = 0
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            try:
                response = await self.request(http)
            except httpx.HTTPError as exc:
                results.error(exc)
                consecutive += 1
                if consecutive >= MAX_CONSECUTIVE_ERRORS:
                    return
                await asyncio.sleep(0.05)
                continue
            consecutive = 0
            done = time.perf_counter()
            results.add(response, done - started, done, 0.0)

    async def on_schedule(self, http, results: Results, begin: float, stop_at: float, rate):
        """One request every ``clients / rate`` seconds, whether or not the
        earlier ones were answered (an open loop, as many phones are): a
        server that falls behind sees the whole rate, and may shed it."""
        interval = self.clients / rate
        due = begin + self.index / rate
        pending: set[asyncio.Task] = set()
        while due < stop_at:
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(self.send(http, results, due))
            pending.add(task)
            task.add_done_callback(pending.discard)
            due += interval
        if pending:
            await asyncio.gather(*pending)

    async def send(self, http, results: Results, due: float) -> None:
        """One request, timed from when it was due: a wait for a free
        connection of the pool counts, and so does the load process itself
        starting it late (which is recorded apart)."""
        sent = time.perf_counter()
        try:
            response = await self.request(http)
        except httpx.HTTPError as exc:
            results.error(exc)
            return
        done = time.perf_counter()
        results.add(response, done - due, done, sent - due)


async def run(spec: dict) -> dict:
    photo = None
    if spec["kind"] == "create_photo":
        with open(spec["photo"], "rb") as f:
            photo = f.read()
    first = spec.get("first_index", 0)
    spec.setdefault("total_clients", len(spec["clients"]))
    clients = [Client(spec, c, first + i, photo) for i, c in enumerate(spec["clients"])]
    connections = spec.get("connections") or len(clients)
    limits = httpx.Limits(
        max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=60
    )
    started = time.perf_counter()
    window_start = started + spec["warmup"]
    window_end = window_start + spec["duration"]
    results = Results(window_start, window_end)
    rate = spec.get("rate") or 0.0
    async with httpx.AsyncClient(http1=True, limits=limits, timeout=TIMEOUT) as http:
        await asyncio.gather(
            *(
                c.on_schedule(http, results, started, window_end, rate)
                if rate
                else c.back_to_back(http, results, window_end)
                for c in clients
            )
        )
    finished = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out = asdict(results)
    for name in ("statuses", "window_statuses"):
        out[name] = {str(k): v for k, v in sorted(out[name].items())}
    return {
        **out,
        "clients": len(clients),
        "wall": finished - started,
        "client_cpu": usage.ru_utime + usage.ru_stime,
    }


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(run(spec))
    else:
        result = uvloop.run(run(spec))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
