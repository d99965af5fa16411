"""governance.http.WSGIOnThreads: ASGI HTTP requests as WSGI requests on
threads (the server path is tested end to end in tests/e2e/test_asgi_http.py)."""

from __future__ import annotations

import asyncio
import json
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
