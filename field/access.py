"""Who the field app is for: people who hold the grid worker role. Others are
refused (403) on every page of it; no one is shown another's grids or tasks."""

from __future__ import annotations

import functools

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from core.api_errors import error_body
from core.site import SITE_TITLE
from organisation.models import Role


def roles_of(user) -> set[str]:
    if not user.is_authenticated:
        return set()
    return set(user.roles.values_list("role", flat=True))


def is_grid_worker(user) -> bool:
    return Role.GRID_WORKER in roles_of(user)


def lands_in_field_app(user) -> bool:
    """A person whose only role is grid worker starts in the field app after
    signing in; anyone with a desk role starts at the workbench."""
    return roles_of(user) == {Role.GRID_WORKER}


def wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def grid_worker_required(view):
    """Sign-in first; then the grid worker role, or a 403 (JSON for the
    page's script, a page for a browser)."""

    @functools.wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            if wants_json(request):
                message = _("Sign in to use the field app.")
                return JsonResponse(error_body("not_authenticated", message), status=401)
            return redirect_to_login(request.get_full_path())
        if not is_grid_worker(request.user):
            message = _("The field app is for grid workers. Your account has no grid worker role.")
            if wants_json(request):
                return JsonResponse(error_body("permission_denied", message), status=403)
            return render(
                request,
                "field/refused.html",
                {"site_title": SITE_TITLE, "message": message},
                status=403,
            )
        return view(request, *args, **kwargs)

    return guarded
