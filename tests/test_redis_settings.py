"""Redis addresses from the environment (core/redis_settings.py) and the
check that names malformed ones (core/checks.py)."""

from __future__ import annotations

import pytest
from django.core import checks

from core import redis_settings
from core.checks import check_redis_settings

PLAIN = {"redis_url": "redis://:pw@10.0.0.9:6379/2", "sentinel_password": "", "timeout": 1.5}


def test_one_channel_layer_host_per_shard_url_in_the_order_given():
    hosts = redis_settings.channel_layer_hosts(
        **PLAIN,
        channel_urls=redis_settings.split_list(" redis://a:6379/0, redis://b:6379/0 ,"),
        sentinels=[],
        masters=[],
    )
    assert [host["address"] for host in hosts] == ["redis://a:6379/0", "redis://b:6379/0"]
    assert all(host["socket_timeout"] == 1.5 for host in hosts)


def test_without_shard_urls_the_layer_uses_redis_url():
    hosts = redis_settings.channel_layer_hosts(**PLAIN, channel_urls=[], sentinels=[], masters=[])
    assert [host["address"] for host in hosts] == [PLAIN["redis_url"]]


def test_under_sentinel_each_master_is_a_shard_with_redis_urls_database_and_password():
    hosts = redis_settings.channel_layer_hosts(
        **{**PLAIN, "sentinel_password": "watch"},
        channel_urls=[],
        sentinels=["s1:26379", "[::1]:26380"],
        masters=["live-a", "live-b"],
    )
    assert [host["master_name"] for host in hosts] == ["live-a", "live-b"]
    assert hosts[0]["sentinels"] == [("s1", 26379), ("::1", 26380)]
    assert hosts[0]["db"] == 2 and hosts[0]["password"] == "pw"
    assert hosts[0]["sentinel_kwargs"]["password"] == "watch"
    assert "address" not in hosts[0]


def test_the_celery_broker_asks_every_sentinel_for_the_master():
    url, options = redis_settings.celery_broker(
        redis_url=PLAIN["redis_url"], sentinels=["s1:26379", "s2:26379"], master="main",
        sentinel_password="watch",
    )  # fmt: skip
    assert url == "sentinel://:pw@s1:26379/2;sentinel://:pw@s2:26379/2"
    assert options == {"master_name": "main", "sentinel_kwargs": {"password": "watch"}}


def test_without_sentinels_the_broker_is_redis_url():
    assert redis_settings.celery_broker(
        redis_url="redis://r:6379/0", sentinels=[], master="", sentinel_password=""
    ) == ("redis://r:6379/0", {})


def messages(settings, **values) -> list[tuple[str, str]]:
    for name, value in values.items():
        setattr(settings, name, value)
    return [(type(m).__name__, m.msg) for m in check_redis_settings(None)]


def test_well_formed_settings_pass_the_check(settings):
    assert messages(settings, CHANNEL_REDIS_URLS=["redis://a:1/0", "unix:///run/r.sock"]) == []


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"CHANNEL_REDIS_URLS": ["a:6379"]}, "CHANNEL_REDIS_URLS: 'a:6379' must start with"),
        ({"CHANNEL_REDIS_URLS": ["redis://a:port/0"]}, "'redis://a:port/0' is not a URL"),
        ({"REDIS_URL": "redis:///0"}, "REDIS_URL: 'redis:///0' names no host."),
        (
            {"REDIS_SENTINELS": ["s1"], "REDIS_SENTINEL_MASTER": "m"},
            "REDIS_SENTINELS: 's1' is not host:port.",
        ),
        ({"REDIS_SENTINELS": ["s1:26379"]}, "REDIS_SENTINEL_MASTER (the master's name) is not"),
        ({"REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINELS (host:port list) is not set"),
        (
            {"REDIS_SENTINELS": ["s:1"], "REDIS_SENTINEL_MASTER": "m", "CHANNEL_REDIS_URLS": ["redis://a"]},
            "CHANNEL_REDIS_URLS and REDIS_SENTINELS are both set",
        ),
    ],
)  # fmt: skip
def test_malformed_values_are_errors_that_name_the_setting(settings, values, expected):
    settings.REDIS_CACHE_URL = "redis://cache:6379/1"
    found = messages(settings, **values)
    assert [kind for kind, _ in found] == ["Error"], found
    assert expected in found[0][1]


def test_under_sentinel_a_cache_left_on_redis_url_is_a_warning(settings):
    values = {"REDIS_SENTINELS": ["s1:26379"], "REDIS_SENTINEL_MASTER": "m"}
    assert [k for k, _ in messages(settings, **values)] == ["Warning"]
    assert messages(settings, REDIS_CACHE_URL="redis://cache:6379/1") == []


def test_the_check_runs_with_manage_py_check(settings):
    settings.REDIS_SENTINELS = ["nope"]
    ids = {m.id for m in checks.run_checks(tags=["redis"])}
    assert "redis.E001" in ids
