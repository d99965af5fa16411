"""Who a WebSocket connection is.

Browsers are signed in by their session (Channels' AuthMiddlewareStack, which
runs first) and always send an ``Origin`` header: it must be one of the
site's ALLOWED_HOSTS, or another site's page could use the visitor's
session cookie (cross-site WebSocket hijacking). Other clients (phone apps,
the hotline system) send no Origin and authenticate with
``Authorization: Token <key>``, the REST API's token: without an Origin, a
session cookie alone signs no one in. A token that is present but unknown
signs the connection out rather than falling back to the session.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.security.websocket import AllowedHostsOriginValidator, OriginValidator
from django.contrib.auth.models import AnonymousUser


@database_sync_to_async
def _user_for(key: str):
    from organisation.tokens import token_for_key

    token = token_for_key(key)
    if token is None or not token.user.is_active:
        return AnonymousUser()
    return token.user


def _token(headers) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _space, key = value.decode("latin-1").partition(" ")
            if scheme.lower() == "token":
                return key.strip()
            return ""
    return None


def _has_origin(headers) -> bool:
    return any(name == b"origin" for name, _value in headers)


class TokenAuthMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        headers = scope.get("headers", ())
        key = _token(headers)
        if key is not None:
            scope = dict(scope, user=await _user_for(key) if key else AnonymousUser())
        elif not _has_origin(headers):
            scope = dict(scope, user=AnonymousUser())
        return await self.app(scope, receive, send)


class _OriginOrNone(OriginValidator):
    def valid_origin(self, parsed_origin):
        # No Origin: not a browser; TokenAuthMiddleware ignores its cookies.
        return parsed_origin is None or self.validate_origin(parsed_origin)


def OriginValidatorForBrowsers(app):
    """AllowedHostsOriginValidator, except that a request without an Origin
    header (not a browser) passes on to token authentication."""
    allowed = AllowedHostsOriginValidator(app).allowed_origins
    return _OriginOrNone(app, allowed)
