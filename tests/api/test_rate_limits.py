"""Rate limits of the public endpoints: per client address (``anonymous_ip``)
and per token (``token``: a tip's tracking token), read from
settings.RATE_LIMITS at every request, counted in the shared Redis, refused
with 429, Retry-After and the project's error format.

The counters live in the real Redis and outlast a test, so each test sends
from client addresses of its own (``random_ip``) and uses fresh tokens."""

from __future__ import annotations

import logging

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from cases import services
from cases.models import Case, Source
from core import throttles
from tests.api.helpers import error, random_ip
from tests.api.images import plain_jpeg
from tests.cases.conftest import IN_G1

pytestmark = pytest.mark.django_db

TIPS = "/api/v1/tips/"
HINTS = "/api/v1/photos/hints/"
IP_ONLY = {"anonymous_ip": "3/min", "token": None}
TOKEN_ONLY = {"anonymous_ip": None, "token": "2/min"}


def hints(ip, client=None, **extra):
    return (client or APIClient()).post(
        HINTS, {"photo": plain_jpeg()}, format="multipart", REMOTE_ADDR=ip, **extra
    )


def tip_status(token, ip):
    return APIClient().get(f"{TIPS}{token}/", REMOTE_ADDR=ip)


def a_tip() -> Case:
    return services.case_report(
        reporter=None,
        source=Source.CITIZEN,
        description="路灯不亮",
        lng=IN_G1[0],
        lat=IN_G1[1],
    )


def assert_limited(response):
    body = error(response, 429, "rate_limited")
    assert "throttled" in body["message"].lower()
    assert "fields" not in body
    retry_after = response.headers["Retry-After"]
    assert retry_after.isdigit(), retry_after
    assert 0 < int(retry_after) <= 61
    return body


# --- Per client address -------------------------------------------------------------------


@override_settings(RATE_LIMITS=IP_ONLY)
def test_the_fourth_anonymous_request_from_one_address_is_refused(world):
    ip = random_ip()

    statuses = [hints(ip).status_code for _ in range(3)]
    limited = hints(ip)

    assert statuses == [200, 200, 200]
    assert_limited(limited)
    # Another address is not affected.
    assert hints(random_ip()).status_code == 200
    # And the first one stays refused.
    assert_limited(hints(ip))


@override_settings(RATE_LIMITS=IP_ONLY)
def test_tips_count_per_address_and_a_refused_tip_stores_nothing(world):
    ip = random_ip()
    data = {"description": "路灯不亮", "lng": IN_G1[0], "lat": IN_G1[1]}
    client = APIClient()

    created = [client.post(TIPS, data, format="json", REMOTE_ADDR=ip) for _ in range(3)]
    limited = client.post(TIPS, data, format="json", REMOTE_ADDR=ip)

    assert [r.status_code for r in created] == [201, 201, 201]
    assert_limited(limited)
    assert Case.objects.count() == 3


@override_settings(RATE_LIMITS=IP_ONLY)
def test_all_public_endpoints_share_the_address_count(world):
    ip = random_ip()
    token = a_tip().tracking_token

    assert hints(ip).status_code == 200
    assert tip_status(token, ip).status_code == 200
    assert APIClient().post(TIPS, {}, format="json", REMOTE_ADDR=ip).status_code == 400

    assert_limited(tip_status(token, ip))


@override_settings(RATE_LIMITS=IP_ONLY)
def test_a_forwarded_for_header_does_not_pick_a_new_address(world):
    """Without NUM_PROXIES the peer address counts; X-Forwarded-For is ignored."""
    ip = random_ip()

    for _ in range(3):
        assert hints(ip, HTTP_X_FORWARDED_FOR=random_ip()).status_code == 200

    assert_limited(hints(ip, HTTP_X_FORWARDED_FOR=random_ip()))


@override_settings(RATE_LIMITS=IP_ONLY)
def test_signed_in_staff_are_not_limited_by_address(world):
    ip = random_ip()
    staff = APIClient()
    staff.force_login(world.grid_worker)

    assert [hints(ip, client=staff).status_code for _ in range(6)] == [200] * 6
    # Their requests were not counted against the address either.
    assert [hints(ip).status_code for _ in range(3)] == [200, 200, 200]
    assert_limited(hints(ip))
    assert hints(ip, client=staff).status_code == 200


