"""The load process of ``bench/live.py``: N WebSocket clients of /ws/v1/live/.

Run by live.py as its own process (``python bench/_live_load.py SPEC.json``),
one or a few of them, so that the clients never share an event loop (or the
GIL) with the server. No Django here: asyncio (uvloop when installed) and
the ``websockets`` client.

Each client connects with ``Authorization: Token <key>`` and no Origin (a
phone app, not a browser), waits for ``welcome``, sends one ``subscribe``
per group of the spec and counts as ready once every one of them is
answered ``subscribed``. Clients start ``1 / ramp`` seconds apart (their
index in the whole run, so several load processes interleave), with at most
``handshakes`` opening at once. Once every client is ready or has failed,
the process prints one JSON line (``{"ready": ...}``) with the connect
figures, then keeps receiving until a line ``stop`` arrives on stdin, and after it
until no message has come for ``quiet`` seconds (at most ``drain``
seconds: a server that fell behind is still delivering). It then closes
every connection, writes what each client received to
``spec["out"]`` and prints a last JSON line of totals.

A reconnection storm (bench/live.py ``--storms``): the line ``drop`` says
that every connection is about to go (the server is restarted, or the
clients hang up themselves with ``drop close``): closing then is no failure;
the process answers ``{"dropped": ...}``. The line ``storm SINCE JITTER``
then reconnects every client at once, each after a random wait of up to
JITTER seconds (the first backoff of static/governance/live.js, full
jitter), as a client does when its socket closes: connect (retrying with
exponential backoff and full jitter when refused), ``welcome``, subscribe
again, then resync: ``{"type": "resync", "since": SINCE}`` over the socket
(one page), and the pages after it, if any, with ``GET
/api/v1/events/?since=N`` (while ``has_more``). The process answers
``{"storm": ...}`` once every client is resynced or has failed, with the
time from the command to the last one and how many clients needed HTTP.

For every ``case.event`` a client keeps the event id and ``time.time()`` when
the frame was read; other message types are counted by type. A connection
that closes before ``stop`` is a failure (with its close code). A task
sampling the event loop's lag (how late a 50 ms sleep wakes up) shows when
the process itself falls behind and would inflate the latencies it
measures.

The spec (JSON) gives: host, port, http_port (for the resync), path, ramp
(connections/s, whole run), handshakes (concurrent openings, this process),
quiet, drain, deflate (offer permessage-deflate, as browsers and OkHttp do),
timeout (seconds for one client to get ready), out (a file path) and clients: one
``{"index": i, "user_id": ..., "token": ..., "groups": [...]}`` per client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import resource
import sys
import time
from collections import Counter

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

LAG_PERIOD = 0.05  # s between two event loop lag samples
CLOSE_CONCURRENCY = 200  # closing handshakes at once at the end
MAX_SAMPLES = 5  # failure messages kept per kind
RETRY_FIRST = 1.0  # s, the first reconnect backoff ceiling (static/governance/live.js)
RETRY_MAX = 30.0  # s, its largest
EVENT_PAGE = 200  # events per resync page (live.js)
LAST_RECEIVED = [0.0]  # time.time() of the last message any client read


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


class Client:
    def __init__(self, spec: dict, client: dict):
        self.spec = spec
        self.index = client["index"]
        self.user_id = client["user_id"]
        self.token = client["token"]
        self.groups = list(client["groups"])
        self.ws = None
        self.started = 0.0  # time.time() when the client began to connect
        self.opened = 0.0  # the upgrade answered
        self.welcomed = 0.0
        self.ready_at = 0.0  # every group subscribed
        self.joined: list[str] = []  # groups answered "subscribed", and the own group
        self.failure = ""
        self.closed_early = ""
        self.ids: list[int] = []
        self.times: list[float] = []
        self.other: Counter = Counter()
        self.other_times: list[float] = []  # when each message but case.event was read
        self.ready = asyncio.Event()
        self.dropping = False  # a storm is coming: a close now is no failure
        self.listener: asyncio.Task | None = None
        self.storm: dict = {}

    def fail(self, reason: str) -> None:
        if not self.failure:
            self.failure = reason
        self.ready.set()

    async def run(self, start_at: float, gate: asyncio.Semaphore, stopping: asyncio.Event):
        delay = start_at - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        spec = self.spec
        async with gate:
            self.started = time.time()
            try:
                self.ws = await self._open()
            except Exception as exc:  # refused, timed out, rejected upgrade
                self.fail(f"connect: {type(exc).__name__}: {exc}")
                return
            self.opened = time.time()
        try:
            await asyncio.wait_for(self._handshake(), spec["timeout"])
        except TimeoutError:
            self.fail(f"not ready after {spec['timeout']:g} s (joined {len(self.joined)})")
        except ConnectionClosed as exc:
            self.fail(f"closed while subscribing: {exc.rcvd.code if exc.rcvd else 'no code'}")
            return
        except Exception as exc:  # a malformed answer
            self.fail(f"handshake: {type(exc).__name__}: {exc}")
        self.ready.set()
        if self.failure:
            return
        await self._listen(stopping)

    async def _open(self):
        spec = self.spec
        return await connect(
            f"ws://{spec['host']}:{spec['port']}{spec['path']}",
            additional_headers={"Authorization": f"Token {self.token}"},
            compression="deflate" if spec["deflate"] else None,
            proxy=None,
            open_timeout=spec["timeout"],
            ping_interval=None,  # the server pings; a phone app need not
            close_timeout=5,
            max_size=2**20,
        )

    async def _listen(self, stopping: asyncio.Event) -> None:
        ws = self.ws
        try:
            async for text in ws:
                self._receive(text, time.time())
        except ConnectionClosed:
            pass
        if not stopping.is_set() and not self.dropping:
            rcvd = ws.close_rcvd
            self.closed_early = f"code {rcvd.code if rcvd else 'none'} at {time.time():.3f}"

    async def reconnect(
        self, since: int, jitter: float, gate: asyncio.Semaphore, stopping: asyncio.Event
    ) -> None:
        """One client's part of a storm: back, subscribed and resynced."""
        began = time.time()
        storm = self.storm = {"began": began, "attempts": 0, "failure": "", "events": 0}
        await asyncio.sleep(random.uniform(0, jitter))
        deadline = began + self.spec["timeout"]
        ceiling = RETRY_FIRST
        while True:
            storm["attempts"] += 1
            try:
                async with gate:
                    self.ws = await self._open()
                self.joined = []
                await asyncio.wait_for(self._handshake(), max(0.1, deadline - time.time()))
                if self.failure:
                    raise RuntimeError(self.failure)
                break
            except Exception as exc:  # refused or closed: back off with full jitter
                self.failure = ""
                if time.time() + ceiling > deadline:
                    storm["failure"] = f"reconnect: {type(exc).__name__}: {exc}"
                    return
                await asyncio.sleep(random.uniform(0, ceiling))
                ceiling = min(RETRY_MAX, ceiling * 2)
        storm["ready"] = time.time()
        self.dropping = False
        try:
            storm["events"] = await asyncio.wait_for(
                self._resync(since), max(0.1, deadline - time.time())
            )
        except Exception as exc:
            storm["failure"] = f"resync: {type(exc).__name__}: {exc}"
            return
        finally:
            self.listener = asyncio.create_task(self._listen(stopping))
        storm["resynced"] = time.time()

    async def _resync(self, since: int) -> int:
        """The first page over the socket, the next ones (if any) with GET
        /api/v1/events/?since=N; the events read."""
        ws = self.ws
        await ws.send(json.dumps({"type": "resync", "since": since}))
        while True:
            text = await ws.recv()
            page = json.loads(text)
            if page.get("type") == "resync":
                break
            self._receive(text, time.time(), page)
        count = len(page["events"])
        since = page["last_id"]
        while page["has_more"]:
            self.storm["http"] = self.storm.get("http", 0) + 1
            page = await get_json(
                self.spec["host"],
                self.spec.get("http_port", self.spec["port"]),
                f"/api/v1/events/?since={since}&limit={EVENT_PAGE}",
                self.token,
            )
            count += len(page["events"])
            since = page["last_id"]
        return count

    async def _handshake(self) -> None:
        ws = self.ws
        first = json.loads(await ws.recv())
        if first.get("type") != "welcome":
            self.fail(f"first message {first.get('type')!r}, not welcome")
            return
        self.welcomed = time.time()
        self.joined += first.get("groups") or []
        pending = set(self.groups)
        for group in self.groups:
            await ws.send(json.dumps({"type": "subscribe", "group": group}))
        while pending:
            text = await ws.recv()
            now = time.time()
            message = json.loads(text)
            kind = message.get("type")
            if kind == "subscribed" and message.get("group") in pending:
                pending.discard(message["group"])
                self.joined.append(message["group"])
            elif kind == "error":
                pending.discard(message.get("group"))
                self.fail(f"{message.get('code')}: {message.get('message')}")
            else:
                self._receive(text, now, message)
        self.ready_at = time.time()

    def _receive(self, text: str, now: float, message: dict | None = None) -> None:
        LAST_RECEIVED[0] = now
        if message is None:
            message = json.loads(text)
        kind = message.get("type")
        if kind == "case.event":
            self.ids.append(message["id"])
            self.times.append(now)
        else:
            self.other[kind] += 1
            self.other_times.append(now)

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()

    def result(self) -> dict:
        return {
            "index": self.index,
            "user_id": self.user_id,
            "groups": self.joined,
            "failure": self.failure,
            "closed_early": self.closed_early,
            "started": self.started,
            "opened": self.opened,
            "welcomed": self.welcomed,
            "ready_at": self.ready_at,
            "ids": self.ids,
            "times": self.times,
            "other": dict(self.other),
            "other_times": self.other_times,
        }


