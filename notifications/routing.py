"""WebSocket routes, mounted by governance.asgi under the auth middleware."""

from django.urls import path

from .consumers import LiveConsumer

websocket_urlpatterns = [
    path("ws/v1/live/", LiveConsumer.as_asgi()),
]
