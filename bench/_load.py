"""The load process of ``bench/http_api.py``: N asyncio clients over HTTP/1.1.

Run by http_api.py as its own process (``python bench/_load.py SPEC.json``),
so the clients never share a core's time slice with the server's event loop
through the GIL. No Django here and nothing outside the standard library but
uvloop (installed with uvicorn[standard]; plain asyncio without it): a
minimal keep-alive HTTP/1.1 client on asyncio streams, because neither httpx
nor aiohttp is in the environment.

Each client holds one connection and sends its requests back to back for
``warmup + duration`` seconds. Latency is from writing the request to having
read the whole response. With ``rate`` (requests/s over all clients) each
client instead sends on a fixed schedule, and latency is counted from when
the request was due, so a server that falls behind is not flattered by
requests that went out late (no coordinated omission). The figures (rate,
percentiles) cover the responses completed inside the measured window; the
status counts cover every request, warm-up and the last ones in flight
included, so that they can be checked against the database. Prints one JSON
object on stdout.

The spec (JSON) gives: host, port, kind (``create`` | ``create_photo`` |
``list``), path, warmup, duration, rate (0: back to back), seed, categories
(codes), photo (a file's path, for create_photo) and clients: one
``{"token": ..., "points": [[lng, lat, jitter], ...]}`` per concurrent client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import resource
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field

MAX_SAMPLES = 5  # bodies of failed responses kept, per kind of failure
MAX_CONSECUTIVE_ERRORS = 20  # a client gives up after this many failures in a row
STAGGER = 0.02  # seconds between the starts of two clients sending back to back


class ProtocolError(Exception):
    pass


class Connection:
    """One keep-alive HTTP/1.1 connection; reopened after a close or an error."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, head: bytes, body: tuple[bytes, ...] = ()) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        try:
            self.writer.write(head)
            for part in body:
                self.writer.write(part)
            await self.writer.drain()
            status, headers = await self._read_head()
            if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
                content = await self._read_chunked()
            else:
                content = await self.reader.readexactly(int(headers.get(b"content-length", 0)))
            if headers.get(b"connection", b"").lower() == b"close":
                await self.close()
            return status, content
        except BaseException:
            await self.close()
            raise

    async def _read_head(self) -> tuple[int, dict[bytes, bytes]]:
        block = await self.reader.readuntil(b"\r\n\r\n")
        lines = block[:-4].split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ProtocolError(f"bad status line {lines[0][:80]!r}")
        headers = {}
        for line in lines[1:]:
            name, _sep, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        return int(parts[1]), headers

    async def _read_chunked(self) -> bytes:
        chunks = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while (await self.reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers
                return b"".join(chunks)
            chunks.append((await self.reader.readexactly(size + 2))[:-2])

    async def close(self) -> None:
        writer, self.reader, self.writer = self.writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


@dataclass
class Results:
    window_start: float
    window_end: float
    latencies: list[float] = field(default_factory=list)  # completed in the window
    served: list[float] = field(default_factory=list)  # of those, the 2xx answers
    statuses: dict[int, int] = field(default_factory=dict)  # every response
    window_statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)  # samples of non-2xx bodies
    errors: int = 0  # connection or protocol errors
    error_samples: list[str] = field(default_factory=list)
    response_bytes: int = 0

    def add(self, status: int, latency: float, done: float, content: bytes) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.response_bytes += len(content)
        if self.window_start <= done < self.window_end:
            self.latencies.append(latency)
            if 200 <= status < 300:
                self.served.append(latency)
            self.window_statuses[status] = self.window_statuses.get(status, 0) + 1
        if not 200 <= status < 300 and len(self.failures) < MAX_SAMPLES:
            self.failures.append(f"{status}: {content[:500].decode('utf-8', 'replace')}")

    def error(self, exc: BaseException) -> None:
        self.errors += 1
        if len(self.error_samples) < MAX_SAMPLES:
            self.error_samples.append(f"{type(exc).__name__}: {exc}")


