"""Bad requests to the reporting endpoints are refused with a 4xx in the one
error format that names what was wrong, and nothing is stored."""

import json

import pytest
from rest_framework.test import APIClient

from cases.models import Case, CaseAttachment, CaseEvent
from tests.cases.conftest import IN_G1

pytestmark = pytest.mark.django_db

GOOD = {"category": "BJ0101", "description": "井盖缺失", "lng": IN_G1[0], "lat": IN_G1[1]}


def _client(world, url):
    client = APIClient()
    if url == "/api/v1/cases/":
        client.force_authenticate(world.grid_worker)
    return client


def _refused(response, status, code, field=None):
    assert response.status_code == status, response.content
    body = response.json()["error"]
    assert body["code"] == code, body
    assert body["message"]
    if field is not None:
        assert field in body["fields"], body
    assert not Case.objects.exists()
    assert not CaseEvent.objects.exists()
    assert not CaseAttachment.objects.exists()
    return body


ENDPOINTS = pytest.mark.parametrize("url", ["/api/v1/cases/", "/api/v1/tips/"])


@ENDPOINTS
@pytest.mark.parametrize(
    ("content_type", "body"),
    [("text/plain", "井盖缺失"), ("application/xml", "<case/>"), ("image/jpeg", "\xff\xd8")],
)
def test_an_unaccepted_content_type_is_415(world, url, content_type, body):
    response = _client(world, url).post(url, body, content_type=content_type)
    body = _refused(response, 415, "unsupported_media_type")
    assert content_type in body["message"]


@ENDPOINTS
@pytest.mark.parametrize("raw", ["{", '{"description": }', "[1, 2", b'{"description": "\xff\xfe"}'])
def test_malformed_json_is_400(world, url, raw):
    response = _client(world, url).post(url, raw, content_type="application/json")
    _refused(response, 400, "malformed")


@ENDPOINTS
@pytest.mark.parametrize("raw", ["[]", '"text"', "42", "null"])
def test_json_that_is_not_an_object_is_400(world, url, raw):
    response = _client(world, url).post(url, raw, content_type="application/json")
    assert response.status_code == 400, response.content
    assert not Case.objects.exists()


@ENDPOINTS
@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"description": None}, "description", "invalid"),
        ({"description": "   "}, "description", "invalid"),
        ({"description": "x" * 4001}, "description", "invalid"),
        ({"description": "a\x00b"}, "description", "invalid"),
        ({"description": ["list"]}, "description", "invalid"),
        ({"lng": "east"}, "lng", "invalid"),
        ({"lng": "NaN"}, "lng", "invalid"),
        ({"lat": "Infinity"}, "lat", "invalid"),
        ({"lat": 91}, "lat", "invalid"),
        ({"lng": -181}, "lng", "invalid"),
        ({"lng": None, "lat": None}, "location", "location_required"),
        ({"lat": None}, "lat", "invalid"),
        ({"lng": 116.39, "lat": 39.9}, "location", "outside_jurisdiction"),
        ({"category": "ZZ9999"}, "category", "invalid"),
        ({"category": 12}, "category", "invalid"),
        ({"crs": "bd09"}, "crs", "invalid"),
        ({"photos": "not a list"}, "photos", "invalid"),
        ({"client_uuid": "k" * 101}, "client_uuid", "invalid"),
    ],
)
def test_each_bad_field_is_named(world, url, change, field, code):
    data = {**GOOD, **change}
    data = {k: v for k, v in data.items() if v is not None or k == "description"}
    response = _client(world, url).post(url, json.dumps(data), content_type="application/json")
    _refused(response, 400, code, field)


def test_a_tip_names_bad_contact_details(world):
    client = APIClient()
    for field, value in [("phone", "call me"), ("email", "a@"), ("name", "n" * 101)]:
        response = client.post("/api/v1/tips/", {**GOOD, field: value}, format="json")
        _refused(response, 400, "invalid", field)


def test_a_tip_cannot_use_a_category_citizens_may_not_choose(world):
    world.category.citizen_visible = False
    world.category.save()
    response = APIClient().post("/api/v1/tips/", GOOD, format="json")
    _refused(response, 400, "invalid", "category")


def test_unknown_api_addresses_answer_in_the_error_format(world):
    client = APIClient()
    client.force_authenticate(world.dispatcher)
    for path in ["/api/v1/nothing/", "/api/v1/cases/abc/", "/api/v1/cases/1/fly/"]:
        response = client.get(path)
        assert response.status_code == 404
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["error"]["code"] == "not_found"


def test_a_wrong_method_is_405_in_the_error_format(world):
    client = APIClient()
    client.force_authenticate(world.dispatcher)
    response = client.delete("/api/v1/cases/")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
