"""ASGI entry point: the live WebSocket through Channels, and nothing else.

Served by uvicorn behind nginx, which sends it only ``/ws/``
(governance/stack.py, deploy/nginx.conf.template); HTTP is served by
gunicorn (governance/wsgi.py). An HTTP request that reaches uvicorn
anyway gets a small answer of its own: ``/healthz`` says the process
is up (for whatever starts it), anything else is 404.
"""

import json
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings.production")

# Django must be set up before anything imports models (consumers, middleware).
django.setup(set_prefix=False)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from notifications.auth import OriginValidatorForBrowsers, TokenAuthMiddleware  # noqa: E402
from notifications.routing import websocket_urlpatterns  # noqa: E402


async def not_http(scope, receive, send):
    """HTTP on the WebSocket server: 200 on /healthz, 404 elsewhere."""
    if scope["path"] == "/healthz":
        status, body = 200, {"status": "ok"}
    else:
        status = 404
        body = {"error": {"code": "not_found", "message": "Only WebSocket is served here."}}
    content = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(content))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


async def lifespan(scope, receive, send):
    """Nothing to ready: the lifespan protocol only acknowledged."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


application = ProtocolTypeRouter(
    {
        "http": not_http,
        "lifespan": lifespan,
        "websocket": OriginValidatorForBrowsers(
            TokenAuthMiddleware(URLRouter(websocket_urlpatterns))
        ),
    }
)
