"""Load shedding: a request that waited too long for a worker is answered
503 with ``Retry-After`` at once, without running it.

nginx stamps each request it passes to gunicorn with ``X-Request-Start:
t=<seconds since the epoch>`` (deploy/nginx.conf.template). Under overload
requests queue in gunicorn's listen backlog; without a bound every request
waits behind all the others and the latency of all of them runs away (a
queue that grows without end). A worker that takes a request which has
already waited longer than ``REQUEST_QUEUE_TIMEOUT_MS`` drops it in well
under a millisecond, so the backlog drains quickly and the requests that do
run keep their latency; clients are told when to try again. nginx bounds the
requests in flight as well (``limit_conn``, same answer): the two together
keep both the queue and the time spent in it short.

A request without the header (a direct call, the warm-up) always runs.
"""

from __future__ import annotations

import json
import time

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation.trans_real import parse_accept_lang_header


def queued_since(header: str) -> float | None:
    """The time in ``X-Request-Start`` (``t=1712345678.123`` or a bare
    number, seconds), or None when absent or unreadable."""
    value = header.strip()
    if value.startswith("t="):
        value = value[2:]
    try:
        started = float(value)
    except ValueError:
        return None
    return started if started > 0 else None


def _language(accept_language: str) -> str:
    for code, _quality in parse_accept_lang_header(accept_language):
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


def overloaded_response(accept_language: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """Status line, headers and JSON body of the answer to a shed request."""
    with translation.override(_language(accept_language)):
        message = _("The service is busy. Please try again in a moment.")
    body = json.dumps({"error": {"code": "overloaded", "message": message}}).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Retry-After", str(settings.REQUEST_RETRY_AFTER_SECONDS)),
        ("Cache-Control", "no-store"),
    ]
    return "503 Service Unavailable", headers, body


class ShedLateRequests:
    """WSGI middleware around Django's handler (governance/wsgi.py)."""

    def __init__(self, app, *, clock=time.time):
        self.app = app
        self.clock = clock

    def __call__(self, environ, start_response):
        limit = settings.REQUEST_QUEUE_TIMEOUT_MS
        started = queued_since(environ.get("HTTP_X_REQUEST_START", ""))
        if limit and started is not None and (self.clock() - started) * 1000 > limit:
            status, headers, body = overloaded_response(environ.get("HTTP_ACCEPT_LANGUAGE", ""))
            start_response(status, headers)
            return [body]
        return self.app(environ, start_response)
