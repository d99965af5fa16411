"""Project-level pages: the landing page and the health check."""

import redis
from django.conf import settings
from django.contrib.auth.views import LoginView
from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.api_errors import error_body
from core.site import SITE_TITLE
from field.access import lands_in_field_app
from grids.models import Area


@require_GET
@never_cache
def health(request: HttpRequest) -> JsonResponse:
    """Liveness of the two backing services; 503 when either is down. Only
    staff (``is_staff``) are told what each check found: versions and error
    names help an attacker more than a load balancer, which reads the status."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT postgis_lib_version()")
            checks["database"] = f"ok (PostGIS {cursor.fetchone()[0]})"
    except Exception as exc:
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {exc.__class__.__name__}"
    healthy = all(value.startswith("ok") for value in checks.values())
    body: dict = {"status": "ok" if healthy else "degraded"}
    if request.user.is_authenticated and request.user.is_staff:
        body["checks"] = checks
    return JsonResponse(body, status=200 if healthy else 503)


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask every site for /favicon.ico, the admin's pages included."""
    return redirect(static("governance/favicon.ico"), permanent=True)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if lands_in_field_app(request.user):  # on the phone, in the field app
        return redirect("field:home")
    counts = Area.objects.level_counts()
    return render(request, "home.html", {"site_title": SITE_TITLE, "level_counts": counts})


class SignIn(LoginView):
    """After signing in: the field app for a person whose only role is grid
    worker, the workbench (LOGIN_REDIRECT_URL) for everyone else."""

    def get_default_redirect_url(self):
        if lands_in_field_app(self.request.user):
            return reverse("field:home")
        return super().get_default_redirect_url()


# --- Errors outside any API view ------------------------------------------------
# A URL that matches no route, or a failure before a view runs, still answers
# API clients in the API's error format, not with an HTML page.

API_PREFIXES = ("/api/",)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIXES)


def _api_error(code: str, message, status: int) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)


def bad_request(request, exception=None):
    if _is_api(request) and isinstance(exception, RequestDataTooBig):
        return _api_error("too_large", _("The request body is too large."), 413)
    if _is_api(request):
        return _api_error("malformed", _("The request is malformed."), 400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    if _is_api(request):
        return _api_error("permission_denied", _("You may not do this."), 403)
    return defaults.permission_denied(request, exception)


def not_found(request, exception=None):
    if _is_api(request):
        return _api_error("not_found", _("No such address in the API."), 404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return _api_error("server_error", _("Something went wrong on our side."), 500)
    return defaults.server_error(request)
