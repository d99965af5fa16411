"""WebSocket routes, mounted by governance.asgi under Channels' auth middleware."""

from django.urls import path  # noqa: F401 - routes are added here as consumers arrive

websocket_urlpatterns: list = []
