"""The grid worker's cases on the phone: the list of my cases and tasks
(/field/cases/), one case's page (/field/cases/<id>/), and the on-site check
posted from it: verify (核实) or inspect (核查), pass or fail.

The list is a shell kept by the live client (static/governance/live.js): it
loads each list over the case list API (``?task=verify``, ``?task=inspect``,
``?mine=true``) and follows the worker's groups. The case page is rendered
here from what the API's detail shows. The check is read by the action's
own serializer and done by the registry's service, as the API's endpoint
does; whether the form shows comes from ``case_actions`` (the policy)."""

from __future__ import annotations

import datetime as dt
import json

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from cases import audience
from cases.actions import workflow_action
from cases.api.inputs import form_data
from cases.api.serializers import AttachmentSerializer, InspectSerializer
from cases.citizen import FormInputError
from cases.errors import CaseConflict, CaseNotFound
from cases.models import AttachmentKind, Light, Status
from cases.policy import scope_of
from cases.selectors import case_actions, case_get, step_label
from core.api_errors import error_body, field_messages
from core.errors import DomainError
from core.site import SITE_TITLE
from grids.models import Area
from notifications.views import live_config

# The on-site checks, each the pair of registry actions its buttons take.
CHECKS = {"verify": ("verify_pass", "verify_fail"), "inspect": ("inspect_pass", "inspect_fail")}
OUTCOMES = ("pass", "fail")
# How far back "reported by me" goes.
MINE_DAYS = 30
# The filter chips of the list, in order: (key, the lists they show).
FILTERS = {
    "all": ("verify", "inspect", "mine"),
    "verify": ("verify",),
    "inspect": ("inspect",),
    "mine": ("mine",),
}


def _lists(user) -> dict[str, dict]:
    """The worker's lists, in the live client's terms (see ``belongs`` in
    live.js): tasks by status in the grids assigned today; their reports."""
    grids = sorted(scope_of(user).grid_ids)
    since = (timezone.now() - dt.timedelta(days=MINE_DAYS)).isoformat()
    return {
        "verify": {
            "key": "verify", "kind": "grids", "ids": grids, "title": _("To verify"),
            "statuses": [Status.VERIFYING.value], "query": {"task": "verify"},
        },
        "inspect": {
            "key": "inspect", "kind": "grids", "ids": grids, "title": _("To inspect"),
            "statuses": [Status.HANDLED.value], "query": {"task": "inspect"},
        },
        "mine": {
            "key": "mine", "kind": "mine", "ids": [], "title": _("Reported by me"),
            "statuses": [s.value for s in Status],
            "query": {"mine": "true", "created_after": since},
        },
    }  # fmt: skip


@login_required
@require_GET
def my_cases(request: HttpRequest) -> HttpResponse:
    shown = request.GET.get("show", "all")
    if shown not in FILTERS:
        shown = "all"
    lists = _lists(request.user)
    queues = [lists[key] for key in FILTERS[shown]]
    config = _live_config(request, audience.standing_groups(request.user) or [], queues)
    chips = [
        (key, label, key == shown)
        for key, label in (
            ("all", _("All")),
            ("verify", _("To verify")),
            ("inspect", _("To inspect")),
            ("mine", _("Reported by me")),
        )
    ]
    return render(
        request,
        "field/cases.html",
        {"site_title": SITE_TITLE, "queues": queues, "config": config, "chips": chips},
    )


def _live_config(request: HttpRequest, groups: list[str], queues: list[dict]) -> dict:
    """What the live client (static/governance/live.js) follows on a page."""
    return live_config(
        request,
        groups=groups,
        queues=queues,
        urls={"case_page": reverse("field:case", args=[0]).replace("/0/", "/{id}/")},
        text={
            "connecting": _("Connecting…"),
            "live": _("Live"),
            "reconnecting": _("Reconnecting…"),
            "signed_out": _("Signed out: sign in again to see live updates."),
            "stale": _("Your tasks have changed: reload the page."),
            "empty": _("Nothing here."),
            "load_failed": _("The list could not be loaded; retrying."),
        },
    )


def _case_or_404(request: HttpRequest, pk: int):
    try:
        case = case_get(request.user, pk)
    except CaseNotFound:
        raise Http404 from None
    if not case.in_full:
        raise Http404  # seen only as a follower: the citizen's tracking page is theirs
    return case


