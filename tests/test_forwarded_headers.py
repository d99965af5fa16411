"""Forwarded headers are believed only from configured proxies: a client on
loopback that forges X-Forwarded-For is still counted under its real address
by the per-address rate limit, through the servers the project starts (nginx
believes FORWARDED_ALLOW_IPS, the backends believe nginx alone;
governance/stack.py, governance/forwarded.py, core/client_address.py)."""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid

import pytest
from django.conf import settings

from governance.forwarded import uvicorn_args, uvicorn_options
from tests.api.helpers import random_ip
from tests.servers import run_server_stack


def test_no_proxy_is_trusted_unless_configured():
    for environ in ({}, {"FORWARDED_ALLOW_IPS": ""}, {"FORWARDED_ALLOW_IPS": " , "}):
        assert uvicorn_options(environ) == {"proxy_headers": False}
        assert uvicorn_args(environ) == ["--no-proxy-headers"]

    configured = {"FORWARDED_ALLOW_IPS": "10.0.0.5, 10.1.0.0/16"}
    assert uvicorn_options(configured) == {
        "proxy_headers": True,
        "forwarded_allow_ips": "10.0.0.5,10.1.0.0/16",
    }
    assert uvicorn_args(configured) == [
        "--proxy-headers",
        "--forwarded-allow-ips",
        "10.0.0.5,10.1.0.0/16",
    ]


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def status_of(url: str, forwarded_for: str, headers: dict | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded_for, **(headers or {})}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310
    try:
        with urllib.request.build_opener(NoRedirects).open(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as refused:
        return refused.code


@pytest.fixture
def server(tmp_path):
    """``server(FORWARDED_ALLOW_IPS)``: the servers with 3 anonymous requests
    per address and minute, counting in a cache of their own."""

    def start(forwarded_allow_ips: str, **more):
        overrides = {
            **more,
            "RATE_LIMITS": {"anonymous_ip": "3/min", "token": None},
            "CACHES": {
                "default": {
                    "BACKEND": "django.core.cache.backends.redis.RedisCache",
                    "LOCATION": settings.REDIS_URL,
                    "KEY_PREFIX": f"forwarded-{uuid.uuid4().hex[:12]}",
                }
            },
        }
        environ = {"FORWARDED_ALLOW_IPS": forwarded_allow_ips}
        return run_server_stack(overrides, work_dir=tmp_path, environ=environ)

    return start


# The server reads what the test commits; the flush after restores the
# migrated rows for the serialized-rollback tests that may follow.
COMMITTED = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@COMMITTED
def test_a_forged_forwarded_for_from_loopback_is_counted_under_the_real_address(server):
    with server("") as stack:
        tip = f"{stack.url}/api/v1/tips/{uuid.uuid4().hex}/"

        statuses = [status_of(tip, random_ip()) for _ in range(4)]

    assert statuses == [404, 404, 404, 429]


@COMMITTED
def test_forwarded_for_is_honoured_from_a_configured_proxy(server):
    with server("127.0.0.1") as stack:
        tip = f"{stack.url}/api/v1/tips/{uuid.uuid4().hex}/"

        each_its_own = [status_of(tip, random_ip()) for _ in range(4)]
        one = random_ip()
        one_address = [status_of(tip, one) for _ in range(4)]

    assert each_its_own == [404, 404, 404, 404]
    assert one_address == [404, 404, 404, 429]


@COMMITTED
def test_only_a_trusted_proxy_says_the_client_used_https(server):
    """With TLS ended in front of nginx, X-Forwarded-Proto says the scheme:
    believed from FORWARDED_ALLOW_IPS, ignored from anyone else (the
    production settings redirect plain http to https)."""
    https_only = {
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "SECURE_SSL_REDIRECT": True,
        "SECURE_REDIRECT_EXEMPT": [r"^healthz$"],
    }
    claims = {"X-Forwarded-Proto": "https"}
    with server("", **https_only) as stack:
        untrusted = status_of(f"{stack.url}/", random_ip(), claims)
    with server("127.0.0.1", **https_only) as stack:
        trusted = status_of(f"{stack.url}/", random_ip(), claims)
        plain = status_of(f"{stack.url}/", random_ip())

    assert untrusted == 301
    assert trusted == 200
    assert plain == 301