async def get_json(host: str, port: int, path: str, token: str) -> dict:
    """One HTTP/1.1 GET with a token; the JSON body of a 200 answer."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Token {token}\r\n"
            "Accept: application/json\r\nConnection: close\r\n\r\n".encode("latin-1")
        )
        await writer.drain()
        data = await reader.read()
    finally:
        writer.close()
    head, _sep, body = data.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1] if head else b"none"
    if status != b"200":
        raise RuntimeError(f"HTTP {status.decode('latin-1')}: {body[:200]!r}")
    if b"transfer-encoding: chunked" in head.lower():
        body = dechunk(body)
    return json.loads(body)


def dechunk(body: bytes) -> bytes:
    out, rest = [], body
    while rest:
        size, _sep, rest = rest.partition(b"\r\n")
        n = int(size.split(b";")[0], 16)
        if n == 0:
            break
        out.append(rest[:n])
        rest = rest[n + 2 :]
    return b"".join(out)


async def storm(clients: list, command: list[str], gate, stopping) -> dict:
    """Every client reconnects and resyncs (see the module's docstring)."""
    since, jitter = int(command[1]), float(command[2])
    began = time.time()
    await asyncio.gather(*(c.reconnect(since, jitter, gate, stopping) for c in clients))
    failed = [c.storm["failure"] for c in clients if c.storm["failure"]]
    ok = [c.storm for c in clients if not c.storm["failure"]]
    return {
        "storm": len(ok),
        "failed": len(failed),
        "failure_samples": failed[:MAX_SAMPLES],
        "began": began,
        "ready": max((s["ready"] for s in ok), default=began),
        "done": max((s["resynced"] for s in ok), default=began),
        "attempts": sum(c.storm["attempts"] for c in clients),
        "events": sum(s["events"] for s in ok),
        "http_pages": sum(s.get("http", 0) for s in ok),
        "ready_latency": spread([s["ready"] - s["began"] for s in ok]),
        "resync_latency": spread([s["resynced"] - s["ready"] for s in ok]),
    }


async def drop(clients: list, command: list[str]) -> dict:
    """Every client expects its connection to go; with ``close``, hangs up."""
    for c in clients:
        c.dropping = True
    if command[1:] == ["close"]:
        closing = asyncio.Semaphore(CLOSE_CONCURRENCY)

        async def close(client) -> None:
            async with closing:
                await client.close()

        await asyncio.gather(*(close(c) for c in clients))
    return {"dropped": len(clients)}


async def sample_lag(samples: list[tuple[float, float]], stopping: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stopping.is_set():
        due = loop.time() + LAG_PERIOD
        await asyncio.sleep(LAG_PERIOD)
        samples.append((time.time(), max(0.0, loop.time() - due)))


async def read_commands(stopping: asyncio.Event, clients: list, gate, closing) -> None:
    """``stop``, or the ``drop`` and ``storm`` of a reconnection storm."""
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        command = line.split()
        if not command or command[0] == "stop":
            stopping.set()
            return
        if command[0] == "drop":
            answer = await drop(clients, command)
        elif command[0] == "storm":
            answer = await storm(clients, command, gate, closing)
        else:
            answer = {"error": f"unknown command {command[0]!r}"}
        print(json.dumps(answer), flush=True)


def spread(values: list[float]) -> dict:
    values = sorted(values)
    if not values:
        return {"n": 0}

    def at(q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))]

    return {"n": len(values), "p50": at(0.5), "p95": at(0.95), "max": values[-1]}


