"""Sign-in protection for the site's and the admin's login pages.

Two rules apply together:

* lockout (django-axes, settings ``AXES_*``): ``SIGN_IN_FAILURE_LIMIT``
  failed attempts for one user name from one client address lock that pair
  for ``SIGN_IN_LOCKOUT_MINUTES``; the right password is refused meanwhile,
  a success before the limit clears the count, and an administrator can
  unlock early (the user admin's action, or axes' access attempts);
* a rate limit per client address on sign-in posts (``RATE_LIMITS["sign_in"]``),
  which slows one address trying many user names.

Both answer 429 with ``Retry-After``: the sign-in page with a message for a
browser, the API's error format for a client that asks for JSON. The client
address follows core/client_address.py, as every per-address limit.
"""

from __future__ import annotations

import math
from datetime import timedelta
from functools import wraps

from axes.helpers import get_cool_off
from axes.utils import reset
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from core.api_errors import error_body
from core.throttles import SignInRateLimit


def _wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return request.path.startswith("/api/") or (
        "application/json" in accept and "text/html" not in accept
    )


def _refusal(request: HttpRequest, code: str, message: str, wait: timedelta) -> HttpResponse:
    seconds = max(1, math.ceil(wait.total_seconds()))
    if _wants_json(request):
        response = JsonResponse(error_body(code, message), status=429)
    else:
        response = render(
            request,
            "registration/login.html",
            {"refusal": message, "next": request.POST.get("next", "")},
            status=429,
        )
    response["Retry-After"] = str(seconds)
    return response


def locked_out(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the answer to a sign-in while its pair is locked."""
    wait = get_cool_off(request) or timedelta(minutes=15)
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    message = _(
        "Too many failed sign-ins for this user name. Try again in %(minutes)d minutes, "
        "or ask an administrator to unlock it."
    ) % {"minutes": minutes}
    return _refusal(request, "sign_in_locked", message, wait)


def rate_limited(view):
    """Refuse sign-in posts beyond the per-address rate (``RATE_LIMITS["sign_in"]``)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        if request.method == "POST":
            limit = SignInRateLimit()
            if not limit.allow_request(request, None):
                message = _("Too many sign-ins from your address. Wait a minute and try again.")
                wait = timedelta(seconds=limit.wait() or 60)
                return _refusal(request, "rate_limited", message, wait)
        return view(request, *args, **kwargs)

    return wrapped


def sign_in_unlock(*, username: str) -> int:
    """Lift every lockout of ``username``; returns how many records were cleared."""
    return reset(username=username)
