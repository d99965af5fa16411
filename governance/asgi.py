"""ASGI entry point: HTTP through Django, WebSocket through Channels.

Served by uvicorn: ``uvicorn governance.asgi:application``.

HTTP requests run Django's WSGI handler on a fixed set of threads per server
process (``HTTP_THREADS``, ``governance.http.WSGIOnThreads``). Every view and
middleware here is synchronous; Django's own ASGI handler would run each
request's sync code on a new thread of its own, hop between the event loop
and threads at every middleware that is not async, and leave a persistent
database connection unused by the next request. On the fixed threads each
keeps its connection (``CONN_MAX_AGE``), and a request costs the server
about half the CPU (``bench/http_api.py``). WebSockets stay on the event
loop (Channels).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings.production")

# Django must be set up before anything imports models (consumers, middleware).
django_wsgi_app = get_wsgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from governance.http import WSGIOnThreads  # noqa: E402
from notifications.auth import OriginValidatorForBrowsers, TokenAuthMiddleware  # noqa: E402
from notifications.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": WSGIOnThreads(django_wsgi_app, threads=settings.HTTP_THREADS),
        "websocket": OriginValidatorForBrowsers(
            AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
