"""Browser tests: Debian's Chromium driven by Playwright."""

import copy
import importlib
import os
import re
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.apps import apps as django_apps

from tests.servers import ServerFailed, run_asgi_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in the test thread; the ORM
    # calls that fixtures make around it are still synchronous and safe.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


# Every page reports a Content-Security-Policy violation to its console as well
# (the browser's own message says less: not always which directive).
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile}:${event.lineNumber}`);
});
"""


class BrowserErrors:
    """Console errors, uncaught exceptions and CSP violations of the browser
    contexts a test opens: any the test did not ``allow`` fails it."""

    def __init__(self):
        self.seen: list[str] = []
        self.allowed: list[re.Pattern] = []

    def watch(self, context):
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        context.on("console", self._console)
        context.on("weberror", lambda error: self.seen.append(f"uncaught: {error.error}"))
        return context

    def _console(self, message):
        if message.type == "error":
            where = message.location or {}
            self.seen.append(f"console: {message.text} ({where.get('url', '')})")

    def allow(self, pattern: str):
        """Errors this test provokes on purpose (a page that goes offline)."""
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.seen if not any(p.search(e) for p in self.allowed)]


@pytest.fixture
def browser_errors():
    errors = BrowserErrors()
    yield errors
    # The contexts are closed by now: the fixtures that opened them ended first.
    unexpected = errors.unexpected()
    if unexpected:
        pytest.fail("the browser reported errors:\n" + "\n".join(unexpected))


@pytest.fixture
def page(browser, browser_errors):
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    page = browser_errors.watch(context).new_page()
    yield page
    context.close()


# --- An ASGI server for pages that use the live WebSocket ----------------------------
#
# pytest-django's live_server is WSGI: it has no WebSocket. ``asgi_server``
# runs uvicorn on governance.asgi in a process of its own, with the test
# settings, against the test database (what the tests write must be
# committed: ``django_db(transaction=True)``). The in-memory channel layer
# of the test settings cannot reach another process, so the server and the
# test process (``live_channel_layer``) share the Redis pub/sub layer on
# REDIS_URL, under a prefix of this run's own.


@dataclass
class AsgiServer:
    url: str
    channel_layers: dict
    log_path: Path

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="session")
def asgi_server(django_db_setup, tmp_path_factory):
    from django.db import connection

    # The layer production uses (the base settings'), under this run's prefix.
    base = importlib.import_module("governance.settings.base")
    layers = copy.deepcopy(base.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["prefix"] = f"e2e-{uuid.uuid4().hex[:12]}"
    database = connection.settings_dict["NAME"]
    if database == base.env.db_url("DATABASE_URL", default=base.DEFAULT_DATABASE_URL)["NAME"]:
        pytest.fail(f"the server would run on {database}, which is not a test database")
    log_path = tmp_path_factory.mktemp("asgi") / "uvicorn.log"
    # The test settings serve no static files themselves (DEBUG off, no
    # collectstatic): WhiteNoise serves them from the finders.
    # Tests flush and restore the database under the running server: it
    # must read the configuration afresh rather than keep what it cached.
    overrides = {
        "CHANNEL_LAYERS": layers,
        "WHITENOISE_USE_FINDERS": True,
        "CONFIG_CACHE_SECONDS": 0,
    }
    try:
        with run_asgi_server(overrides, log_path=log_path) as url:
            yield AsgiServer(url=url, channel_layers=layers, log_path=log_path)
    except ServerFailed as exc:
        pytest.fail(str(exc))


@pytest.fixture
def live_channel_layer(settings, asgi_server):
    """Pushes from the test process (services run through ``off_loop``) reach
    the server's WebSocket clients."""
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = asgi_server.channel_layers
    channel_layers.backends = {}
    yield
    channel_layers.backends = {}


@pytest.fixture
def off_loop():
    """Call a function in a thread of its own. Playwright's sync API keeps an
    event loop running in the test thread, where asgiref's async_to_sync, and
    so the after-commit live push of a service, refuses to run."""
    from django.db import connections

    def run(function, /, *args, **kwargs):
        def call():
            try:
                return function(*args, **kwargs)
            finally:
                connections.close_all()

        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(call).result(timeout=60)

    return run


@pytest.fixture
def signed_in(browser, asgi_server, browser_errors):
    """``signed_in(user)``: a new browser context with a session of ``user`` on
    the ASGI server. (A session made here is valid there: both run the test
    settings, with one SECRET_KEY, on one database.)"""
    from django.conf import settings
    from django.test import Client

    contexts = []

    def open_context(user):
        client = Client()
        client.force_login(user)
        context = browser.new_context(
            base_url=asgi_server.url, locale="en-US", viewport={"width": 1280, "height": 900}
        )
        browser_errors.watch(context)
        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": asgi_server.url,
                }
            ]
        )
        contexts.append(context)
        return context

    yield open_context
    for context in contexts:
        context.close()


@pytest.fixture
def reference_data(transactional_db):
    """The standard categories and the working calendar, which migrations
    load: a transactional test before this one flushed them."""
    from cases.categories import load_standard_categories
    from cases.models import WorkingPeriod

    if not WorkingPeriod.objects.exists():
        calendar = importlib.import_module("cases.migrations.0002_default_calendar")
        calendar.forwards(django_apps, None)
    load_standard_categories()
