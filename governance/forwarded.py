"""Which peers a server process believes about the client's address.

uvicorn rewrites a request's peer address (and scheme) from
``X-Forwarded-For`` / ``X-Forwarded-Proto`` when the peer is one it trusts,
and by default it trusts loopback: any local client (or one relayed by a
local process) could then pick its own address and escape the per-address
limits. The headers are believed only from the proxies listed in
``FORWARDED_ALLOW_IPS`` (comma-separated addresses or networks; empty, the
default: from no one). In the servers the project starts
(governance/stack.py), nginx believes FORWARDED_ALLOW_IPS (its
``set_real_ip_from``) and the uvicorn behind it believes nginx on loopback
alone; Django reads the client's address by core/client_address.py
(``NUM_PROXIES``).
"""

from __future__ import annotations

import os


def forwarded_allow_ips(environ=None) -> str:
    """The trusted proxies: FORWARDED_ALLOW_IPS without spaces ("" for none)."""
    value = (os.environ if environ is None else environ).get("FORWARDED_ALLOW_IPS", "")
    return ",".join(part.strip() for part in value.split(",") if part.strip())


def uvicorn_options(environ=None) -> dict:
    """Keyword arguments of ``uvicorn.run`` / ``uvicorn.Config``."""
    trusted = forwarded_allow_ips(environ)
    if not trusted:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": trusted}


def uvicorn_args(environ=None) -> list[str]:
    """The same as command-line options of ``uvicorn``."""
    trusted = forwarded_allow_ips(environ)
    if not trusted:
        return ["--no-proxy-headers"]
    return ["--proxy-headers", "--forwarded-allow-ips", trusted]
