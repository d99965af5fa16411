"""One error format for every API error:

    {"error": {"code": "conflict", "message": "Case … is dispatched now; …",
               "fields": {"department": ["…"]}}}

``code`` is machine-readable and stable; ``message`` is for people, in the
request's language; ``fields`` names each bad input (absent when none).
"""

from __future__ import annotations

import io
import logging
from urllib.parse import unquote_to_bytes

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, parsers, status
from rest_framework.response import Response

from .errors import DomainError

logger = logging.getLogger(__name__)

_CODES = {
    exceptions.ParseError: "malformed",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
}


def error_body(code: str, message, fields=None) -> dict:
    body = {"code": code, "message": str(message)}
    if fields:
        body["fields"] = fields
    return {"error": body}


def error_response(code: str, message: str, http_status: int, fields=None, headers=None):
    return Response(error_body(code, message, fields), status=http_status, headers=headers)


def field_messages(detail):
    """A validation error's detail as field -> list of messages (None when
    it names no field)."""
    if isinstance(detail, dict):
        return {key: [str(m) for m in _messages(value)] for key, value in detail.items()}
    return None


def _messages(value):
    if isinstance(value, list | tuple):
        for item in value:
            yield from _messages(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            for message in _messages(item):
                yield f"{key}: {message}"
    else:
        yield value


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        if exc.status >= 500:
            # Not the client's fault: someone must act (a calendar year to add).
            logger.error("%s", exc)
        return error_response(exc.code, exc.message, exc.status, exc.fields)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):
        fields = field_messages(exc.detail)
        if fields is None:
            message = "; ".join(str(m) for m in _messages(exc.detail))
            return error_response("invalid", message, status.HTTP_400_BAD_REQUEST)
        summary = "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items())
        return error_response("invalid", _("Invalid input: %(s)s") % {"s": summary}, 400, fields)
    if isinstance(exc, exceptions.APIException):
        headers = {}
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait) + 1)
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        code = _CODES.get(type(exc)) or getattr(exc, "default_code", "error")
        message = (
            exc.detail
            if isinstance(exc.detail, str)
            else "; ".join(str(m) for m in _messages(exc.detail))
        )
        return error_response(code, message, exc.status_code, headers=headers or None)
    return None


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing over-deep nesting with a 400 (the standard
    library raises RecursionError, which DRF does not catch)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(_("The JSON is nested too deeply.")) from None


# --- Forms whose text does not decode ---------------------------------------------
# Django decodes form fields with errors="replace": bytes that are not valid in
# the form's charset (UTF-8 unless the Content-Type names another) would be
# stored as U+FFFD. These parsers refuse such a form with a 400 instead, as
# the JSON parser refuses JSON that is not UTF-8.

REPLACEMENT = "\ufffd"


def _undecodable_form(encoding: str) -> exceptions.ParseError:
    return exceptions.ParseError(
        _("The form contains bytes that are not valid %(encoding)s text.") % {"encoding": encoding}
    )


class FormParser(parsers.FormParser):
    """An ``application/x-www-form-urlencoded`` form, every name and value of
    which must decode (after percent-decoding) in the form's charset."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        body = stream.read() if stream is not None else b""
        for pair in body.split(b"&"):
            for part in pair.split(b"=", 1):
                try:
                    unquote_to_bytes(part.replace(b"+", b" ")).decode(encoding)
                except UnicodeDecodeError:
                    raise _undecodable_form(encoding) from None
        return super().parse(io.BytesIO(body), media_type, parser_context)


class MultiPartParser(parsers.MultiPartParser):
    """A ``multipart/form-data`` form whose text fields must decode in the
    form's charset. Django has decoded them (with U+FFFD for what did not)
    before this parser sees them, so a field holding U+FFFD is refused: text
    carrying the replacement character is corrupted either way."""

    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)
        for name, values in parsed.data.lists():
            if any(REPLACEMENT in text for text in (name, *values)):
                raise _undecodable_form(parsers.get_encoding(parser_context or {}))
        return parsed
