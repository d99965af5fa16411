"""Which browser pages may open a live connection: the site's own origin
(scheme, host and port of the connection) or a trusted one, never a page of
another site, another port of the same host, or the other scheme."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from governance.asgi import application
from notifications.auth import origin_allowed, parse_origin
from tests.live.test_consumer import PATH, session_cookie, welcome

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


def handshake(host: str | None, origin: str | None, scheme: str = "ws", extra=()) -> dict:
    headers = [(b"host", host.encode())] if host is not None else []
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return {"type": "websocket", "scheme": scheme, "headers": [*headers, *extra]}


def test_origins_are_parsed_with_the_default_port_of_their_scheme():
    assert parse_origin("http://City.Example") == ("http", "city.example", 80)
    assert parse_origin("https://city.example") == ("https", "city.example", 443)
    assert parse_origin("https://city.example:8443") == ("https", "city.example", 8443)
    assert parse_origin("http://[::1]:8000") == ("http", "::1", 8000)
    for bad in ["null", "", "city.example", "ftp://city.example", "http://x:99999", "http://x/a"]:
        assert parse_origin(bad) is None, bad


@pytest.mark.parametrize(
    ("host", "origin", "scheme", "allowed"),
    [
        ("localhost:8000", "http://localhost:8000", "ws", True),  # same host, same port
        ("localhost:8000", "http://localhost:8001", "ws", False),  # same host, other port
        ("localhost:8000", "http://localhost", "ws", False),  # 80 is another port
        ("localhost", "http://localhost:80", "ws", True),  # the default port, said or not
        ("localhost:80", "http://localhost", "ws", True),
        ("localhost", "https://localhost", "ws", False),  # scheme mismatch
        ("localhost", "http://localhost", "wss", False),
        ("localhost", "https://localhost", "wss", True),
        ("localhost:443", "https://localhost", "wss", True),
        ("localhost", "http://evil.example", "ws", False),  # another site
        ("evil.example", "http://evil.example", "ws", False),  # a host not in ALLOWED_HOSTS
        ("[::1]:8000", "http://[::1]:8000", "ws", True),
        ("[::1]:8000", "http://[::1]:9000", "ws", False),
        ("localhost", "null", "ws", False),  # a sandboxed page or a file
        (None, "http://localhost", "ws", False),  # no Host: no site origin to match
        (None, None, "ws", True),  # not a browser: token authentication decides
    ],
)
def test_a_browser_origin_must_match_scheme_host_and_port(host, origin, scheme, allowed):
    assert origin_allowed(handshake(host, origin, scheme)) is allowed


def test_behind_a_tls_front_server_the_forwarded_scheme_counts(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    forwarded = [(b"x-forwarded-proto", b"https")]
    assert origin_allowed(handshake("localhost", "https://localhost", extra=forwarded))
    assert not origin_allowed(handshake("localhost", "http://localhost", extra=forwarded))
    assert not origin_allowed(handshake("localhost", "https://localhost"))
    settings.SECURE_PROXY_SSL_HEADER = None
    assert not origin_allowed(handshake("localhost", "https://localhost", extra=forwarded))


def test_trusted_origins_match_with_their_port(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.city.example", "https://*.gov.example:8443"]
    assert origin_allowed(handshake("localhost", "https://app.city.example"))
    assert origin_allowed(handshake("localhost", "https://app.city.example:443"))
    assert not origin_allowed(handshake("localhost", "https://app.city.example:8443"))
    assert not origin_allowed(handshake("localhost", "http://app.city.example"))
    assert origin_allowed(handshake("localhost", "https://a.gov.example:8443"))
    assert not origin_allowed(handshake("localhost", "https://a.gov.example"))
    assert not origin_allowed(handshake("localhost", "https://gov.example.evil:8443"))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_through_the_stack_another_port_is_refused_and_the_same_port_signs_in(world):
    cookie = await sync_to_async(session_cookie)(world.handler)
    host = (b"host", b"localhost:8000")
    other_port = WebsocketCommunicator(
        application, PATH, headers=[host, (b"origin", b"http://localhost:8001"), cookie]
    )
    connected, _ = await other_port.connect(timeout=5)
    assert not connected

    same_port = WebsocketCommunicator(
        application, PATH, headers=[host, (b"origin", b"http://localhost:8000"), cookie]
    )
    connected, _ = await same_port.connect(timeout=5)
    assert connected
    assert (await welcome(same_port))["user_id"] == world.handler.pk
    await same_port.disconnect()
