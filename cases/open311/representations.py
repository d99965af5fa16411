"""Open311 GeoReport v2 documents built from the models: discovery, services,
service definitions and service requests, with the field names and order of
the specification. Names follow the request's language (Chinese, or English
where an English name exists).

A request's public view carries no personal data: never the reporter's name,
phone or email (they are not even loaded), and only public-safe notes.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from ..models import FINAL_STATUSES, AttributeType, Case, Category, RejectReason, Stage, Status
from ..photo_access import photo_url
from .publication import generalised_point, shown_as_filed

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# When what discovery and the service list describe last changed shape; the
# services themselves are read live from the categories.
CHANGESET = "2026-11-21T00:00:00+08:00"

OPEN, CLOSED = "open", "closed"

_FAMILY = {"component": ("部件", "Components"), "incident": ("事件", "Incidents")}
_LIST_TYPES = (AttributeType.SINGLE, AttributeType.MULTI)


def english() -> bool:
    return (get_language() or "").lower().startswith("en")


def localized(chinese: str, english_text: str) -> str:
    return english_text if english() and english_text else chinese


def w3c(moment: dt.datetime | None) -> str | None:
    """A W3C date and time with the offset of the server's time zone:
    ``2025-05-01T08:30:00+08:00``."""
    if moment is None:
        return None
    return timezone.localtime(moment).isoformat(timespec="seconds")


def open311_status(case_status: str) -> str:
    return CLOSED if case_status in FINAL_STATUSES else OPEN


# --- Discovery and services ----------------------------------------------------------


def discovery(*, url: str, formats: list[str], contact: str, key_service: str, test: bool):
    return {
        "changeset": CHANGESET,
        "contact": contact,
        "key_service": key_service,
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": url,
                "changeset": CHANGESET,
                "type": "test" if test else "production",
                "formats": formats,
            }
        ],
    }


def group(category: Category) -> str:
    family_zh, family_en = _FAMILY.get(category.major.family, ("", ""))
    family = family_en if english() else family_zh
    return f"{family}/{localized(category.major.name, category.major.name_en)}"


def service(category: Category) -> dict:
    name = localized(category.name, category.name_en)
    other = category.name if english() else category.name_en
    major = category.major
    keywords = [category.code, category.name, category.name_en, major.name, major.name_en]
    return {
        "service_code": category.code,
        "service_name": name,
        "description": f"{name} ({other})" if other and other != name else name,
        "metadata": bool(getattr(category, "has_questions", True)),
        "type": "realtime",
        "keywords": ", ".join(k for k in keywords if k),
        "group": group(category),
    }


def service_definition(category: Category) -> dict:
    attributes = []
    for position, question in enumerate(category.attributes.all(), start=1):
        values = []
        if question.datatype in _LIST_TYPES:
            values = [
                {"key": str(v.get("key", "")), "name": str(v.get("name", ""))}
                for v in question.values or ()
                if isinstance(v, dict)
            ]
        attributes.append(
            {
                "variable": question.variable,
                "code": question.code,
                "datatype": question.datatype,
                "required": question.required,
                "datatype_description": question.datatype_description or None,
                # The specification wants distinct positive integers: the
                # position in the stored order, from 1.
                "order": position,
                "description": localized(question.description, question.description_en),
                "values": values,
            }
        )
    return {"service_code": category.code, "attributes": attributes}


# --- Service requests ------------------------------------------------------------------


def status_notes(case: Case) -> str:
    if case.status == Status.REJECTED:
        reason = RejectReason(case.reject_reason).label if case.reject_reason else ""
        return _("Rejected: %(reason)s.") % {"reason": reason} if reason else _("Rejected.")
    if case.status == Status.CLOSED:
        return _("Closed: handled and checked on site.")
    return _("Status: %(status)s.") % {"status": Status(case.status).label}


def service_notice(case: Case) -> str | None:
    """What happens next, from the deadline of the current stage."""
    if case.status in FINAL_STATUSES:
        return None
    if case.status == Status.SUSPENDED or case.suspended_at is not None:
        return _("Handling is suspended; its deadline is paused.")
    if case.due_at is None or not case.stage:
        return None
    return _("Next step: %(stage)s, due by %(time)s.") % {
        "stage": Stage(case.stage).label,
        "time": timezone.localtime(case.due_at).strftime("%Y-%m-%d %H:%M"),
    }


def media_url(case: Case, request) -> str | None:
    """The first stored report photo (re-encoded without metadata when it was
    stored), as an absolute URL; else the link the reporter gave."""
    pk = getattr(case, "first_photo_id", None)
    if pk:
        return photo_url(request, pk, "original")
    return case.media_url or None


def service_request(case: Case, request) -> dict:
    """A published case; one not filed by a citizen (hotline, grid worker,
    sensor) is generalised as ``publication`` says: the category's name for
    its text, a rounded point, no address or photo."""
    status = open311_status(case.status)
    department = case.department
    updated = case.closed_at if status == CLOSED and case.closed_at else case.updated_at
    service_name = localized(case.category.name, case.category.name_en)
    if shown_as_filed(case):
        description, address, media = case.description, case.address, media_url(case, request)
        lat, lng = round(case.location.y, 7), round(case.location.x, 7)
    else:
        description, address, media = service_name, "", None
        lat, lng = generalised_point(case)
    return {
        "service_request_id": case.number,
        "status": status,
        "status_notes": status_notes(case),
        "service_name": service_name,
        "service_code": case.category.code,
        "description": description,
        "agency_responsible": localized(department.name, department.name_en)
        if department
        else None,
        "service_notice": service_notice(case),
        "requested_datetime": w3c(case.created_at),
        "updated_datetime": w3c(updated),
        "expected_datetime": w3c(case.due_at) if status == OPEN else None,
        "address": address,
        "lat": lat,
        "long": lng,
        "media_url": media,
    }


def created(case: Case, *, account_id: str | None) -> dict:
    """The answer to POST requests: the id at once (the service type is
    ``realtime``, so no token; see docs/open311.md)."""
    return {
        "service_request_id": case.number,
        "service_notice": service_notice(case),
        "account_id": account_id or None,
    }


def token(case: Case) -> dict:
    return {"service_request_id": case.number, "token": case.tracking_token}
