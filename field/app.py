"""What makes /field/ an installable app: the web app manifest, its icons and
the service worker (built from frontend/field/sw.js into static/build/).

The service worker is served from /field/sw.js so that its scope is /field/
without a Service-Worker-Allowed header. It is given the URLs of the app
shell's scripts and styles as {% static %} names them (content-hashed in
production), so it caches the files the pages really load."""

from __future__ import annotations

import json

from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.templatetags.static import static
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from .icons import SIZES, icon_png

THEME_COLOUR = "#0b3d91"
SHELL_ASSETS = ("build/field.js", "build/field.css")


@require_GET
@cache_control(max_age=3600)
def manifest(request: HttpRequest) -> JsonResponse:
    home = reverse("field:home")
    icons = [
        {"src": reverse("field:icon", args=[size, purpose]), "sizes": f"{size}x{size}",
         "type": "image/png", "purpose": purpose}
        for size in SIZES
        for purpose in ("any", "maskable")
    ]  # fmt: skip
    body = {
        "id": home,
        "name": _("Grid worker"),
        "short_name": _("Grid worker"),
        "description": _("Report problems, verify and inspect cases in your grids."),
        "lang": translation.get_language(),
        "start_url": home,
        "scope": home,
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#ffffff",
        "theme_color": THEME_COLOUR,
        "icons": icons,
    }
    response = JsonResponse(body, json_dumps_params={"ensure_ascii": False})
    response["Content-Type"] = "application/manifest+json"
    return response


@require_GET
@cache_control(max_age=86400)
def icon(request: HttpRequest, size: int, purpose: str) -> HttpResponse:
    if size not in SIZES or purpose not in ("any", "maskable"):
        raise Http404
    return HttpResponse(icon_png(size, maskable=purpose == "maskable"), content_type="image/png")


@require_GET
@cache_control(no_cache=True)
def service_worker(request: HttpRequest) -> HttpResponse:
    path = finders.find("build/field-sw.js")
    if path is None:  # the front end is not built
        raise Http404
    with open(path, encoding="utf-8") as script:
        body = script.read()
    shell = {
        "pages": [reverse("field:home"), reverse("field:report")],
        "assets": [static(name) for name in SHELL_ASSETS],
    }
    prefix = f"self.FIELD_SHELL = {json.dumps(shell)};\n"
    return HttpResponse(prefix + body, content_type="text/javascript; charset=utf-8")