async def run(spec: dict) -> None:
    fd_limit = raise_fd_limit()
    clients = [Client(spec, c) for c in spec["clients"]]
    stopping = asyncio.Event()
    lag: list[tuple[float, float]] = []
    lag_task = asyncio.create_task(sample_lag(lag, stopping))
    stop_requested = asyncio.Event()
    gate = asyncio.Semaphore(spec["handshakes"])
    stop_task = asyncio.create_task(read_commands(stop_requested, clients, gate, stopping))
    began = spec.get("start_at") or time.time()
    tasks = [
        asyncio.create_task(c.run(began + c.index / spec["ramp"], gate, stopping)) for c in clients
    ]
    await asyncio.gather(*(c.ready.wait() for c in clients))
    done = time.time()
    failures = Counter(c.failure.split(":")[0] for c in clients if c.failure)
    samples = [c.failure for c in clients if c.failure][:MAX_SAMPLES]
    ok = [c for c in clients if not c.failure]
    print(
        json.dumps(
            {
                "ready": len(ok),
                "failed": len(clients) - len(ok),
                "failures": dict(failures),
                "failure_samples": samples,
                "began": began,
                "done": done,
                "first_started": min((c.started for c in clients if c.started), default=0),
                "open": spread([c.opened - c.started for c in ok]),
                "ready_latency": spread([c.ready_at - c.started for c in ok]),
                "fd_limit": fd_limit,
            }
        ),
        flush=True,
    )
    await stop_requested.wait()
    # Deliveries may still be on their way: wait until none has come for
    # ``quiet`` seconds (at most ``drain``) before hanging up.
    drain_started = time.time()
    while time.time() - drain_started < spec["drain"]:
        if time.time() - LAST_RECEIVED[0] >= spec["quiet"]:
            break
        await asyncio.sleep(0.05)
    drained = time.time() - drain_started
    stopping.set()
    closing = asyncio.Semaphore(CLOSE_CONCURRENCY)

    async def close(client: Client) -> None:
        async with closing:
            await client.close()

    close_started = time.time()
    await asyncio.gather(*(close(c) for c in clients))
    close_seconds = time.time() - close_started
    tasks += [c.listener for c in clients if c.listener is not None]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    lag_task.cancel()
    stop_task.cancel()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    with open(spec["out"], "w", encoding="utf-8") as f:
        json.dump({"clients": [c.result() for c in clients], "lag": lag}, f)
    print(
        json.dumps(
            {
                "clients": len(clients),
                "closed_early": sum(1 for c in clients if c.closed_early),
                "closed_early_samples": [c.closed_early for c in clients if c.closed_early][
                    :MAX_SAMPLES
                ],
                "deliveries": sum(len(c.ids) for c in clients),
                "close_seconds": close_seconds,
                "drain_seconds": drained,
                "last_received": LAST_RECEIVED[0],
                "cpu": usage.ru_utime + usage.ru_stime,
                "max_rss": usage.ru_maxrss * 1024,
            }
        ),
        flush=True,
    )


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    try:
        import uvloop
    except ImportError:
        asyncio.run(run(spec))
    else:
        uvloop.run(run(spec))
    # The stdin reader thread may still block on readline: do not wait for it.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
