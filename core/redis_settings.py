"""Redis addresses from the environment, for the settings and their checks.

One Redis (REDIS_URL) serves as Celery broker, channel layer and cache. The
channel layer may shard its groups across several Redis servers
(CHANNEL_REDIS_URLS): channels_redis picks a group's server by a hash of its
name, the same rule for the WebSocket processes that subscribe and for the
publisher in notifications/live.py. Under Redis Sentinel (REDIS_SENTINELS,
REDIS_SENTINEL_MASTER) the broker and the channel layer ask the sentinels
for the current master instead of naming a server; the cache (Django's
RedisCache, which has no Sentinel client) stays on REDIS_CACHE_URL.

The settings must load even when a value is malformed, so that ``manage.py
check`` can say what is wrong (``problems``): nothing here raises.
"""

from __future__ import annotations

from urllib.parse import urlsplit

URL_SCHEMES = ("redis", "rediss", "unix")


def split_list(value: str) -> list[str]:
    """A comma-separated environment value as its non-empty items."""
    return [item.strip() for item in value.split(",") if item.strip()]


def sentinel_address(entry: str) -> tuple[str, int] | None:
    """``host:port`` as (host, port), or None when it is not one."""
    host, _, port = entry.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host.strip("[]"), int(port)


def _url_problem(name: str, url: str) -> str | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        return f"{name}: {url!r} is not a URL ({exc})."
    if parts.scheme not in URL_SCHEMES:
        return f"{name}: {url!r} must start with redis://, rediss:// or unix://."
    if parts.scheme != "unix" and not parts.hostname:
        return f"{name}: {url!r} names no host."
    return None


def problems(
    *,
    redis_url: str,
    channel_urls: list[str],
    sentinels: list[str],
    master: str,
    channel_masters: list[str],
) -> list[str]:
    """What is wrong with these values, one sentence each."""
    found = [_url_problem("REDIS_URL", redis_url)]
    found += [_url_problem("CHANNEL_REDIS_URLS", url) for url in channel_urls]
    found += [
        f"REDIS_SENTINELS: {entry!r} is not host:port."
        for entry in sentinels
        if sentinel_address(entry) is None
    ]
    if sentinels and not master:
        found.append("REDIS_SENTINELS is set but REDIS_SENTINEL_MASTER (the master's name) is not.")
    if (master or channel_masters) and not sentinels:
        found.append("A Sentinel master is named but REDIS_SENTINELS (host:port list) is not set.")
    if sentinels and channel_urls:
        found.append(
            "CHANNEL_REDIS_URLS and REDIS_SENTINELS are both set: under Sentinel the "
            "channel layer's shards are the masters of CHANNEL_REDIS_MASTERS."
        )
    return [problem for problem in found if problem]


def _sentinel_list(sentinels: list[str]) -> list[tuple[str, int]]:
    return [address for address in map(sentinel_address, sentinels) if address]


def _master_options(redis_url: str) -> dict:
    """The database number and password of REDIS_URL, which the masters
    found through Sentinel share (its host and port are not used)."""
    parts = urlsplit(redis_url)
    options = {}
    db = parts.path.strip("/")
    if db.isdigit():
        options["db"] = int(db)
    if parts.password:
        options["password"] = parts.password
    return options


def channel_layer_hosts(
    *,
    redis_url: str,
    channel_urls: list[str],
    sentinels: list[str],
    masters: list[str],
    sentinel_password: str,
    timeout: float,
) -> list[dict]:
    """``hosts`` of the channels_redis layer: one shard per URL, or under
    Sentinel one shard per master name. Order matters: the hash maps a
    group to a position in this list, so every process must list the same
    shards in the same order."""
    timeouts = {"socket_connect_timeout": timeout, "socket_timeout": timeout}
    if sentinels:
        sentinel_kwargs = {**timeouts}
        if sentinel_password:
            sentinel_kwargs["password"] = sentinel_password
        return [
            {
                "sentinels": _sentinel_list(sentinels),
                "master_name": master,
                "sentinel_kwargs": sentinel_kwargs,
                **_master_options(redis_url),
                **timeouts,
            }
            for master in masters
        ]
    return [{"address": url, **timeouts} for url in channel_urls or [redis_url]]


def celery_broker(
    *, redis_url: str, sentinels: list[str], master: str, sentinel_password: str
) -> tuple[str, dict]:
    """Celery's broker URL and broker_transport_options."""
    if not sentinels:
        return redis_url, {}
    parts = urlsplit(redis_url)
    auth = f":{parts.password}@" if parts.password else ""
    db = parts.path.strip("/")
    url = ";".join(
        f"sentinel://{auth}{host}:{port}/{db}" for host, port in _sentinel_list(sentinels)
    )
    options: dict = {"master_name": master}
    if sentinel_password:
        options["sentinel_kwargs"] = {"password": sentinel_password}
    return url, options
