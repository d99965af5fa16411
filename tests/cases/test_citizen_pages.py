"""The citizen's pages (cases/citizen.py): /report/ files a tip through the
tips API's serializer and service, under the same rate limits and
idempotency; /report/sent/<token>/ gives the tracking link and QR code;
/track/<token>/ shows the public view of the tip and takes the rating."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from cases import services
from cases.models import (
    Case,
    CaseAttachment,
    Category,
    CategoryAttribute,
    PendingRequest,
    Source,
    Status,
)
from tests.api.helpers import random_ip
from tests.api.images import GPS_IN_G1, GPS_OUTSIDE, phone_photo, plain_jpeg
from tests.cases.conftest import IN_G1, case_in, report
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


def category_codes(html: str) -> list[str]:
    return re.findall(r'name="category" value="([^"]*)"', html)


def test_the_categories_citizens_report_most_come_first_and_the_rest_behind_a_link(world):
    a, b, c, older, staff = (
        Category.objects.for_citizens().exclude(attributes__required=True).order_by("code")[:5]
    )
    for category, n, source in ((b, 2, Source.CITIZEN), (a, 1, Source.CITIZEN),
                                (c, 2, Source.CITIZEN), (older, 3, Source.CITIZEN),
                                (staff, 3, Source.GRID_WORKER)):  # fmt: skip
        for _ in range(n):
            reporter = None if source == Source.CITIZEN else world.grid_worker
            report(world, reporter=reporter, source=source, category=category)
    Case.objects.filter(category=older).update(created_at=timezone.now() - timedelta(days=91))

    html = Client().get(REPORT, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    short, others = html.split('id="other-categories"')
    # most reported first, ties by code; then "not sure"; the rest behind "other categories"
    assert category_codes(short) == [b.code, c.code, a.code, ""]
    assert '<details class="c-more" id="other-categories">' in html  # closed
    assert {older.code, staff.code} <= set(category_codes(others))
    assert len(category_codes(html)) == Category.objects.for_citizens().count() + 1
    assert 'value="" checked' in short


def test_a_category_chosen_from_the_others_keeps_them_open_after_an_error(world):
    a, rest = (
        Category.objects.for_citizens().exclude(attributes__required=True).order_by("code")[:2]
    )
    report(world, reporter=None, source=Source.CITIZEN, category=a)
    response = post(form(category=rest.code, description=""), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    html = response.content.decode()
    assert '<details class="c-more" id="other-categories" open>' in html
    assert f'value="{rest.code}" checked' in html


def test_without_citizens_reports_every_category_is_shown_open(world):
    html = Client().get(REPORT, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<details class="c-more" id="other-categories" open>' in html
    assert "All categories" in html and category_codes(html)[0] == ""


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
    assert "Answer this question: How deep?" in field_error(response, "attributes")
    assert not Case.objects.exists()

    # An answer to another category's question is not sent with this one.
    response = post(form(**{"attributes.BJ0101.depth": "半米", "attributes.BJ0102.x": "1"}))
    assert response.status_code == 302
    assert Case.objects.get().attributes == {"depth": "半米"}


@pytest.mark.parametrize(
    ("fields", "place", "words"),
    [
        ({"lng": "", "lat": ""}, "location", "use your location, tap the map"),
        ({"lng": str(GPS_OUTSIDE[0]), "lat": str(GPS_OUTSIDE[1])}, "location", "outside the city"),
        ({"photos": [plain_jpeg(), not_a_photo()]}, "photos", "photo"),
    ],
)
def test_the_services_refusals_come_with_the_forms_in_one_round(world, fields, place, words):
    # The description is refused by the form's serializer, the rest by the
    # service: both are said at once.
    response = post(form(description="", phone="call me", **fields), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert "blank" in field_error(response, "description").lower()
    assert "phone number" in field_error(response, "phone").lower()
    assert words in field_error(response, place).lower()
    assert not Case.objects.exists() and not CaseAttachment.objects.exists()


def test_a_required_answer_is_asked_with_the_forms_refusals(world):
    CategoryAttribute.objects.create(
        category=world.category, code="depth", description="多深?", description_en="How deep?",
        datatype="string", required=True,
    )  # fmt: skip
    response = post(form(description="", lng="", lat=""), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert "Answer this question: How deep?" in field_error(response, "attributes")
    assert "use your location" in field_error(response, "location").lower()
    assert field_error(response, "description")


def test_the_script_gets_every_refusal_at_once(world):
    response = post(form(description="", lng="", lat=""), HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"description", "location"}


def test_a_point_the_form_refused_is_not_judged_again(world):
    # lng without lat: one message on the map, not a second "where is it?".
    response = post(form(description="", lat=""), HTTP_ACCEPT_LANGUAGE="en")
    assert field_error(response, "location").lower().count("both") == 1
    assert "use your location" not in field_error(response, "location").lower()


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
    # the serializer's refusal and the service's, together
    assert set(body["fields"]) == {"description", "location"}
    assert "outside the city" in body["fields"]["location"][0]
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


def closed_tip(world):
    """A closed citizen's tip and its tracking page."""
    case = case_in(world, Status.CLOSED, source=Source.CITIZEN)
    return case, f"/track/{case.tracking_token}/"


