"""HTTP through Django's WSGI handler inside the ASGI application.

Every view and middleware of the project is synchronous. The event loop reads
each request's body whole (as Django's ASGI handler does), a worker runs the
request from start to end with Django's WSGI handler, and the loop sends the
response. A worker never waits on the loop while it works, and keeps its
database connection between requests (CONN_MAX_AGE). The workers are either
processes started by the server process (``WSGIOnProcesses``: each request
to whichever is free) or a fixed set of threads in it (``WSGIOnThreads``).

``Lifespan`` readies a server process before it takes any connection: each
worker runs a few requests of the server's own (opening its database
connection, importing the URL configuration's views, loading the
translations), then what was loaded is frozen out of the garbage collector's
full passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import io
import json
import logging
import multiprocessing
import pickle
import signal
import socket
import struct
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings

logger = logging.getLogger(__name__)

# The loop sends a response body in pieces of this size.
SEND_SIZE = 256 * 1024
# How long a thread may take over its warm-up requests.
WARM_UP_TIMEOUT = 60.0


class _WSGIOnWorkers:
    """An ASGI application (HTTP only): the event loop reads a request's body
    whole, ``handle`` runs the request on a worker, the loop sends the
    response."""

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"{type(self).__name__} serves HTTP, not {scope['type']}")
        body = await read_body(receive)
        if body is None:
            return  # the client went away before sending all of it
        with body:
            status, headers, content = await self.handle(wsgi_environ(scope, body))
        await send_response(send, status, headers, content)

    async def handle(self, environ: dict) -> tuple[int, list, bytes]:
        raise NotImplementedError


class WSGIOnThreads(_WSGIOnWorkers):
    """Runs a WSGI application on ``threads`` threads."""

    def __init__(self, app, *, threads: int, warm_up: list[dict] | None = None):
        self.runner = WSGIRunner(app)
        self.threads = threads
        self.warm_up = warm_up or []
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="http")

    async def handle(self, environ: dict) -> tuple[int, list, bytes]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self.runner.run, environ)

    async def startup(self) -> None:
        """Run the warm-up requests on every thread, before any from a client."""
        barrier = threading.Barrier(self.threads)

        def on_this_thread() -> None:
            run_warm_up(self.runner, self.warm_up)
            # No thread takes a second turn while another has had none.
            barrier.wait(WARM_UP_TIMEOUT)

        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(loop.run_in_executor(self.executor, on_this_thread) for _ in range(self.threads))
        )

    def shutdown(self) -> None:
        pass


class WSGIRunner:
    """Runs a WSGI application on one request: (status, headers, body)."""

    def __init__(self, app):
        self.app = app

    def run(self, environ: dict) -> tuple[int, list, bytes]:
        started: dict = {}
        chunks: list[bytes] = []

        def start_response(status: str, headers: list, exc_info=None):
            started["status"], started["headers"] = status, headers
            return chunks.append

        iterable = self.app(environ, start_response)
        try:
            chunks.extend(iterable)
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()
        return (
            int(started["status"].split(" ", 1)[0]),
            [
                (name.lower().encode("latin1"), value.encode("latin1"))
                for name, value in started["headers"]
            ],
            b"".join(chunks),
        )


async def send_response(send, status: int, headers: list, content: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    for start in range(0, len(content), SEND_SIZE):
        await send(
            {
                "type": "http.response.body",
                "body": content[start : start + SEND_SIZE],
                "more_body": True,
            }
        )
    await send({"type": "http.response.body", "body": b""})


async def read_body(receive):
    """The request body, spooled in memory up to FILE_UPLOAD_MAX_MEMORY_SIZE
    and then to a temporary file, as Django's ASGI handler reads one; None
    if the client disconnected first. Whole or chunked alike."""
    body = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)  # noqa: SIM115 - the caller closes it
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            body.close()
            return None
        body.write(message.get("body", b""))
        if not message.get("more_body", False):
            body.seek(0)
            return body


def wsgi_environ(scope: dict, body) -> dict:
    """The WSGI environ (PEP 3333) of an ASGI HTTP request whose body has
    been read into ``body``."""
    # PEP 3333: native strings hold the bytes as latin-1.
    script_name = scope.get("root_path", "").encode("utf-8").decode("latin1")
    path = scope["path"].encode("utf-8").decode("latin1")
    if script_name and path.startswith(script_name):
        path = path[len(script_name) :]
    length = body.seek(0, 2)
    body.seek(0)
    environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path,
        "QUERY_STRING": scope.get("query_string", b"").decode("latin1"),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "CONTENT_LENGTH": str(length),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": body,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    server = scope.get("server") or ("localhost", 80)
    environ["SERVER_NAME"], environ["SERVER_PORT"] = server[0], str(server[1] or 0)
    client = scope.get("client")
    if client:
        environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = client[0], str(client[1])
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin1").upper().replace("-", "_")
        if name == "CONTENT_LENGTH":
            continue  # the body as read gives it, chunked or not
        key = name if name == "CONTENT_TYPE" else f"HTTP_{name}"
        value = raw_value.decode("latin1")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


def warm_up_scopes(paths: list[str]) -> list[dict]:
    """GETs of ``paths`` from the server itself, in each of settings.LANGUAGES,
    to a host it accepts."""
    hosts = [h.lstrip(".") for h in settings.ALLOWED_HOSTS if h.lstrip(".") not in ("", "*")]
    host = hosts[0] if hosts else "localhost"
    return [
        {
            "type": "http",
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "query_string": b"",
            "headers": [(b"host", host.encode("latin1")), (b"accept-language", code.encode())],
            "client": ("127.0.0.1", 0),
            "server": (host, 80),
        }
        for path in paths
        for code, _name in settings.LANGUAGES
    ]


def run_warm_up(runner: WSGIRunner, scopes: list[dict]) -> None:
    for scope in scopes:
        status, _headers, _content = runner.run(wsgi_environ(scope, io.BytesIO()))
        if status != 200:
            logger.warning("warm-up request %s answered %s", scope["path"], status)


def freeze_what_is_loaded() -> None:
    """Leave what the process has loaded by now out of the garbage
    collector's full passes: it lives as long as the process, and a full
    collection would otherwise walk all of it (about 150,000 objects, some
    100 ms with the interpreter lock held, every few seconds under load) to
    find the cyclic garbage that requests leave."""
    gc.collect()
    gc.freeze()


class Lifespan:
    """The ASGI lifespan protocol: on startup, ``http`` readies itself (its
    warm-up requests), then this process freezes what it has loaded."""

    def __init__(self, http):
        self.http = http

    async def __call__(self, scope, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.http.startup()
                freeze_what_is_loaded()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.http.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


# --- Worker processes ----------------------------------------------------------------
#
# Between the server and a worker: frames of an 8-byte length and a pickle,
# over a socket pair. Server to worker: (environ without its file objects,
# body); worker to server: (status, headers, body), or b"ready" once it has
# started.

FRAME = struct.Struct("!Q")
# What a request gets when the worker running it dies (as views.server_error says it).
WORKER_FAILED = json.dumps(
    {"error": {"code": "server_error", "message": "Something went wrong on our side."}}
).encode()


def _recv_frame(sock: socket.socket) -> bytearray | None:
    """One frame's payload, or None when the other end has closed."""
    head = _recv_exactly(sock, FRAME.size)
    return None if head is None else _recv_exactly(sock, FRAME.unpack(head)[0])


