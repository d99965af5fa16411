"""Input meant to break things: impossible camera dates, damaged HEIC, deep
JSON, characters PostgreSQL cannot store, form fields sent as files, dates at
the ends of the calendar. Each is refused with a 4xx or stored harmlessly;
none is a 500, and what was stored stays readable."""

import io
import json

import pillow_heif
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from cases.models import Case, CaseAttachment
from tests.api.helpers import client_for, error
from tests.api.images import camera_exif, upload
from tests.cases.conftest import IN_G1, report
from tests.open311.conftest import api_client, questions  # noqa: F401

pytestmark = pytest.mark.django_db
pillow_heif.register_heif_opener()

TIP = {"category": "BJ0101", "description": "井盖缺失", "lng": IN_G1[0], "lat": IN_G1[1]}


def jpeg_with(**exif) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (90, 90, 90)).save(buffer, "JPEG", exif=camera_exif(**exif))
    return upload(buffer.getvalue())


@pytest.mark.parametrize(
    ("taken", "offset"),
    [
        ("0001:01:01 00:00:00", None),
        ("9999:12:31 23:00:00", "-12:00"),
        ("2090:01:01 00:00:00", None),
    ],
)
def test_an_impossible_camera_date_is_no_hint_and_the_tip_stays_readable(world, taken, offset):
    response = APIClient().post(
        "/api/v1/tips/", {**TIP, "photos": [jpeg_with(taken=taken, offset=offset)]},
        format="multipart",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    assert CaseAttachment.objects.get().taken_at is None
    status = APIClient().get(response.json()["status_url"])
    assert status.status_code == 200 and len(status.json()["photos"]) == 1


@pytest.mark.parametrize("position", [95, 257])
def test_a_damaged_heic_is_refused(world, position):
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 30)).save(buffer, format="HEIF")
    data = bytearray(buffer.getvalue())
    data[position] = 0
    response = APIClient().post(
        "/api/v1/tips/", {**TIP, "photos": [upload(bytes(data), "a.heic", "image/heic")]},
        format="multipart",
    )  # fmt: skip
    error(response, 400, "photo_invalid")
    assert not Case.objects.exists()


def test_json_nested_too_deeply_is_malformed(world):
    body = "[" * 100_000 + "]" * 100_000
    response = APIClient().post("/api/v1/tips/", body, content_type="application/json")
    error(response, 400, "malformed")


@pytest.mark.parametrize(
    "attributes",
    [{"hurt\x00": "yes"}, {"hurt": "y\x00es"}, {"\udfff": "yes"}, {"hurt": ["\ud800"]}],
)
def test_unstorable_characters_in_answers_are_refused(world, questions, attributes):  # noqa: F811
    raw = json.dumps({**TIP, "attributes": attributes})  # ASCII escapes carry the surrogates
    response = APIClient().post("/api/v1/tips/", raw, content_type="application/json")
    body = error(response, 400, "invalid")
    assert "attribute" in body["fields"]
    assert not Case.objects.exists()


def test_a_nul_in_a_tracking_token_is_not_found(world):
    assert APIClient().get("/api/v1/tips/%00" * 20 + "/").status_code == 404


def test_multipart_answers_reach_the_questions(world, questions):  # noqa: F811
    response = APIClient().post(
        "/api/v1/tips/",
        {**TIP, "attributes.hurt": "yes", "attributes.size": ["s", "l"]},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert Case.objects.get().attributes == {"hurt": "yes", "size": ["s", "l"]}


def test_camera_position_and_time_are_for_staff_only(world):
    case = report(world, photos=[jpeg_with()])
    case.reporter = world.citizen  # a citizen's own report, seen by a citizen account
    case.save(update_fields=["reporter"])

    staff = client_for(world.dispatcher).get(f"/api/v1/cases/{case.pk}/").json()
    citizen = client_for(world.citizen).get(f"/api/v1/cases/{case.pk}/").json()

    assert staff["photos"][0]["taken_at"] and staff["photos"][0]["taken_location"]
    # The citizen gets the public view, whose photos never carry them.
    assert citizen["photos"] and "public_status" in citizen
    assert "taken_at" not in citizen["photos"][0]
    assert "taken_location" not in citizen["photos"][0]


# --- Open311 -------------------------------------------------------------------------


def test_open311_refuses_unstorable_characters(world, api_client):  # noqa: F811
    client = APIClient()
    for url in [
        "/open311/v2/requests.json?service_code=%00",
        "/open311/v2/requests.xml?status=%00",
    ]:
        response = client.get(url)
        assert response.status_code == 400, (url, response.content)
    response = client.post(
        "/open311/v2/requests.json",
        {"api_key": api_client.api_key, "service_code": "BJ0101", "lat": IN_G1[1],
         "long": IN_G1[0], "description": "坏\x00了"},
    )  # fmt: skip
    assert response.status_code == 400
    assert not Case.objects.exists()


def test_open311_form_fields_sent_as_files_are_missing_not_500(world, api_client):  # noqa: F811
    response = APIClient().post(
        "/open311/v2/requests.json",
        {"api_key": api_client.api_key, "service_code": "BJ0101", "lat": IN_G1[1],
         "long": IN_G1[0], "description": SimpleUploadedFile("d.txt", b"text")},
        format="multipart",
    )  # fmt: skip
    assert response.status_code == 400, response.content
    assert "description" in response.content.decode()
    assert not Case.objects.exists()


@pytest.mark.parametrize(
    "query", ["start_date=9999-12-31", "end_date=9999-12-31", "end_date=0001-01-01"]
)
def test_open311_dates_at_the_ends_of_the_calendar_are_400(world, query):
    response = APIClient().get(f"/open311/v2/requests.json?{query}")
    assert response.status_code == 400, response.content


@pytest.mark.parametrize("fmt", ["json", "multipart"])
def test_codes_the_database_cannot_hold_name_nothing(world, fmt):
    from tests.cases.conftest import case_in

    case = case_in(world, "dispatched")
    dispatcher = client_for(world.dispatcher)

    def send(client, url, data):
        if fmt == "json":  # ASCII escapes carry the surrogates
            return client.post(url, json.dumps(data), content_type="application/json")
        return client.post(url, data, format="multipart")

    # (a multipart body is bytes: lone surrogates cannot be sent in one)
    for value in ["@\x00@", "\udfff"] if fmt == "json" else ["@\x00@"]:
        response = send(
            dispatcher, f"/api/v1/cases/{case.pk}/add-cohandler/", {"department": value}
        )
        assert "department" in error(response, 400, "invalid")["fields"]
        tip = send(APIClient(), "/api/v1/tips/", {**TIP, "category": value})
        assert "category" in error(tip, 400, "invalid")["fields"]
    assert Case.objects.count() == 1
