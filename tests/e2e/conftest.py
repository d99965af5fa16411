"""Browser tests: Debian's Chromium driven by Playwright."""

import copy
import importlib
import os
import re
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from django.apps import apps as django_apps

from governance.stack import Stack, StackFailed
from tests.servers import run_server_stack

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


# --- The servers, as bin/run starts them, for pages that use the live WebSocket ----
#
# pytest-django's live_server is WSGI alone: it has no WebSocket. ``server_stack``
# runs nginx in front of gunicorn and uvicorn (governance/stack.py) in
# processes of their own, with the test settings, against the test database
# (what the tests write must be committed: ``django_db(transaction=True)``).
# The in-memory channel layer of the test settings cannot reach another
# process, so the servers and the test process (``live_channel_layer``) share
# the Redis pub/sub layer on REDIS_URL, under a prefix of this run's own.


@dataclass
class StackServer:
    url: str
    channel_layers: dict
    stack: Stack

    def log_tail(self, lines: int = 60) -> str:
        return self.stack.log_tail(lines)


@pytest.fixture(scope="session")
def server_stack(django_db_setup, tmp_path_factory):
    from django.db import connection

    # The layer production uses (the base settings'), under this run's prefix.
    base = importlib.import_module("governance.settings.base")
    layers = copy.deepcopy(base.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["prefix"] = f"e2e-{uuid.uuid4().hex[:12]}"
    database = connection.settings_dict["NAME"]
    if database == base.env.db_url("DATABASE_URL", default=base.DEFAULT_DATABASE_URL)["NAME"]:
        pytest.fail(f"the servers would run on {database}, which is not a test database")
    # No collectstatic for the tests: a static file nginx does not find in the
    # (empty) STATIC_ROOT goes to the application, where WhiteNoise serves it
    # from the finders.
    # Tests flush and restore the database under the running servers: they
    # must read the configuration afresh rather than keep what they cached.
    overrides = {
        "CHANNEL_LAYERS": layers,
        "WHITENOISE_USE_FINDERS": True,
        "CONFIG_CACHE_SECONDS": 0,
    }
    try:
        with run_server_stack(overrides, work_dir=tmp_path_factory.mktemp("stack")) as stack:
            yield StackServer(url=stack.url, channel_layers=layers, stack=stack)
    except StackFailed as exc:
        pytest.fail(str(exc))


@pytest.fixture
def live_channel_layer(settings, server_stack):
    """Pushes from the test process (services run through ``off_loop``) reach
    the server's WebSocket clients."""
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = server_stack.channel_layers
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


def session_cookie(user, url: str) -> dict:
    """A browser cookie of a new session of ``user`` on the servers at ``url``.
    (A session made here is valid there: both run the test settings, with one
    SECRET_KEY, on one database.)"""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return {"name": name, "value": client.cookies[name].value, "url": url}


@pytest.fixture
def signed_in(browser, server_stack, browser_errors):
    """``signed_in(user, **options)``: a new browser context with a session of
    ``user`` on the servers."""
    contexts = []

    def open_context(user, **options):
        """``options``: of the browser context (a phone's viewport, its GPS...)."""
        context = browser.new_context(
            **{
                "base_url": server_stack.url,
                "locale": "en-US",
                "viewport": {"width": 1280, "height": 900},
                **options,
            }
        )
        browser_errors.watch(context)
        context.add_cookies([session_cookie(user, server_stack.url)])
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