# --- Per token -----------------------------------------------------------------------------


@override_settings(RATE_LIMITS=TOKEN_ONLY)
def test_the_third_request_with_one_token_is_refused_from_any_address(world):
    token = a_tip().tracking_token
    other = a_tip().tracking_token

    first, second = tip_status(token, random_ip()), tip_status(token, random_ip())
    third = tip_status(token, random_ip())

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["public_status"] == "received"
    assert_limited(third)
    # Another token is counted on its own.
    assert tip_status(other, random_ip()).status_code == 200
    assert tip_status(other, random_ip()).status_code == 200
    assert_limited(tip_status(other, random_ip()))


@override_settings(RATE_LIMITS=TOKEN_ONLY)
def test_the_token_limit_does_not_count_requests_without_a_token(world):
    ip = random_ip()
    assert [hints(ip).status_code for _ in range(5)] == [200] * 5


@override_settings(RATE_LIMITS={"anonymous_ip": "3/min", "token": "2/min"})
def test_both_limits_apply_together(world):
    token = a_tip().tracking_token
    ip = random_ip()

    assert tip_status(token, ip).status_code == 200
    assert tip_status(token, ip).status_code == 200
    assert_limited(tip_status(token, ip))  # the token's limit, not yet the address's


@override_settings(RATE_LIMITS=TOKEN_ONLY)
def test_guessing_tokens_is_limited_per_token_only(world):
    """Unknown tokens are each counted under their own key: the address limit is
    what stops guessing (here switched off), not the token limit."""
    ip = random_ip()
    for i in range(5):
        guess = f"guessed-token-{random_ip()}-{i}".ljust(32, "x")
        error(tip_status(guess, ip), 404, "not_found")


# --- Configuration -----------------------------------------------------------------------


def test_rates_are_read_at_every_request(world, settings):
    ip = random_ip()

    settings.RATE_LIMITS = {"anonymous_ip": None, "token": None}
    assert [hints(ip).status_code for _ in range(4)] == [200] * 4

    settings.RATE_LIMITS = {"anonymous_ip": "5/min", "token": None}
    # The four requests before were not counted: the limit was off.
    assert [hints(ip).status_code for _ in range(5)] == [200] * 5
    assert_limited(hints(ip))

    settings.RATE_LIMITS = {"anonymous_ip": "100/min", "token": None}
    assert hints(ip).status_code == 200

    settings.RATE_LIMITS = {"anonymous_ip": None, "token": None}
    assert hints(ip).status_code == 200


def test_the_test_settings_switch_the_limits_off(world):
    ip = random_ip()
    assert [hints(ip).status_code for _ in range(8)] == [200] * 8


class _BrokenCache:
    def get(self, *args, **kwargs):
        raise ConnectionError("Redis is down")

    def set(self, *args, **kwargs):
        raise ConnectionError("Redis is down")


@override_settings(RATE_LIMITS={"anonymous_ip": "1/min", "token": "1/min"})
def test_a_cache_outage_does_not_take_the_endpoints_down(world, monkeypatch, caplog):
    monkeypatch.setattr(throttles._ConfiguredRate, "cache", _BrokenCache())
    ip = random_ip()
    token = a_tip().tracking_token

    with caplog.at_level(logging.ERROR, logger="core.throttles"):
        assert [hints(ip).status_code for _ in range(3)] == [200, 200, 200]
        assert [tip_status(token, ip).status_code for _ in range(3)] == [200, 200, 200]

    assert "rate limit anonymous_ip not checked" in caplog.text
    assert "rate limit token not checked" in caplog.text


@override_settings(RATE_LIMITS=IP_ONLY)
def test_the_counters_are_in_the_shared_cache(world):
    """Every server process counts together: the history is in Redis."""
    from django.core.cache import cache, caches
    from django.core.cache.backends.redis import RedisCache

    ip = random_ip()
    assert [hints(ip).status_code for _ in range(2)] == [200, 200]

    assert isinstance(caches["default"], RedisCache)
    history = cache.get(f"throttle_anonymous_ip_{ip}")
    assert isinstance(history, list) and len(history) == 2
    # What another process wrote counts here too.
    cache.set(f"throttle_anonymous_ip_{ip}", history + history[-1:], 60)
    assert_limited(hints(ip))
