"""Refusals from the machinery around the views (rate limits, surprises) are
Open311 error arrays too, and the rate limit sees the api_key."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.throttling import BaseThrottle

from cases.models import Case
from cases.open311 import views

from .conftest import errors

pytestmark = pytest.mark.django_db


class Refuse(BaseThrottle):
    seen: list = []

    def allow_request(self, request, view):
        Refuse.seen.append(view.rate_limit_token(request))
        return False

    def wait(self):
        return 41.5


@pytest.fixture
def refused(monkeypatch):
    Refuse.seen = []
    monkeypatch.setattr(views.Open311View, "throttle_classes", [Refuse])
    return Refuse


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_rate_limited_request_is_429_with_retry_after(world, api_client, refused, fmt):
    client = Client()
    response = client.post(
        f"/open311/v2/requests.{fmt}", {"api_key": api_client.api_key, "service_code": "BJ0101"}
    )
    assert errors(response, 429)
    assert response["Retry-After"] == "42"
    assert refused.seen == [api_client.api_key]
    response = client.get("/open311/v2/tokens/abc.json")
    assert errors(response, 429) and refused.seen[-1] == "abc"
    client.get("/open311/v2/services.xml")
    assert refused.seen[-1] is None  # only POSTs and tokens carry a token
    assert not Case.objects.exists()


def test_the_key_is_read_for_the_limit_without_hiding_a_broken_form(world, api_client, refused):
    refused.allow_request = lambda self, request, view: (
        self.seen.append(view.rate_limit_token(request)) or True
    )
    response = Client().generic(
        "POST",
        f"/open311/v2/requests.json?api_key={api_client.api_key}",
        b'--xx\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n',
        content_type="multipart/form-data; boundary=",
    )
    assert errors(response, 400)
    assert refused.seen == [api_client.api_key]


def test_an_unexpected_failure_is_a_500_error_array_not_a_page(world, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(views.selectors, "services", boom)
    (description,) = errors(Client().get("/open311/v2/services.json"), 500)
    assert "bug" not in description
