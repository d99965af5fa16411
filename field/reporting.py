"""Home and the report flow of the field app.

Home shows the worker's grids, the open cases in them (pins coloured by the
SLA light the API gives) and the on-site tasks (the case list's ``task``
filter). The report page files through the API's own serializer and filing
function (``cases.api.views.file_report``): the same checks, the same
idempotency, the same service as POST /api/v1/cases/."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from cases import limits
from cases.api.filters import TASK_STATUS, CaseFilter
from cases.api.serializers import CaseCreateSerializer, CaseListSerializer
from cases.api.views import file_report
from cases.citizen import category_choices, checked_form, placed_errors
from cases.models import FINAL_STATUSES, Source
from cases.selectors import cases_visible_to, report_categories
from core.api_errors import error_body
from core.errors import DomainError
from core.site import SITE_TITLE
from grids.api.geojson import feature, with_geojson
from grids.models import Area
from grids.selectors import grids_of_worker

from .access import grid_worker_required, wants_json
from .categories import search_text

# Open cases drawn on the home map, newest first: a grid has tens at most.
MAP_CASES = 300
# The serializer's refusal of a category code, in the worker's words.
CATEGORY_REFUSED = gettext_lazy(
    "This category is not in use any more. Choose another one from the list."
)
TASK_TITLES = {
    "verify": gettext_lazy("To verify on site (核实)"),
    "inspect": gettext_lazy("To inspect (核查)"),
}
# Words a grid worker types most; tapped into the description.
QUICK_PHRASES = (
    gettext_lazy("Manhole cover missing"),
    gettext_lazy("Manhole cover broken"),
    gettext_lazy("Rubbish left out"),
    gettext_lazy("Road surface broken"),
    gettext_lazy("Street vending"),
    gettext_lazy("Materials piled on the road"),
    gettext_lazy("Illegal advertising"),
    gettext_lazy("Standing water"),
)


def my_grids(user) -> dict:
    """The grids assigned to ``user`` today, as a GeoJSON FeatureCollection."""
    ids = [grid.id for grid in grids_of_worker(user)]
    rows = with_geojson(Area.objects.filter(pk__in=ids).order_by("code"), simplify=None)
    return {"type": "FeatureCollection", "features": [feature(row) for row in rows]}


def _tasks(request: HttpRequest, task: str) -> list[dict]:
    """The worker's tasks of one kind, soonest due first, as the API lists them."""
    cases = CaseFilter(
        data={"task": task}, queryset=cases_visible_to(request.user), request=request
    ).qs
    rows = CaseListSerializer.represent(
        CaseListSerializer.rows(cases.order_by("due_at", "id"), request.user)
    )
    return [{**row, "due": parse_datetime(row["due_at"] or "")} for row in rows]


@require_http_methods(["GET"])
@grid_worker_required
def home(request: HttpRequest) -> HttpResponse:
    grids = my_grids(request.user)
    grid_ids = [f["id"] for f in grids["features"]]
    open_cases = (
        cases_visible_to(request.user)
        .filter(grid_id__in=grid_ids)
        .exclude(status__in=FINAL_STATUSES)
        .order_by("-created_at", "-id")
    )
    pins = [
        {
            "id": row["id"],
            "number": row["number"],
            "light": row["light"],
            "status": row["status_display"],
            "location": row["location"],
            "url": f"/field/cases/{row['id']}/",
        }
        for row in CaseListSerializer.represent(
            CaseListSerializer.rows(open_cases, request.user)[:MAP_CASES]
        )
    ]
    return render(
        request,
        "field/home.html",
        {
            "site_title": SITE_TITLE,
            "grids": grids,
            "pins": pins,
            "tasks": [(TASK_TITLES[task], task, _tasks(request, task)) for task in TASK_STATUS],
            "map_tiles": settings.MAP_TILE_URL,
        },
    )


@require_http_methods(["GET", "POST"])
@grid_worker_required
def report(request: HttpRequest) -> HttpResponse:
    """The report form; a POST files the case (a plain form post, or the
    page's script and offline queue asking for JSON)."""
    values, errors, status = {}, {}, 200
    if request.method == "POST":
        values = request.POST
        try:
            data = dict(checked_form(request, CaseCreateSerializer))
            # A report from this page is the worker's own, made in the field.
            data.update(source=Source.GRID_WORKER, self_handled=False, handling_photos=[])
            case = file_report(request, data)
        except DomainError as exc:
            errors, status = placed_errors(exc, request.POST.get("category", "")), exc.status
            if "category" in errors:  # a code no longer in use (retired) or unknown
                errors["category"] = [str(CATEGORY_REFUSED)]
            if wants_json(request):
                first = next(iter(errors.values()))[0]
                return JsonResponse(error_body(exc.code, first, errors), status=status)
        else:
            said = _("Case %(number)s was filed.") % {"number": case.number}
            messages.success(request, said)  # on the next page, whoever sent it
            if wants_json(request):
                body = {"next": reverse("field:home"), "id": case.pk, "number": case.number,
                        "message": said}  # fmt: skip
                return JsonResponse(body, status=200 if case.replayed else 201)
            return redirect("field:home")
    categories = list(report_categories(citizens=False))
    choices = category_choices(categories)
    for choice, category in zip(choices, categories, strict=True):
        choice["search"] = search_text(category)
    return render(
        request,
        "field/report.html",
        {
            "site_title": SITE_TITLE,
            "categories": choices,
            "values": values,
            "errors": errors,
            "client_uuid": values.get("client_uuid") or secrets.token_urlsafe(16),
            "grids": my_grids(request.user),
            "quick_phrases": QUICK_PHRASES,
            "map_tiles": settings.MAP_TILE_URL,
            "center": settings.LEAFLET_CONFIG["DEFAULT_CENTER"],
            "limits": limits,
            "photo_max_mb": settings.CASES_PHOTO_MAX_BYTES // (1024 * 1024),
        },
        status=status,
    )
