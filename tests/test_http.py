"""governance.http: ASGI HTTP requests as WSGI requests on threads
(WSGIOnThreads) or in worker processes (WSGIOnProcesses), and the lifespan
that readies them (the server path is tested end to end in
tests/e2e/test_asgi_http.py)."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import threading

import pytest
from django.core.handlers.wsgi import WSGIHandler

from governance import http

SCOPE = {
    "type": "http",
    "http_version": "1.1",
    "method": "POST",
    "scheme": "https",
    "path": "/open311/v2/区域/",
    "root_path": "",
    "query_string": b"lang=zh&q=%E4%BA%95",
    "headers": [
        (b"host", b"city.example"),
        (b"content-type", b"application/json"),
        (b"accept", b"application/json"),
        (b"accept", b"text/xml"),
        (b"transfer-encoding", b"chunked"),
        (b"x-live-connection", b"abc"),
    ],
    "client": ("203.0.113.9", 50123),
    "server": ("10.0.0.2", 8000),
}


def serve(app, messages, scope=SCOPE, threads=1):
    """Run one request through WSGIOnThreads: (what it sent, threads used)."""
    sent, used = [], set()

    def wsgi(environ, start_response):
        used.add(threading.current_thread().name)
        return app(environ, start_response)

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    asyncio.run(http.WSGIOnThreads(wsgi, threads=threads)(scope, receive, send))
    return sent, used


def echo(environ, start_response):
    body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
    start_response("201 Created", [("Content-Type", "text/plain"), ("X-Seen", str(len(body)))])
    return [b"got ", body]


def test_a_request_becomes_a_pep_3333_environ():
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        return echo(environ, start_response)

    sent, used = serve(app, [{"type": "http.request", "body": b'{"a": 1}'}])
    assert seen["REQUEST_METHOD"] == "POST" and seen["wsgi.url_scheme"] == "https"
    # Native strings carry the UTF-8 bytes as latin-1, which Django decodes back.
    assert seen["PATH_INFO"].encode("latin1").decode() == "/open311/v2/区域/"
    assert seen["QUERY_STRING"] == "lang=zh&q=%E4%BA%95"
    assert seen["HTTP_ACCEPT"] == "application/json,text/xml"
    assert seen["CONTENT_TYPE"] == "application/json" and "HTTP_CONTENT_TYPE" not in seen
    assert seen["CONTENT_LENGTH"] == "8"  # from the body: the request came chunked
    assert seen["HTTP_X_LIVE_CONNECTION"] == "abc" and seen["HTTP_HOST"] == "city.example"
    assert (seen["REMOTE_ADDR"], seen["SERVER_NAME"], seen["SERVER_PORT"]) == (
        "203.0.113.9", "10.0.0.2", "8000",
    )  # fmt: skip
    assert sent[0] == {
        "type": "http.response.start",
        "status": 201,
        "headers": [(b"content-type", b"text/plain"), (b"x-seen", b"8")],
    }
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b'got {"a": 1}'
    assert sent[-1] == {"type": "http.response.body", "body": b""}
    assert len(used) == 1 and next(iter(used)).startswith("http")


def test_a_body_in_many_pieces_larger_than_memory_arrives_whole(settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1000  # past this it goes to a temporary file
    pieces = [bytes([i]) * 700 for i in range(5)]
    messages = [{"type": "http.request", "body": p, "more_body": True} for p in pieces]
    messages.append({"type": "http.request", "body": b"", "more_body": False})
    sent, _ = serve(echo, messages)
    assert sent[0]["headers"][1] == (b"x-seen", b"3500")
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"got " + b"".join(pieces)


def test_a_client_gone_before_its_body_ends_runs_nothing():
    called = []
    messages = [
        {"type": "http.request", "body": b"{", "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent, _ = serve(lambda e, s: called.append(e) or [], messages)
    assert sent == [] and called == []


def test_a_large_response_goes_out_in_pieces():
    content = b"x" * (http.SEND_SIZE * 2 + 10)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", str(len(content)))])
        return [content[:5], content[5:]]

    sent, _ = serve(app, [{"type": "http.request", "body": b""}])
    bodies = [m["body"] for m in sent[1:]]
    assert [len(b) for b in bodies] == [http.SEND_SIZE, http.SEND_SIZE, 10, 0]
    assert b"".join(bodies) == content and sent[-1].get("more_body") is None


def test_only_http_is_served():
    with pytest.raises(ValueError, match="websocket"):
        asyncio.run(http.WSGIOnThreads(echo, threads=1)({"type": "websocket"}, None, None))


@pytest.mark.django_db
def test_django_answers_through_it_with_its_own_error_format():
    scope = {
        **SCOPE,
        "method": "GET",
        "path": "/api/v1/no-such-thing/",
        "headers": [(b"host", b"localhost")],
    }
    sent, _ = serve(WSGIHandler(), [{"type": "http.request", "body": b""}], scope=scope)
    assert sent[0]["status"] == 404
    body = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert body["error"]["code"] == "not_found"


# --- Worker processes ------------------------------------------------------------------

ECHO = "tests.http_apps:echo"


def request(path="/echo", query=b"", body=b"", method="POST"):
    """(scope, messages) of one request."""
    scope = {**SCOPE, "method": method, "path": path, "query_string": query}
    return scope, [{"type": "http.request", "body": body}]


async def call(pool, scope, messages):
    sent = []

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    await pool(scope, receive, send)
    status = sent[0]["status"]
    headers = dict(sent[0]["headers"])
    seen = json.loads(headers[b"x-seen"]) if b"x-seen" in headers else None
    return status, seen, b"".join(m.get("body", b"") for m in sent[1:])


def on_processes(script, processes=2, warm_up=None):
    """Start a pool of ``processes`` workers running ``ECHO``, await
    ``script(pool)``, then stop the pool; what the script returned."""

    async def main():
        pool = http.WSGIOnProcesses(ECHO, processes=processes, warm_up=warm_up)
        await pool.startup()
        try:
            return await script(pool)
        finally:
            pool.shutdown()

    return asyncio.run(main())


def test_a_request_reaches_a_worker_process_whole():
    body = "区域".encode() * 2000
    status, seen, content = on_processes(
        lambda pool: call(pool, *request("/open311/v2/区域/", b"lang=zh", body)), processes=1
    )
    assert status == 201 and content == b"got " + body
    assert seen["pid"] != os.getpid()
    assert seen["PATH_INFO"].encode("latin1").decode() == "/open311/v2/区域/"
    assert seen["QUERY_STRING"] == "lang=zh" and seen["CONTENT_LENGTH"] == str(len(body))
    assert seen["HTTP_ACCEPT"] == "application/json,text/xml"
    assert seen["REMOTE_ADDR"] == "203.0.113.9" and seen["wsgi.url_scheme"] == "https"


def test_a_large_body_and_response_cross_between_processes(settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1000  # the body is spooled to a file first
    body = bytes(range(256)) * 40_000  # 10 MB
    status, _seen, content = on_processes(lambda pool: call(pool, *request(body=body)), 1)
    assert status == 201 and content == b"got " + body


def test_a_request_goes_to_whichever_worker_is_free():
    async def script(pool):
        slow = asyncio.ensure_future(call(pool, *request(query=b"sleep=1.5")))
        await asyncio.sleep(0.3)  # the slow one has a worker now
        quick = [await call(pool, *request()) for _ in range(4)]
        return (await slow)[1]["pid"], [seen["pid"] for _status, seen, _c in quick]

    slow_pid, quick_pids = on_processes(script)
    # Not in turn: every quick request went to the worker that was free.
    assert len(set(quick_pids)) == 1 and quick_pids[0] != slow_pid


def test_a_worker_that_dies_fails_only_its_request_and_is_replaced(caplog):
    async def script(pool):
        first = await call(pool, *request())
        died = await call(pool, *request(query=b"die=1"))
        after = [await call(pool, *request()) for _ in range(4)]
        return first, died, after, [w.process.pid for w in pool.workers]

    first, died, after, pids = on_processes(script, processes=1)
    assert died[0] == 500
    assert json.loads(died[2])["error"]["code"] == "server_error"
    assert [status for status, _s, _c in after] == [201] * 4
    replacement = after[0][1]["pid"]
    assert replacement != first[1]["pid"] and pids == [replacement]
    assert "failed on /echo" in caplog.text


def test_a_request_cancelled_while_its_worker_runs_it_costs_the_pool_no_worker():
    async def script(pool):
        cancelled = asyncio.ensure_future(call(pool, *request(query=b"sleep=0.5")))
        await asyncio.sleep(0.2)  # its worker is running it
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        # The next requests are answered, each with its own answer, by a
        # worker other than the one whose answer nobody read.
        after = [
            await asyncio.wait_for(call(pool, *request(body=str(n).encode())), 10) for n in range(3)
        ]
        return after, len(pool.workers)

    after, workers = on_processes(script, processes=1)
    assert [content for _status, _seen, content in after] == [b"got 0", b"got 1", b"got 2"]
    assert [seen["served"] for _status, seen, _content in after] == [1, 2, 3]
    assert workers == 1


def test_each_worker_warms_up_before_it_serves():
    warm_up = [request(method="GET")[0]] * 3

    async def script(pool):
        return await asyncio.gather(*(call(pool, *request(query=b"sleep=0.5")) for _ in range(2)))

    results = on_processes(script, warm_up=warm_up)
    assert len({seen["pid"] for _status, seen, _c in results}) == 2
    # Each worker ran the three warm-up requests before a client's.
    assert [seen["served"] for _status, seen, _c in results] == [4, 4]


def test_workers_serve_http_only():
    with pytest.raises(ValueError, match="websocket"):
        asyncio.run(http.WSGIOnProcesses(ECHO, processes=1)({"type": "websocket"}, None, None))


def test_lifespan_readies_the_workers_then_freezes_what_is_loaded():
    events = []

    class Workers:
        async def startup(self):
            events.append(("startup", gc.get_freeze_count()))

        def shutdown(self):
            events.append(("shutdown", None))

    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent = []

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message["type"])

    gc.unfreeze()
    try:
        asyncio.run(http.Lifespan(Workers())({"type": "lifespan"}, receive, send))
        frozen = gc.get_freeze_count()
    finally:
        gc.unfreeze()
    assert events == [("startup", 0), ("shutdown", None)]
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert frozen > 0


def test_each_thread_warms_up_before_it_serves():
    ran = []

    def app(environ, start_response):
        ran.append((threading.current_thread().name, environ["PATH_INFO"]))
        start_response("200 OK", [])
        return [b""]

    warm_up = [request("/one", method="GET")[0], request("/two", method="GET")[0]]
    asyncio.run(http.WSGIOnThreads(app, threads=3, warm_up=warm_up).startup())
    assert len({name for name, _path in ran}) == 3
    assert sorted(path for _name, path in ran) == ["/one"] * 3 + ["/two"] * 3