def rated(case, page: str, **fields) -> str:
    """Rate on the page without an account; the page after, in English."""
    response = Client().post(page, fields)
    assert response.status_code == 302, response.content
    case.refresh_from_db()
    return Client().get(page, HTTP_ACCEPT_LANGUAGE="en").content.decode()


def refused(case, page: str, status: int, **fields):
    """A rating the page refuses with ``status``: nothing is stored."""
    response = Client().post(page, fields, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == status, response.content
    case.refresh_from_db()
    assert case.satisfaction == ""
    return response


def test_whoever_holds_the_link_rates_a_closed_tip_without_an_account(world):
    case, page = closed_tip(world)
    assert 'id="rating-form"' in Client().get(page).content.decode()

    html = rated(case, page, satisfaction="basically_satisfied", comment="还行")
    assert case.satisfaction == "basically_satisfied"
    assert case.pending_request != PendingRequest.REOPEN
    assert 'id="rating-form"' not in html and "Basically satisfied" in html
    assert 'id="reopen-requested"' not in html


def test_not_satisfied_needs_a_reason_and_asks_the_command_centre_to_reopen(world):
    case, page = closed_tip(world)
    response = refused(case, page, 400, satisfaction="unsatisfied")
    assert "a reason is needed when you are not satisfied" in field_error(response, "comment")
    assert 'value="unsatisfied" checked' in response.content.decode()

    html = rated(case, page, satisfaction="unsatisfied", comment="井盖还是松的")
    assert case.satisfaction == "unsatisfied" and case.pending_request == PendingRequest.REOPEN
    assert "The command centre has been asked to reopen your report." in html
    assert 'id="rating-form"' not in html


def test_a_rating_refused_by_the_workflow_is_shown_and_not_stored(world):
    case, page = closed_tip(world)
    response = refused(case, page, 400, satisfaction="delighted")
    assert "Rate the outcome as one of" in field_error(response, "satisfaction")


def test_after_the_rating_window_the_form_is_gone_with_the_reason(world, settings):
    case, page = closed_tip(world)
    Case.objects.filter(pk=case.pk).update(
        closed_at=timezone.now() - timedelta(days=settings.CASES_REOPEN_DAYS, hours=1)
    )
    html = Client().get(page, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="rating-form"' not in html
    assert (
        f"can no longer be rated: a report is rated within {settings.CASES_REOPEN_DAYS} days"
        in html
    )
    # A form kept open from before is refused, said at the top of the form.
    response = refused(case, page, 409, satisfaction="satisfied")
    assert "time allowed for rating" in field_error(response, "rating")


def test_a_tip_still_open_has_no_rating_form_and_no_sentence_about_it(world):
    case = case_in(world, Status.IN_PROGRESS, source=Source.CITIZEN)
    html = Client().get(f"/track/{case.tracking_token}/").content.decode()
    assert 'id="rating-form"' not in html and 'id="rating-over"' not in html


def handled_with(world, attributes=None, **report_back):
    case = case_in(world, Status.IN_PROGRESS, source=Source.CITIZEN, attributes=attributes)
    return services.case_report_back(
        case=case, actor=world.handler, photos=[plain_jpeg()], **report_back
    )


def test_the_departments_reply_shows_and_its_internal_note_never(world):
    case = handled_with(world, note=SECRET, reply="井盖已更换，感谢您的反映。")
    html = Client().get(f"/track/{case.tracking_token}/").content.decode()
    assert 'id="reply"' in html and "井盖已更换，感谢您的反映。" in html
    assert SECRET not in html


def test_without_a_reply_the_page_shows_no_reply_and_no_note(world):
    case = handled_with(world, note=SECRET)
    html = Client().get(f"/track/{case.tracking_token}/").content.decode()
    assert 'id="reply"' not in html and SECRET not in html


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
        f"/track/{closed.tracking_token}/", {"satisfaction": "unsatisfied"}, **zh
    )
    Client().post(
        f"/track/{closed.tracking_token}/", {"satisfaction": "unsatisfied", "comment": "没修好"}
    )
    pages["reopen asked"] = Client().get(f"/track/{closed.tracking_token}/", **zh)
    late = case_in(world, Status.CLOSED, source=Source.CITIZEN, attributes={"depth": "deep"})
    Case.objects.filter(pk=late.pk).update(closed_at=timezone.now() - timedelta(days=30))
    pages["rating over"] = Client().get(f"/track/{late.tracking_token}/", **zh)
    replied = handled_with(world, note="内部", reply="已修复", attributes={"depth": "deep"})
    pages["reply"] = Client().get(f"/track/{replied.tracking_token}/", **zh)
    markers = {
        "reopen asked": "reopen-requested",
        "rating over": "rating-over",
        "reply": 'id="reply"',
        "refused rating": "选择“不满意”时需要填写理由",
    }
    for name, marker in markers.items():
        assert marker in pages[name].content.decode(), name
    for name, response in pages.items():
        html = response.content.decode()
        assert '<html lang="zh-hans">' in html, name
        assert english_words(html) == [], name


def test_the_check_finds_english_when_a_page_is_in_english(world):
    # The same check on the English page: it must find the page's words.
    html = Client().get(REPORT, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    words = english_words(html)
    assert {"Report", "Describe", "problem", "tapped"} <= set(words)
