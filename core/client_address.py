"""The address a request comes from: one rule for every per-address limit
(the public endpoints' rate limits, core/throttles.py, and the sign-in
lockout, AXES_CLIENT_IP_CALLABLE).

The peer address (``REMOTE_ADDR``) counts, unless ``NUM_PROXIES`` reverse
proxies in front append to ``X-Forwarded-For``: then the entry the farthest
trusted proxy appended does. Behind the servers the project starts
(governance/stack.py) that is nginx (``NUM_PROXIES=1``): it appends the
client's address, which it takes from ``X-Forwarded-For`` only for peers in
``FORWARDED_ALLOW_IPS`` (none by default), so a client cannot pick its own
address by sending the header, not even from loopback.
"""

from __future__ import annotations

from rest_framework.settings import api_settings


def client_ip(request) -> str:
    """The client's address of a Django (or DRF) request."""
    meta = request.META
    remote = meta.get("REMOTE_ADDR", "")
    proxies = api_settings.NUM_PROXIES or 0
    forwarded = meta.get("HTTP_X_FORWARDED_FOR")
    if proxies <= 0 or not forwarded:
        return remote
    hops = [hop.strip() for hop in forwarded.split(",")]
    return hops[-min(proxies, len(hops))] or remote