class Client:
    def __init__(self, spec: dict, client: dict, index: int, photo: bytes | None):
        self.clients = len(spec["clients"])
        self.host, self.port, self.kind = spec["host"], spec["port"], spec["kind"]
        self.path = spec["path"]
        self.points = client.get("points") or []
        self.categories = spec.get("categories") or []
        self.rng = random.Random(spec.get("seed", 0) * 1000 + index)
        self.index = index
        self.photo = photo
        self.sent = 0
        self.auth = f"Authorization: Token {client['token']}\r\n"
        self.fixed = (
            f"Host: {self.host}:{self.port}\r\n{self.auth}Accept: application/json\r\n"
            "Accept-Language: en\r\n"
        )

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

    def next_request(self) -> tuple[bytes, tuple[bytes, ...]]:
        if self.kind == "list":
            return f"GET {self.path} HTTP/1.1\r\n{self.fixed}\r\n".encode(), ()
        fields = self._report_fields()
        if self.kind == "create":
            body = json.dumps(fields, ensure_ascii=False).encode()
            content_type = "application/json"
            parts: tuple[bytes, ...] = (body,)
        else:  # create_photo: multipart, the fields then the photo
            boundary = uuid.uuid4().hex
            text = "".join(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
                for name, value in fields.items()
            )
            text += (
                f'--{boundary}\r\nContent-Disposition: form-data; name="photos"; '
                f'filename="bench-{self.index}-{self.sent}.jpg"\r\n'
                "Content-Type: image/jpeg\r\n\r\n"
            )
            parts = (text.encode(), self.photo, f"\r\n--{boundary}--\r\n".encode())
            content_type = f"multipart/form-data; boundary={boundary}"
        length = sum(len(p) for p in parts)
        head = (
            f"POST {self.path} HTTP/1.1\r\n{self.fixed}Content-Type: {content_type}\r\n"
            f"Content-Length: {length}\r\n\r\n"
        ).encode()
        return head, parts

    async def run(self, results: Results, begin: float, stop_at: float, rate: float) -> None:
        """Back to back, or (``rate`` > 0) one request every ``clients / rate``
        seconds, each timed from when it was due (a client that falls behind
        sends at once, and the wait counts in the latency)."""
        conn = Connection(self.host, self.port)
        consecutive = 0
        interval = self.clients / rate if rate > 0 else 0.0
        due = begin + self.index / rate if rate > 0 else 0.0
        if not interval:
            # Clients arrive a little apart: 32 connections opened at once all
            # land on whichever uvicorn worker accepts first.
            await asyncio.sleep(self.index * STAGGER)
        try:
            while time.perf_counter() < stop_at:
                head, body = self.next_request()
                if interval:
                    delay = due - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    if due >= stop_at:
                        return
                started = due if interval else time.perf_counter()
                due += interval
                try:
                    status, content = await conn.request(head, body)
                except (OSError, asyncio.IncompleteReadError, ProtocolError, ValueError) as exc:
                    results.error(exc)
                    consecutive += 1
                    if consecutive >= MAX_CONSECUTIVE_ERRORS:
                        return
                    await asyncio.sleep(0.05)
                    continue
                consecutive = 0
                done = time.perf_counter()
                results.add(status, done - started, done, content)
        finally:
            await conn.close()


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def run(spec: dict) -> dict:
    photo = None
    if spec["kind"] == "create_photo":
        with open(spec["photo"], "rb") as f:
            photo = f.read()
    clients = [Client(spec, c, i, photo) for i, c in enumerate(spec["clients"])]
    started = time.perf_counter()
    window_start = started + spec["warmup"]
    window_end = window_start + spec["duration"]
    results = Results(window_start, window_end)
    rate = spec.get("rate") or 0.0
    await asyncio.gather(*(c.run(results, started, window_end, rate) for c in clients))
    finished = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    lat = results.latencies
    total = sum(results.statuses.values())
    return {
        "kind": spec["kind"],
        "clients": len(clients),
        "target_rate": rate,
        "count": len(lat),
        "seconds": spec["duration"],
        "rate": len(lat) / spec["duration"],
        "p50": percentile(lat, 50),
        "p95": percentile(lat, 95),
        "p99": percentile(lat, 99),
        "max": max(lat, default=float("nan")),
        "mean": statistics.fmean(lat) if lat else float("nan"),
        # The requests answered 2xx (the others were refused, e.g. shed with 503).
        "served_rate": len(results.served) / spec["duration"],
        "served_p95": percentile(results.served, 95),
        "statuses": {str(k): v for k, v in sorted(results.statuses.items())},
        "window_statuses": {str(k): v for k, v in sorted(results.window_statuses.items())},
        "non_2xx": sum(v for k, v in results.statuses.items() if not 200 <= k < 300),
        "failures": results.failures,
        "errors": results.errors,
        "error_samples": results.error_samples,
        "requests": total,
        "response_bytes_mean": results.response_bytes / total if total else 0,
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
