"""HTTP through Django's WSGI handler inside the ASGI application.

Every view and middleware of the project is synchronous. ``WSGIOnThreads``
serves HTTP with Django's WSGI handler on a fixed set of threads of the
server process: the event loop reads each request's body whole (as Django's
ASGI handler does), a thread runs the request from start to end, and the
loop sends the response. A thread never waits on the loop while it works,
and keeps its database connection between requests (CONN_MAX_AGE).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings

# The loop sends a response body in pieces of this size.
SEND_SIZE = 256 * 1024


class WSGIOnThreads:
    """An ASGI application (HTTP only) running a WSGI application on
    ``threads`` threads."""

    def __init__(self, app, *, threads: int):
        self.app = app
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="http")

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"WSGIOnThreads serves HTTP, not {scope['type']}")
        body = await read_body(receive)
        if body is None:
            return  # the client went away before sending all of it
        with body:
            loop = asyncio.get_running_loop()
            environ = wsgi_environ(scope, body)
            status, headers, content = await loop.run_in_executor(self.executor, self.run, environ)
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

    def run(self, environ: dict) -> tuple[int, list, bytes]:
        """The whole request on this thread: (status, headers, body)."""
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
