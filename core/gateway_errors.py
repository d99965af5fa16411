"""The answers nginx gives itself, when the application cannot: shed at its
bound of requests in flight (503), gunicorn down (502) or too slow (504), a
body over the limit (413).

They say what the application would, in its error format: JSON
``{"error": {"code", "message"}}`` for the API, a small page for the rest,
in each language of LANGUAGES. ``manage.py render_gateway_errors`` writes
them as files (``<language>/<status>.json`` and ``.html``) that nginx
serves by the client's Accept-Language (deploy/nginx.conf.template): the
translations stay in the catalogue, never copied by hand into nginx's
configuration."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from .api_errors import error_body
from .site import SITE_TITLE


@dataclass(frozen=True)
class GatewayError:
    status: int
    code: str
    title: str
    message: str


GATEWAY_ERRORS = (
    GatewayError(
        413,
        "too_large",
        _("Request too large"),
        _("The request is larger than the server accepts. Send fewer or smaller photos."),
    ),
    GatewayError(
        502,
        "unavailable",
        _("Service unavailable"),
        _("The service cannot be reached just now. Please try again in a moment."),
    ),
    GatewayError(
        503,
        "overloaded",
        _("Service busy"),
        _("The service is busy. Please try again in a moment."),
    ),
    GatewayError(
        504,
        "timeout",
        _("The service took too long"),
        _("The service took too long to answer. Please try again in a moment."),
    ),
)


def render_gateway_errors(directory: Path) -> list[Path]:
    """Write every page in every language under ``directory``; the paths written."""
    written = []
    for language, _name in settings.LANGUAGES:
        folder = Path(directory) / language
        folder.mkdir(parents=True, exist_ok=True)
        with translation.override(language):
            for error in GATEWAY_ERRORS:
                body = json.dumps(error_body(error.code, error.message), ensure_ascii=False)
                page = render_to_string(
                    "core/gateway_error.html",
                    {
                        "language": language,
                        "site_title": SITE_TITLE,
                        "title": error.title,
                        "message": error.message,
                    },
                )
                for suffix, text in (("json", body), ("html", page)):
                    path = folder / f"{error.status}.{suffix}"
                    path.write_text(text, encoding="utf-8")
                    written.append(path)
    return written
