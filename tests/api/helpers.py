"""API test helpers shared by the photo, tip, idempotency and rate-limit tests."""

from __future__ import annotations

import random

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
