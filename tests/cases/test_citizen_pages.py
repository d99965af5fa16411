"""The citizen's pages (cases/citizen.py): /report/ files a tip through the
tips API's serializer and service, under the same rate limits and
idempotency; /report/sent/<token>/ gives the tracking link and QR code;
/track/<token>/ shows the public view of the tip and takes the rating."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from rest_framework.test import APIClient

from cases import services
from cases.models import Case, CaseAttachment, CategoryAttribute, Source, Status
from tests.api.helpers import random_ip
from tests.api.images import GPS_IN_G1, GPS_OUTSIDE, phone_photo, plain_jpeg
from tests.cases.conftest import IN_G1, case_in
from tests.cases.untranslated import english_words

pytestmark = pytest.mark.django_db

REPORT = "/report/"
SECRET = "SECRET-internal-note-5c1d"


def form(**fields):
    data = {
        "category": "BJ0101",
        "description": "小区门口井盖缺失",
        "lng": str(IN_G1[0]),
        "lat": str(IN_G1[1]),
        "name": "王小明",
        "phone": "13912345678",
        "email": "",
        "address": "",
        "client_uuid": "form-key-" + random_ip(),
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def not_a_photo():
    return SimpleUploadedFile("photo.jpg", b"%PDF-1.4 not an image", content_type="image/jpeg")


def post(data, client=None, **headers):
    return (client or Client()).post(REPORT, data, REMOTE_ADDR=random_ip(), **headers)


def field_error(response, field: str) -> str:
    """The text shown next to ``field`` on the form page."""
    html = response.content.decode()
    match = re.search(rf'data-error-for="{field}">([^<]*)<', html)
    assert match, f"no error place for {field}"
    return match.group(1).strip()


# --- The form -----------------------------------------------------------------------


def test_the_form_lists_citizen_categories_and_the_city_outline(world):
    response = Client().get(REPORT, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="BJ0101"' in html
    assert 'capture="environment"' in html and 'accept="image/*"' in html
    assert '<script id="city-outline" type="application/json">' in html
    assert world.city.city.code in html
    # No inline script: only the outline's JSON, which is not run.
    scripts = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert scripts == ['<script id="city-outline" type="application/json">']


def test_a_category_citizens_may_not_choose_is_not_offered(world):
    world.category.citizen_visible = False
    world.category.save()
    html = Client().get(REPORT).content.decode()
    assert 'value="BJ0101"' not in html
    response = post(form())
    assert "category" in field_error(response, "category").lower() or field_error(
        response, "category"
    )
    assert not Case.objects.exists()


def test_a_plain_form_post_files_a_tip_and_shows_the_receipt(world):
    response = post(form(photos=[plain_jpeg(), plain_jpeg(name="b.jpg")]))
    assert response.status_code == 302
    [case] = Case.objects.all()
    assert response["Location"] == f"/report/sent/{case.tracking_token}/"
    assert case.source == Source.CITIZEN and case.reporter is None
    assert case.reporter_name == "王小明" and case.reporter_phone == "13912345678"
    assert case.category.code == "BJ0101"
    assert CaseAttachment.objects.filter(case=case).count() == 2

    receipt = Client().get(response["Location"], HTTP_ACCEPT_LANGUAGE="en")
    assert receipt.status_code == 200
    html = receipt.content.decode()
    link = f"http://testserver/track/{case.tracking_token}/"
    assert f'href="{link}"' in html
    assert case.number in html
    assert "<svg" in html and 'class="c-qr"' in html


def test_fields_left_empty_are_not_given(world):
    # As a browser posts a form with no category, no point and no file chosen.
    response = post(form(category="", photos="", lng="", lat=""))
    assert field_error(response, "location") and not field_error(response, "photos")
    assert post(form(category="", photos="")).status_code == 302


def test_not_sure_of_the_category_and_no_point_but_a_photo_with_gps(world):
    response = post(form(category="", lng="", lat="", photos=[phone_photo("JPEG")]))
    assert response.status_code == 302
    [case] = Case.objects.all()
    assert case.category is None
    assert case.location.x == pytest.approx(GPS_IN_G1[0], abs=1e-4)


@pytest.mark.parametrize(
    ("fields", "place", "words"),
    [
        ({"lng": "", "lat": ""}, "location", "use your location, tap the map"),
        ({"lng": str(GPS_OUTSIDE[0]), "lat": str(GPS_OUTSIDE[1])}, "location", "outside the city"),
        ({"lng": "119.91", "lat": ""}, "location", "both"),
        ({"description": ""}, "description", "blank"),
        ({"category": "XX9999"}, "category", ""),
        ({"phone": "call me"}, "phone", "phone number"),
        ({"photos": [plain_jpeg(), not_a_photo()]}, "photos", ""),
    ],
)
def test_bad_input_is_shown_next_to_its_field_and_stores_nothing(world, fields, place, words):
    response = post(form(**fields))
    assert response.status_code == 400
    message = field_error(response, place)
    assert message and words in message.lower()
    assert 'class="c-error-summary"' in response.content.decode()
    assert not Case.objects.exists() and not CaseAttachment.objects.exists()


@override_settings(CASES_PHOTO_MAX_BYTES=2000)
def test_a_photo_too_large_is_refused_next_to_the_photos(world):
    response = post(form(photos=[phone_photo("JPEG", size=(400, 300))]))
    assert response.status_code in (400, 413)
    assert "large" in field_error(response, "photos").lower()
    assert not Case.objects.exists()


def test_a_required_question_of_the_chosen_category(world):
    CategoryAttribute.objects.create(
        category=world.category, code="depth", description="多深?", description_en="How deep?",
        datatype="string", required=True,
    )  # fmt: skip
    page = Client().get(REPORT, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'name="attributes.BJ0101.depth"' in page and "How deep?" in page

    response = post(form())
    assert response.status_code == 400
    assert "depth" in field_error(response, "attributes")
    assert not Case.objects.exists()

    # An answer to another category's question is not sent with this one.
    response = post(form(**{"attributes.BJ0101.depth": "半米", "attributes.BJ0102.x": "1"}))
    assert response.status_code == 302
    assert Case.objects.get().attributes == {"depth": "半米"}


def test_the_values_typed_stay_in_the_form_after_an_error(world):
    response = post(form(lng="", lat="", description="路灯不亮", address="青洋路 1 号"))
    html = response.content.decode()
    assert "路灯不亮</textarea>" in html and 'value="青洋路 1 号"' in html


# --- Idempotency and the page's script ------------------------------------------------


def test_the_same_form_sent_twice_files_one_tip(world):
    data = form(client_uuid="double-click-1")
    first = post(data)
    second = post(data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Case.objects.count() == 1


def test_a_form_sent_again_with_other_content_says_it_was_sent(world):
    # Back to the sent form, something changed, sent again: nothing new is filed.
    assert post(form(client_uuid="back-button-1")).status_code == 302
    response = post(form(client_uuid="back-button-1", description="另一个问题"),
                    HTTP_ACCEPT_LANGUAGE="en")  # fmt: skip
    assert response.status_code == 422
    assert "already sent" in field_error(response, "form")
    assert Case.objects.count() == 1


def test_the_script_gets_json_and_its_idempotency_key_is_honoured(world):
    data = form(client_uuid="script-key-1")
    headers = {"HTTP_ACCEPT": "application/json", "HTTP_IDEMPOTENCY_KEY": "script-key-1"}
    first = post(data, **headers)
    assert first.status_code == 201
    again = post(data, **headers)
    assert again.status_code == 200
    case = Case.objects.get()
    assert first.json() == again.json() == {"next": f"/report/sent/{case.tracking_token}/"}

    other = post(form(client_uuid="script-key-2"), HTTP_ACCEPT="application/json",
                 HTTP_IDEMPOTENCY_KEY="another")  # fmt: skip
    assert other.status_code == 400
    assert other.json()["error"]["fields"] == {"form": [other.json()["error"]["message"]]}


def test_the_script_gets_the_errors_by_form_field(world):
    response = post(form(lng=str(GPS_OUTSIDE[0]), lat=str(GPS_OUTSIDE[1]), description=""),
                    HTTP_ACCEPT="application/json")  # fmt: skip
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "invalid"
    assert set(body["fields"]) == {"description"}  # the serializer's check comes first
    response = post(form(lng=str(GPS_OUTSIDE[0]), lat=str(GPS_OUTSIDE[1])),
                    HTTP_ACCEPT="application/json")  # fmt: skip
    assert list(response.json()["error"]["fields"]) == ["location"]
    assert not Case.objects.exists()


# --- Rate limits, shared with the tips API --------------------------------------------


@override_settings(RATE_LIMITS={"anonymous_ip": "2/min", "token": None})
def test_the_form_is_rate_limited_with_the_api_per_address(world):
    ip = random_ip()
    assert Client().post(REPORT, form(), REMOTE_ADDR=ip).status_code == 302
    api = APIClient().post(
        "/api/v1/tips/",
        {"description": "路灯不亮", "lng": IN_G1[0], "lat": IN_G1[1]},
        format="json",
        REMOTE_ADDR=ip,
    )
    assert api.status_code == 201
    refused = Client().post(REPORT, form(), REMOTE_ADDR=ip)
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 61
    assert Case.objects.count() == 2
    # Another address is not held back.
    assert Client().post(REPORT, form(), REMOTE_ADDR=random_ip()).status_code == 302
    # Reading the form costs nothing.
    assert Client().get(REPORT, REMOTE_ADDR=ip).status_code == 200


@override_settings(RATE_LIMITS={"anonymous_ip": None, "token": "2/min"})
def test_the_tracking_page_is_rate_limited_per_token(world):
    post(form())
    token = Case.objects.get().tracking_token
    for _ in range(2):
        assert Client().get(f"/track/{token}/", REMOTE_ADDR=random_ip()).status_code == 200
    refused = Client().get(f"/track/{token}/", REMOTE_ADDR=random_ip())
    assert refused.status_code == 429 and refused["Retry-After"].isdigit()


# --- Tracking ------------------------------------------------------------------------


def test_the_tracking_page_shows_the_public_view_only(world):
    world.dispatcher.display_name = "Staff Dispatcher Person"
    world.dispatcher.save()
    post(form(photos=[plain_jpeg()]))
    case = Case.objects.get()
    services.case_register(case=case.pk, actor=world.dispatcher, note=SECRET)
    services.case_comment(case=case.pk, actor=world.dispatcher, text=SECRET)
    services.case_dispatch(case=case.pk, actor=world.dispatcher, note=SECRET)

    response = Client().get(f"/track/{case.tracking_token}/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Sent to the department responsible" in html
    assert "Registered by the command centre" in html
    assert world.cgj.name in html
    assert 'id="expected-at"' in html
    assert "/api/v1/photos/" in html and "?link=" in html
    for private in (SECRET, "Staff Dispatcher Person", "13912345678", "王小明", "dispatcher"):
        assert private not in html
    assert 'id="rating-form"' not in html


def test_the_tracking_page_in_chinese(world):
    post(form())
    case = Case.objects.get()
    html = Client().get(f"/track/{case.tracking_token}/", HTTP_ACCEPT_LANGUAGE="zh-Hans")
    html = html.content.decode()
    assert '<html lang="zh-hans">' in html
    assert "Report received" not in html


@pytest.mark.parametrize("token", ["x" * 24, "short", "a" * 60])
def test_an_unknown_token_gets_a_friendly_page(world, token):
    for url in (f"/track/{token}/", f"/report/sent/{token}/"):
        response = Client().get(url, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 404
        assert "We cannot find this report" in response.content.decode()


def closed_tip_of_a_signed_in_citizen(world):
    """A closed tip, its tracking page, and a browser signed in as its reporter."""
    citizen = world.users["citizen"]
    case = case_in(world, Status.CLOSED, reporter=citizen, source=Source.CITIZEN)
    client = Client()
    client.force_login(citizen)
    return case, f"/track/{case.tracking_token}/", client


def test_the_reporter_rates_a_closed_tip_on_its_page(world):
    case, page, client = closed_tip_of_a_signed_in_citizen(world)
    assert 'id="rating-form"' in client.get(page).content.decode()

    response = client.post(page, {"satisfaction": "basically_satisfied", "comment": "还行"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.satisfaction == "basically_satisfied"
    html = client.get(page, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="rating-form"' not in html and "Basically satisfied" in html


def test_a_rating_refused_by_the_workflow_is_shown_and_not_stored(world):
    case, page, client = closed_tip_of_a_signed_in_citizen(world)
    response = client.post(page, {"satisfaction": "delighted"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert "Rate the outcome as one of" in field_error(response, "satisfaction")
    # Someone else holding the link may not rate it (as the workflow stands).
    response = Client().post(page, {"satisfaction": "satisfied"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 403
    assert (
        field_error(response, "satisfaction") == "Only the person who sent this report can rate it."
    )
    case.refresh_from_db()
    assert case.satisfaction == ""


# --- Chinese, and nothing left in English ---------------------------------------------


def test_each_page_in_chinese_has_no_english_left(world):
    CategoryAttribute.objects.create(
        category=world.category, code="depth", description="多深?", description_en="How deep?",
        datatype="singlevaluelist", required=True, values=[{"key": "deep", "name": "很深"}],
    )  # fmt: skip
    zh = {"HTTP_ACCEPT_LANGUAGE": "zh-Hans"}
    pages = {"form": Client().get(REPORT, **zh)}
    pages["errors"] = post(form(lng="", lat="", description="", phone="x"), **zh)
    post(form(photos=[plain_jpeg()], **{"attributes.BJ0101.depth": "deep"}))
    token = Case.objects.get().tracking_token
    pages["sent"] = Client().get(f"/report/sent/{token}/", **zh)
    pages["track"] = Client().get(f"/track/{token}/", **zh)
    pages["unknown"] = Client().get(f"/track/{'x' * 24}/", **zh)
    citizen = world.users["citizen"]
    closed = case_in(
        world, Status.CLOSED, reporter=citizen, source=Source.CITIZEN, attributes={"depth": "deep"}
    )
    pages["closed"] = Client().get(f"/track/{closed.tracking_token}/", **zh)
    pages["refused rating"] = Client().post(
        f"/track/{closed.tracking_token}/", {"satisfaction": "satisfied"}, **zh
    )
    for name, response in pages.items():
        html = response.content.decode()
        assert '<html lang="zh-hans">' in html, name
        assert english_words(html) == [], name


def test_the_check_finds_english_when_a_page_is_in_english(world):
    # The same check on the English page: it must find the page's words.
    html = Client().get(REPORT, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    words = english_words(html)
    assert {"Report", "Describe", "problem", "tapped"} <= set(words)
