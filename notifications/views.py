"""The workbench page: the signed-in user's case queues, kept live.

The page is a shell. Its script (static/governance/live.js) loads each queue
over the case list API and keeps it current over the live WebSocket, as
docs/events.md describes. The view only says which queues the user has and
which live groups they come from, so the script follows exactly those groups
(taken from ``cases.audience.standing_groups``) and never a broader one.

A queue is the open work waiting on the user in one of their roles:

    handler       per department: cases dispatched to it, in progress or suspended
    dispatcher    per command centre: reports to register, registered cases
                  to dispatch and returned cases, at the centre's command level
                  or below
    grid worker   per grid assigned today: the grid's open cases
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import get_script_prefix
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from cases import audience
from cases.models import OPEN_STATUSES, Light, Status
from cases.policy import scope_of
from core.site import SITE_TITLE
from grids.models import Area
from organisation.models import Department

HANDLER_STATUSES = (Status.DISPATCHED, Status.IN_PROGRESS, Status.SUSPENDED)
DISPATCHER_STATUSES = (Status.REPORTED, Status.REGISTERED, Status.RETURNED)
GRID_STATUSES = OPEN_STATUSES


@dataclass
class Queue:
    """One list on the page. ``kind`` tells the script how a case event
    decides membership (see ``belongs`` in live.js): ``department`` by the
    case's department, ``dispatch`` by area path and command level, ``grid``
    by grid."""

    key: str
    kind: str
    id: int
    title: str
    group: str
    statuses: list[str]
    query: dict
    path: str = ""
    level: int = 0


def _localized(chinese: str, english: str) -> str:
    return english if english and (get_language() or "").startswith("en") else chinese


def workbench_queues(user) -> list[Queue]:
    """The user's queues, each with the live group it is followed through."""
    standing = audience.standing_groups(user)
    scope = scope_of(user)
    if not standing:  # an admin (None) works no queue; a citizen has only their own group
        return []
    allowed = set(standing)
    queues: list[Queue] = []
    for department in Department.objects.filter(pk__in=scope.department_ids).order_by("code"):
        group = audience.department_group(department.pk)
        statuses = [str(s) for s in HANDLER_STATUSES]
        queues.append(
            Queue(
                key=f"department-{department.pk}",
                kind="department",
                id=department.pk,
                title=_("Department queue: %(name)s")
                % {"name": _localized(department.name, department.name_en)},
                group=group,
                statuses=statuses,
                query={"department": department.code, "status": statuses},
            )
        )
    levels = dict(scope.dispatcher_areas)
    for area in Area.objects.without_geometry().filter(path__in=levels).order_by("path"):
        statuses = [str(s) for s in DISPATCHER_STATUSES]
        queues.append(
            Queue(
                key=f"dispatch-{area.pk}",
                kind="dispatch",
                id=area.pk,
                title=_("Command centre: %(name)s") % {"name": _localized(area.name, area.name_en)},
                group=audience.area_group(area.pk),
                statuses=statuses,
                query={"area": area.pk, "status": statuses},
                path=area.path,
                level=levels[area.path],
            )
        )
    for grid in Area.objects.without_geometry().filter(pk__in=scope.grid_ids).order_by("code"):
        statuses = [str(s) for s in GRID_STATUSES]
        queues.append(
            Queue(
                key=f"grid-{grid.pk}",
                kind="grid",
                id=grid.pk,
                title=_("Grid %(code)s: %(name)s")
                % {"code": grid.code, "name": _localized(grid.name, grid.name_en)},
                group=audience.area_group(grid.pk),
                statuses=statuses,
                query={"area": grid.pk, "status": statuses},
            )
        )
    return [queue for queue in queues if queue.group in allowed]


def _texts() -> dict[str, str]:
    """What the script shows, in the page's language."""
    return {
        "connecting": _("Connecting…"),
        "live": _("Live"),
        "reconnecting": _("Reconnecting…"),
        "signed_out": _("Signed out: sign in again to see live updates."),
        "stale": _("Your queues have changed: reload the page."),
        "empty": _("No cases."),
        "load_failed": _("The list could not be loaded; retrying."),
        "no_notifications": _("No notifications."),
        "notifications_failed": _("The notifications could not be loaded."),
        # Translators: the page fills in %(count)s.
        "bell": _("Notifications, %(count)s unread"),
    }


def live_config(
    request: HttpRequest,
    *,
    groups: list[str],
    queues: list[dict],
    text: dict,
    urls: dict | None = None,
) -> dict:
    """What the live client (static/governance/live.js) reads on a page: the
    groups it follows, the lists it keeps (``queues``, see ``belongs`` in
    live.js), the words it shows and where it connects."""
    prefix = get_script_prefix()
    return {
        "user_id": request.user.pk,
        "groups": groups,
        "queues": queues,
        "statuses": {str(value): str(label) for value, label in Status.choices},
        "lights": {str(value): str(label) for value, label in Light.choices},
        "language": get_language(),
        "time_zone": settings.TIME_ZONE,
        "urls": {
            "socket": f"{prefix}ws/v1/live/",
            "cases": f"{prefix}api/v1/cases/",
            "events": f"{prefix}api/v1/events/",
            "notifications": f"{prefix}api/v1/notifications/",
            **(urls or {}),
        },
        "csrf_token": get_token(request),
        "text": text,
    }


@login_required
@require_GET
def workbench(request: HttpRequest) -> HttpResponse:
    queues = workbench_queues(request.user)
    config = live_config(
        request,
        groups=list(dict.fromkeys(queue.group for queue in queues)),
        queues=[asdict(queue) for queue in queues],
        text=_texts(),
    )
    return render(
        request,
        "workbench.html",
        {"site_title": SITE_TITLE, "queues": queues, "config": config},
    )
