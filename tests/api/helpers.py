"""API test helpers shared by the photo, tip, idempotency and rate-limit tests."""

from __future__ import annotations

import random
from urllib.parse import quote_from_bytes

from rest_framework.test import APIClient

from cases.models import Case, CaseAttachment, CaseEvent
from tests.api.images import media_files


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def error(response, status, code):
    """The project's one error format: {"error": {"code", "message", "fields"?}}."""
    assert response.status_code == status, response.content
    body = response.json()["error"]
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return body


def random_ip() -> str:
    """A client address of its own: rate-limit counters live in the shared Redis
    and outlive a test, so every test counts from zero at its own address."""
    return f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


class Stored:
    """What exists now (cases, events, photos, files), to check that a refused
    request stored nothing at all."""

    def __init__(self):
        self.cases = Case.objects.count()
        self.events = CaseEvent.objects.count()
        self.attachments = CaseAttachment.objects.count()
        self.files = media_files()

    def new_files(self) -> set[str]:
        return media_files() - self.files

    def assert_unchanged(self):
        assert Case.objects.count() == self.cases
        assert CaseEvent.objects.count() == self.events
        assert CaseAttachment.objects.count() == self.attachments
        assert self.new_files() == set()


# --- Form bodies byte for byte (what a client with a broken encoder sends) -------------

BOUNDARY = "formboundary7MA4YWxk"


def raw_form(fields: dict) -> bytes:
    """An urlencoded body; ``bytes`` values are percent-encoded as they are,
    valid UTF-8 or not."""
    pairs = (f"{name}={quote_from_bytes(_bytes(value))}" for name, value in fields.items())
    return "&".join(pairs).encode()


def raw_multipart(fields: dict) -> tuple[bytes, str]:
    """A multipart body of text fields, ``bytes`` values written as they are,
    and its content type."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + _bytes(value)
        + b"\r\n"
        for name, value in fields.items()
    ]
    return b"".join(
        parts
    ) + f"--{BOUNDARY}--\r\n".encode(), f"multipart/form-data; boundary={BOUNDARY}"


def _bytes(value) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


# Not UTF-8: a lone continuation byte, then 井 cut short.
NOT_UTF8 = b"\x80\xe4\xba"