@login_required
@require_GET
def case_page(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_case(request, _case_or_404(request, pk))


def _render_case(request, case, *, errors=None, values=None, check=None, status=200):
    allowed = case_actions(request.user, case)
    checks = {kind for kind, pair in CHECKS.items() if any(a in allowed for a in pair)}
    events = case.events.select_related("actor").order_by("id")
    context = {"request": request}
    timeline = []
    for event in events:
        payload = event.payload or {}
        timeline.append(
            {
                "label": step_label(event.action),
                "at": event.created_at,
                "actor": str(event.actor) if event.actor_id else "",
                "note": payload.get("note") or payload.get("reason") or payload.get("text") or "",
            }
        )
    photos = AttachmentSerializer(case.attachments.order_by("id"), many=True, context=context).data
    for photo in photos:
        photo["label"] = AttachmentKind(photo["kind"]).label
    before = [p for p in photos if p["kind"] == AttachmentKind.REPORT]
    after = [p for p in photos if p["kind"] != AttachmentKind.REPORT]
    check_kind = next(iter(sorted(checks)), None)
    english = (get_language() or "").startswith("en")
    questions = {q.code: q for q in case.category.attributes.all()} if case.category else {}
    attributes = []
    for code, value in (case.attributes or {}).items():
        question = questions.get(code)
        asked = question and ((english and question.description_en) or question.description)
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        attributes.append((asked or code, shown))
    return render(
        request,
        "field/case.html",
        {
            "site_title": SITE_TITLE,
            "case": case,
            "status_label": Status(case.status).label,
            "light_label": Light(case.light).label if case.light else "",
            "timeline": timeline,
            "attributes": attributes,
            "category": case.category
            and ((english and case.category.name_en) or case.category.name),
            "galleries": [
                ("photos-before", _("Photos of the report"), before),
                ("photos-after", _("Photos since"), after),
            ],
            "check": check_kind,
            "photo_required": check_kind == "verify",
            "errors": errors or {},
            "values": values or {},
            "live": {"case_id": case.pk, "version": case.version},
            "live_config": _live_config(request, [audience.case_group(case.pk)], []),
            "map_tiles": settings.MAP_TILE_URL,
            "grid_outline": _outline(case.grid_id),
        },
        status=status,
    )


def _outline(grid_id: int | None) -> dict | None:
    """The case's grid as GeoJSON, drawn around its pin."""
    boundary = Area.objects.filter(pk=grid_id).values_list("boundary", flat=True).first()
    return json.loads(boundary.geojson) if boundary else None


# Where each refusal shows on the form: the photos, the note, or the top.
_PLACES = {"photos": "photos", "note": "note"}


def _placed(exc: DomainError) -> dict[str, list[str]]:
    if isinstance(exc, CaseConflict):
        return {"form": [_("This case changed since you opened it: reload the page.")]}
    placed: dict[str, list[str]] = {}
    for field, messages in (exc.fields or {"form": [exc.message]}).items():
        placed.setdefault(_PLACES.get(field.split(".")[0], "form"), []).extend(messages)
    return placed


@login_required
@require_POST
def check(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """Verify or inspect on site: ``outcome`` pass or fail, with the photos
    and the note; a plain form post, or the page's script asking for JSON."""
    wants_json = "application/json" in request.headers.get("Accept", "")
    case = _case_or_404(request, pk)
    outcome = request.POST.get("outcome", "")
    try:
        if kind not in CHECKS or outcome not in OUTCOMES:
            raise DomainError(_("Choose pass or fail."), field="outcome")
        action = workflow_action(CHECKS[kind][OUTCOMES.index(outcome)])
        data = form_data(request.POST, request.FILES)
        # A file input left empty comes as an empty text field.
        for optional in ("photos", "expected_version"):
            if data.get(optional) in ("", None):
                data.pop(optional, None)
        serializer = InspectSerializer(data=data)
        if not serializer.is_valid():
            raise FormInputError(field_messages(serializer.errors))
        action.run(case=case.pk, actor=request.user, data=serializer.validated_data)
    except CaseNotFound:
        raise Http404 from None
    except DomainError as exc:
        errors = _placed(exc)
        if wants_json:
            first = next(iter(errors.values()))[0]
            return JsonResponse(error_body(exc.code, first, errors), status=exc.status)
        return _render_case(request, case, errors=errors, values=request.POST, status=exc.status)
    following = reverse("field:case", args=[case.pk])
    try:
        case_get(request.user, case.pk)
    except CaseNotFound:
        following = reverse("field:cases")  # out of the worker's sight now
    if wants_json:
        return JsonResponse({"next": following})
    return redirect(following, permanent=False)
