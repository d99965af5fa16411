"""Load shedding in the WSGI application (governance/load_shedding.py): a
request that waited longer than REQUEST_QUEUE_TIMEOUT_MS since nginx passed
it on is answered 503 with Retry-After and never runs. (Through the real
servers: tests/e2e/test_http_through_nginx.py.)"""

from __future__ import annotations

import io
import json

import pytest

from governance.load_shedding import ShedLateRequests, queued_since

NOW = 1_800_000_000.0


class Recorder:
    """A WSGI application that answers 200 and counts its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, environ, start_response):
        self.calls += 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ran"]


def call(app, **headers):
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "wsgi.input": io.BytesIO()}
    environ.update({f"HTTP_{name.upper()}": value for name, value in headers.items()})
    answered = {}

    def start_response(status, response_headers, exc_info=None):
        answered["status"] = status
        answered["headers"] = dict(response_headers)

    body = b"".join(app(environ, start_response))
    return answered["status"], answered["headers"], body


@pytest.fixture
def shed(settings):
    settings.REQUEST_QUEUE_TIMEOUT_MS = 500
    settings.REQUEST_RETRY_AFTER_SECONDS = 2
    inner = Recorder()
    return inner, ShedLateRequests(inner, clock=lambda: NOW)


def test_a_request_that_waited_too_long_is_answered_503_without_running(shed):
    inner, app = shed

    status, headers, body = call(app, x_request_start=f"t={NOW - 0.501:.3f}")

    assert status.startswith("503")
    assert headers["Retry-After"] == "2"
    assert headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) == len(body)
    error = json.loads(body)["error"]
    assert error["code"] == "overloaded" and error["message"]
    assert inner.calls == 0


@pytest.mark.parametrize(
    "header",
    [f"t={NOW - 0.499:.3f}", f"{NOW - 0.1}", "", "t=", "t=soon", "t=-5", "0"],
    ids=["in-time", "bare-number", "absent", "empty", "unreadable", "negative", "zero"],
)
def test_a_request_in_time_or_without_a_readable_stamp_runs(shed, header):
    inner, app = shed
    headers = {"x_request_start": header} if header else {}

    status, _headers, body = call(app, **headers)

    assert (status, body) == ("200 OK", b"ran")
    assert inner.calls == 1


def test_no_limit_sheds_nothing(shed, settings):
    settings.REQUEST_QUEUE_TIMEOUT_MS = 0
    inner, app = shed

    status, _headers, _body = call(app, x_request_start=f"t={NOW - 3600}")

    assert status == "200 OK" and inner.calls == 1


def test_the_answer_speaks_the_language_the_client_asks_for(shed):
    _inner, app = shed
    late = f"t={NOW - 10}"

    _status, _headers, english = call(app, x_request_start=late, accept_language="en")
    _status, _headers, chinese = call(app, x_request_start=late, accept_language="zh-CN,zh;q=0.9")

    assert "busy" in json.loads(english)["error"]["message"]
    assert "繁忙" in json.loads(chinese)["error"]["message"]


def test_queued_since_reads_nginx_stamps():
    assert queued_since("t=1712345678.123") == pytest.approx(1712345678.123)
    assert queued_since(" 1712345678.5 ") == pytest.approx(1712345678.5)
    assert queued_since("t=later") is None
