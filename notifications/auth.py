"""Who a WebSocket connection is.

Browsers are signed in by their session (Channels' AuthMiddlewareStack) and
always send an ``Origin`` header: it must be the site's own
origin, or another site's page could use the visitor's session cookie
(cross-site WebSocket hijacking). The site's own origin is the one the
connection was made to, as Django's CSRF check has it: the ``Host`` header
(one of ALLOWED_HOSTS), its port, and https when the connection is secure
(``wss``, or SECURE_PROXY_SSL_HEADER from the front server); or one of
CSRF_TRUSTED_ORIGINS. Scheme, host and port must all match, a missing port
being the scheme's default: a page served on another port of the same host
is another site.

Other clients (phone apps, the hotline system) send no Origin and
authenticate with ``Authorization: Token <key>``, the REST API's token:
without an Origin, a session cookie alone signs no one in. A token that is
present but unknown signs the connection out rather than falling back to the
session. What a connection was signed in with is kept (``credential``), so
that signing out or deleting the token closes it (notifications.access).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import split_domain_port, validate_host
from django.utils.crypto import salted_hmac

from .pool import in_pool

DEFAULT_PORTS = {"http": 80, "https": 443}
Origin = tuple[str, str, int]  # scheme, host, port

SESSION = "session"
TOKEN = "token"  # noqa: S105 - a kind of credential, not one


def credential(kind: str, key: str | None) -> str:
    """What a live connection was signed in with (a session or a token), as
    the control messages that close it name it: a keyed hash, so that no key
    travels over the channel layer."""
    digest = salted_hmac("notifications.live.credential", key or "", algorithm="sha256")
    return f"{kind}:{digest.hexdigest()[:32]}"


def _user_for_key(key: str):
    from organisation.tokens import token_for_key

    token = token_for_key(key)
    if token is None or not token.user.is_active:
        return AnonymousUser()
    return token.user


_user_for = in_pool(_user_for_key)


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
    """Signs a connection in: by its token, as no one when it has neither a
    token nor an Origin, else (a browser) by its session."""

    def __init__(self, app):
        self.app = app
        self.sessions = AuthMiddlewareStack(app)

    async def __call__(self, scope, receive, send):
        headers = scope.get("headers", ())
        key = _token(headers)
        if key is not None:
            user = await _user_for(key) if key else AnonymousUser()
            scope = dict(scope, user=user, credential=credential(TOKEN, key))
        elif not _has_origin(headers):
            scope = dict(scope, user=AnonymousUser())
        else:
            return await self.sessions(scope, receive, send)
        return await self.app(scope, receive, send)


def parse_origin(value: str) -> Origin | None:
    """(scheme, host, port) of an origin such as ``https://city.example``,
    with the scheme's default port when none is given; None if it is not an
    http(s) origin (``null``, a path, a bad port)."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in DEFAULT_PORTS or not host or parts.path not in ("", "/"):
        return None
    return scheme, host, port or DEFAULT_PORTS[scheme]


def _header(headers, wanted: bytes) -> str | None:
    for name, value in headers:
        if name == wanted:
            return value.decode("latin-1")
    return None


def _is_secure(scope) -> bool:
    if scope.get("scheme") == "wss":
        return True
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if not proxy:
        return False
    name, secure_value = proxy
    name = name.removeprefix("HTTP_").replace("_", "-").lower().encode("latin-1")
    value = _header(scope.get("headers", ()), name)
    return value is not None and value.split(",", 1)[0].strip() == secure_value


def _allowed_hosts() -> list[str]:
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        return [".localhost", "127.0.0.1", "[::1]"]  # as Django's HttpRequest.get_host
    return allowed


def site_origin(scope) -> Origin | None:
    """The origin the connection was made to, if its host is one of ALLOWED_HOSTS."""
    host = _header(scope.get("headers", ()), b"host")
    if host is None:
        return None
    domain, port = split_domain_port(host.lower())
    if not domain or not validate_host(domain, _allowed_hosts()):
        return None
    scheme = "https" if _is_secure(scope) else "http"
    return parse_origin(f"{scheme}://{domain}:{port}" if port else f"{scheme}://{domain}")


def _trusted(origin: Origin) -> bool:
    """One of CSRF_TRUSTED_ORIGINS (``https://*.example.com`` for subdomains)."""
    scheme, host, port = origin
    for pattern in settings.CSRF_TRUSTED_ORIGINS:
        wildcard = "://*." in pattern
        trusted = parse_origin(pattern.replace("://*.", "://", 1))
        if trusted is None or (trusted[0], trusted[2]) != (scheme, port):
            continue
        if host == trusted[1] or (wildcard and host.endswith("." + trusted[1])):
            return True
    return False


def origin_allowed(scope) -> bool:
    """Whether a WebSocket handshake's Origin may open a connection: none
    (not a browser: TokenAuthMiddleware ignores its cookies), the site's own
    origin, or a trusted one."""
    value = _header(scope.get("headers", ()), b"origin")
    if value is None:
        return True
    origin = parse_origin(value)
    return origin is not None and (origin == site_origin(scope) or _trusted(origin))


class OriginValidatorForBrowsers:
    """Refuses the handshake of a browser page from another origin (see the
    module's docstring); one without an Origin passes on to token
    authentication."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if origin_allowed(scope):
            return await self.app(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