def _recv_exactly(sock: socket.socket, n: int) -> bytearray | None:
    buffer = bytearray(n)
    view = memoryview(buffer)
    got = 0
    while got < n:
        read = sock.recv_into(view[got:])
        if read == 0:
            return None
        got += read
    return buffer


def _send_frame(sock: socket.socket, data: bytes) -> None:
    sock.sendall(FRAME.pack(len(data)))
    sock.sendall(data)


def _worker_main(sock: socket.socket, app_path: str, warm_up: list[dict]) -> None:
    """A worker process: the WSGI application at ``app_path`` on the requests
    that come over ``sock``, one at a time, until the server closes it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the server, which ends this
    module, _sep, name = app_path.partition(":")
    runner = WSGIRunner(getattr(importlib.import_module(module), name))
    run_warm_up(runner, warm_up)
    freeze_what_is_loaded()
    _send_frame(sock, b"ready")
    while (data := _recv_frame(sock)) is not None:
        environ, body = pickle.loads(data)  # noqa: S301 - from the server process that started this one
        environ["wsgi.input"], environ["wsgi.errors"] = io.BytesIO(body), sys.stderr
        _send_frame(sock, pickle.dumps(runner.run(environ), protocol=pickle.HIGHEST_PROTOCOL))


class _Worker:
    """A worker process and the server's end of its socket pair."""

    def __init__(self, context, app_path: str, warm_up: list[dict]):
        ours, theirs = socket.socketpair()
        self.process = context.Process(
            target=_worker_main, args=(theirs, app_path, warm_up), name="http", daemon=True
        )
        self.process.start()
        theirs.close()
        self.sock = ours
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def ready(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(sock=self.sock)
        if await self._read() != b"ready":
            raise ConnectionError("an HTTP worker process did not start")

    async def _read(self) -> bytes:
        (size,) = FRAME.unpack(await self.reader.readexactly(FRAME.size))
        return await self.reader.readexactly(size)

    async def call(self, environ: dict, body: bytes) -> tuple[int, list, bytes]:
        data = pickle.dumps((environ, body), protocol=pickle.HIGHEST_PROTOCOL)
        self.writer.write(FRAME.pack(len(data)))
        self.writer.write(data)
        await self.writer.drain()
        return pickle.loads(await self._read())  # noqa: S301 - from our own worker process

    def stop(self, timeout: float = 5.0) -> None:
        """Close its socket (it ends when it reads the end), killed if it has
        not ended within ``timeout``."""
        with contextlib.suppress(OSError):  # already closed by a worker that died
            self.sock.shutdown(socket.SHUT_RDWR)  # at once: the loop may not run until it ends
        if self.writer is not None:
            self.writer.close()
        else:
            self.sock.close()
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


class WSGIOnProcesses(_WSGIOnWorkers):
    """Runs the WSGI application at ``app_path`` ("module:name") in
    ``processes`` worker processes, each one request at a time: a request goes
    to whichever worker is free first, so the work spreads evenly whichever
    connection a request came on. A worker that dies is replaced; the request
    it was running gets a 500."""

    def __init__(self, app_path: str, *, processes: int, warm_up: list[dict] | None = None):
        self.app_path = app_path
        self.processes = processes
        self.warm_up = warm_up or []
        self.context = multiprocessing.get_context("spawn")
        self.workers: list[_Worker] = []
        self.idle: asyncio.Queue[_Worker] | None = None
        self._starting: asyncio.Future | None = None
        self._replacing: set[asyncio.Future] = set()

    async def startup(self) -> None:
        """Start the workers and wait until each has warmed up (the first
        request does this when the server has no lifespan)."""
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._start())
        await self._starting

    async def _start(self) -> None:
        self.idle = asyncio.Queue()
        self.workers = [
            _Worker(self.context, self.app_path, self.warm_up) for _ in range(self.processes)
        ]
        await asyncio.gather(*(worker.ready() for worker in self.workers))
        for worker in self.workers:
            self.idle.put_nowait(worker)

    async def _replace(self, worker: _Worker) -> None:
        await asyncio.get_running_loop().run_in_executor(None, worker.stop)
        fresh = _Worker(self.context, self.app_path, self.warm_up)
        self.workers = [fresh if w is worker else w for w in self.workers]
        await fresh.ready()
        self.idle.put_nowait(fresh)

    def shutdown(self) -> None:
        for worker in self.workers:
            worker.stop()

    async def handle(self, environ: dict) -> tuple[int, list, bytes]:
        body = environ.pop("wsgi.input").read()
        del environ["wsgi.errors"]
        await self.startup()
        worker = await self.idle.get()
        try:
            response = await worker.call(environ, body)
        except (OSError, asyncio.IncompleteReadError):
            pid = worker.process.pid
            logger.exception("HTTP worker process %s failed on %s", pid, environ["PATH_INFO"])
            self._start_replacing(worker)
            return 500, [(b"content-type", b"application/json")], WORKER_FAILED
        except asyncio.CancelledError:
            # The server gave up on the request (a forced shutdown) while the
            # worker ran it: its answer would come unread, ahead of the next
            # request's, so the worker is not reused.
            self._start_replacing(worker)
            raise
        self.idle.put_nowait(worker)
        return response

    def _start_replacing(self, worker: _Worker) -> None:
        task = asyncio.ensure_future(self._replace(worker))
        self._replacing.add(task)
        task.add_done_callback(self._replacing.discard)
