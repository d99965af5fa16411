"""ASGI entry point: HTTP through Django, WebSocket through Channels.

Served by uvicorn: ``uvicorn governance.asgi:application``.

Every view and middleware here is synchronous. Each server process runs
Django's WSGI handler for HTTP in ``HTTP_PROCESSES`` worker processes of its
own (``governance.http.WSGIOnProcesses``), each request on whichever is free,
or with ``HTTP_PROCESSES=0`` on ``HTTP_THREADS`` threads of the server process
(``WSGIOnThreads``). Either way a worker runs a request from start to end and
keeps its database connection (``CONN_MAX_AGE``); Django's own ASGI handler
would instead run each request's sync code on a new thread, hop between the
event loop and threads at every middleware that is not async, and leave a
persistent database connection unused by the next request. WebSockets stay on
the event loop (Channels). On lifespan startup (``governance.http.Lifespan``)
the workers warm up before the server takes a connection.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings.production")

# Django must be set up before anything imports models (consumers, middleware).
django.setup(set_prefix=False)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402

from governance.http import Lifespan, WSGIOnProcesses, WSGIOnThreads, warm_up_scopes  # noqa: E402
from notifications.auth import OriginValidatorForBrowsers, TokenAuthMiddleware  # noqa: E402
from notifications.routing import websocket_urlpatterns  # noqa: E402

# What a worker runs before it serves: the URL configuration's views are
# imported, the translations loaded and the database connection opened.
warm_up = warm_up_scopes(["/healthz"])
if settings.HTTP_PROCESSES:
    http = WSGIOnProcesses(
        "governance.wsgi:application", processes=settings.HTTP_PROCESSES, warm_up=warm_up
    )
else:
    # Only here does this process run Django's handler (its middleware) itself.
    http = WSGIOnThreads(WSGIHandler(), threads=settings.HTTP_THREADS, warm_up=warm_up)
application = ProtocolTypeRouter(
    {
        "http": http,
        # Readies the process before it serves (opt out: uvicorn --lifespan off).
        "lifespan": Lifespan(http),
        "websocket": OriginValidatorForBrowsers(
            TokenAuthMiddleware(URLRouter(websocket_urlpatterns))
        ),
    }
)
