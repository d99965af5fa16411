"""Rate limits for the endpoints anyone may call (citizen tips, Open311).

Two limits apply together: per client IP address and per token (an Open311
``api_key`` or a tip's tracking token). Rates come from ``RATE_LIMITS`` in the
settings, read at each request, so they are configured by environment
(``RATE_LIMIT_ANONYMOUS_IP``, ``RATE_LIMIT_TOKEN``) and can be changed in tests.
The counters live in the shared cache (Redis), so every server process counts
together. A refused request gets 429 with ``Retry-After``.

The client's address follows core/client_address.py: behind a reverse
proxy set ``NUM_PROXIES`` so it is read from ``X-Forwarded-For``; without it
the peer address is used and the header is ignored (a client could otherwise
pick its own address).
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from .client_address import client_ip

logger = logging.getLogger(__name__)


class _ConfiguredRate(SimpleRateThrottle):
    def __init__(self):
        # The rate is read per request (see allow_request), not at start-up.
        pass

    def get_rate(self):
        return settings.RATE_LIMITS.get(self.scope)

    def get_ident(self, request):
        return client_ip(request)

    def allow_request(self, request, view):
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        try:
            return super().allow_request(request, view)
        except Exception:
            # A cache outage must not take the public endpoints down with it.
            logger.exception("rate limit %s not checked: the cache is unavailable", self.scope)
            return True


class AnonymousIpRateLimit(_ConfiguredRate):
    """Requests without a signed-in user, per client address."""

    scope = "anonymous_ip"

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TokenRateLimit(_ConfiguredRate):
    """Requests carrying the same token (``view.rate_limit_token(request)``)."""

    scope = "token"

    def get_cache_key(self, request, view):
        token_of = getattr(view, "rate_limit_token", None)
        token = token_of(request) if token_of else None
        if not token:
            return None
        ident = hashlib.sha256(str(token).encode()).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": ident}


PUBLIC_RATE_LIMITS = [AnonymousIpRateLimit, TokenRateLimit]


class SignInRateLimit(_ConfiguredRate):
    """Sign-in posts per client address, whoever they name (organisation/sign_in.py)."""

    scope = "sign_in"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def public_page_refused(request, *, token: str | None = None) -> int | None:
    """The public limits above for a web page (a plain Django view): the
    seconds to wait when ``request`` is over a limit, else None. The pages
    and the API count in the same counters, so a form and an app that send
    the same tips share one allowance."""

    class _Page:
        def rate_limit_token(self, request) -> str | None:
            return token

    waits = []
    for limit in (cls() for cls in PUBLIC_RATE_LIMITS):
        if not limit.allow_request(request, _Page()):
            waits.append(limit.wait() or 1)
    return max(1, round(max(waits))) if waits else None
