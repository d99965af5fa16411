"""The words of a notification, in its language.

Each kind has three templates per language under templates/notifications/:

    <language>/<kind>/subject.txt   email subject; the inbox item's title
    <language>/<kind>/body.txt      email body
    <language>/<kind>/short.txt     SMS text; the inbox item's text

A language without its own templates uses the English ones, rendered under
that language so that their {% translate %} strings come from its catalogue.

A digest of the deadline sweep (no event, ``count`` cases) has one set of
templates per language for all its kinds, ``<language>/digest/<part>.txt``,
given the kind, the count and the link to the case list.

Citizens read the kinds in ``rules.PUBLIC_KINDS``: their templates get only
public-safe facts (the coarse step, the category, the case number and the
tracking link), never notes, reasons, departments or staff names, whatever
the template asks for.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.template.loader import select_template
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime

from cases.models import Stage
from core.site import SITE_TITLE
from grids.models import Level

from .models import Kind, Notification
from .rules import PUBLIC_KINDS, clean_email, clean_phone

PARTS = ("subject", "body", "short")
FALLBACK_LANGUAGE = "en"


def render(notification: Notification, part: str, language: str | None = None) -> str:
    """``part`` of ``notification`` in ``language`` (default: the notification's)."""
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}")
    language = _supported(language or notification.language)
    folder = "digest" if notification.is_digest else notification.kind
    with translation.override(language):
        template = select_template(
            [
                f"notifications/{language}/{folder}/{part}.txt",
                f"notifications/{FALLBACK_LANGUAGE}/{folder}/{part}.txt",
            ]
        )
        text = template.render(context(notification, language))
    if part == "body":
        return re.sub(r"\n{3,}", "\n\n", text.strip()) + "\n"
    return " ".join(text.split())  # one line


def _supported(language: str) -> str:
    try:
        return translation.get_supported_language_variant(language)
    except LookupError:
        return translation.get_supported_language_variant(settings.LANGUAGE_CODE)


def localized_name(obj, language: str) -> str:
    """The English name of an area, category or department in English, if it has one."""
    if obj is None:
        return ""
    english = getattr(obj, "name_en", "")
    return english if language.startswith("en") and english else obj.name


def absolute(path: str) -> str:
    """``path`` on the site's address: the one the tracking links use."""
    parts = urlsplit(settings.NOTIFICATIONS_TRACKING_URL)
    if not (parts.scheme and parts.netloc and path.startswith("/")):
        return path
    return f"{parts.scheme}://{parts.netloc}{path}"


def tracking_url(case) -> str:
    if not case.tracking_token:
        return ""
    return settings.NOTIFICATIONS_TRACKING_URL.format(token=case.tracking_token)


def _to_reporter(notification: Notification, case) -> bool:
    """Whether the notification goes to the case's own reporter: only they
    get its tracking link (a follower's report was another tip)."""
    if notification.recipient_id is not None:
        return notification.recipient_id == case.reporter_id
    address = notification.address.lower()
    return address in (clean_email(case.reporter_email).lower(), clean_phone(case.reporter_phone))


def context(notification: Notification, language: str) -> dict:
    if notification.kind == Kind.CALENDAR:
        # Written from 1 October about the next year.
        return {
            "year": timezone.localtime(notification.created_at).year + 1,
            "site_name": settings.NOTIFICATIONS_SITE_NAME or str(SITE_TITLE),
        }
    if notification.is_digest:
        return {
            "kind": notification.kind,
            "count": notification.count,
            "link": absolute(notification.link),
            "site_name": settings.NOTIFICATIONS_SITE_NAME or str(SITE_TITLE),
        }
    case = notification.case
    event = notification.event
    public = {
        "action": event.action,
        "number": case.number,
        "category": localized_name(case.category, language),
        "tracking_url": tracking_url(case) if _to_reporter(notification, case) else "",
        "site_name": settings.NOTIFICATIONS_SITE_NAME or str(SITE_TITLE),
    }
    if notification.kind in PUBLIC_KINDS:
        return public
    payload = event.payload or {}
    return {
        **public,
        "tracking_url": "",
        "address": case.address,
        "level": _level_label(payload.get("to_level") or case.command_level),
        "stage": _stage_label(payload.get("stage", "")),
        "due_at": _when(payload.get("due_at")),
        "message": payload.get("message", ""),
        "reason": payload.get("reason") or payload.get("note") or payload.get("comment", ""),
        "automatic": bool(payload.get("automatic")),
    }


def _level_label(level) -> str:
    try:
        return str(Level(level).label)
    except ValueError:
        return ""


def _stage_label(stage: str) -> str:
    try:
        return str(Stage(stage).label)
    except ValueError:
        return ""


def _when(value) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        return parse_datetime(value)
    return None
