"""Citizen tips without an account (POST /api/v1/tips/) and following a tip by
its tracking token (GET /api/v1/tips/{token}/): what is accepted, that a
refusal stores nothing, and that the public status never shows anyone's name,
contact, internal notes or the photos' metadata."""

from __future__ import annotations

import re
import secrets

import pytest
from rest_framework.test import APIClient

from cases import limits, services
from cases.models import AttachmentKind, Case, CaseEvent, Category, Source, Status
from tests.api.helpers import NOT_UTF8, Stored, client_for, error, raw_form, raw_multipart
from tests.api.images import (
    GPS_IN_G1,
    SERIAL,
    assert_no_metadata,
    phone_photo,
    plain_jpeg,
    served,
    stored_path,
)
from tests.cases.conftest import G1, IN_G1, jpeg

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _staff_names(world):
    """Names that cannot occur by chance in a tip's text."""
    for user in world.users.values():
        user.display_name = f"Staff {user.username.title()} Person"
        user.save(update_fields=["display_name"])


TIPS = "/api/v1/tips/"
NAME, PHONE, EMAIL = "王小明", "13912345678", "wang.xiaoming@example.com"
SECRET = "SECRET-internal-note-7f3a"


def tip_data(**fields):
    data = {
        "category": "BJ0101",
        "description": "小区门口井盖缺失",
        "lng": IN_G1[0],
        "lat": IN_G1[1],
        "address": "青洋路 1 号",
        "name": NAME,
        "phone": PHONE,
        "email": EMAIL,
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def send_tip(fmt="json", **fields):
    return APIClient().post(TIPS, tip_data(**fields), format=fmt)


def status_of(token: str):
    return APIClient().get(f"{TIPS}{token}/")


# --- Sending a tip -----------------------------------------------------------------------


def test_an_anonymous_tip_as_json(world):
    response = send_tip()

    assert response.status_code == 201, response.content
    receipt = response.json()
    assert set(receipt) == {"tracking_token", "number", "public_status", "location", "status_url"}
    token = receipt["tracking_token"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", token)
    assert receipt["status_url"] == f"http://testserver/api/v1/tips/{token}/"
    assert receipt["public_status"] == "received"
    assert receipt["location"] == {"lng": pytest.approx(IN_G1[0]), "lat": pytest.approx(IN_G1[1])}
    assert "Idempotent-Replayed" not in response.headers
    case = Case.objects.get()
    assert case.number == receipt["number"] and re.fullmatch(r"\d{16}", case.number)
    assert case.tracking_token == token
    assert case.source == Source.CITIZEN and case.reporter is None
    assert case.status == Status.REPORTED and case.grid.code == G1
    assert case.category.code == "BJ0101"
    assert (case.reporter_name, case.reporter_phone, case.reporter_email) == (NAME, PHONE, EMAIL)
    assert case.address == "青洋路 1 号"
    event = CaseEvent.objects.get(case=case)
    assert event.action == "reported" and event.actor is None and event.actor_role == "citizen"


def test_each_tip_has_its_own_token(world):
    first = send_tip().json()
    second = send_tip(description="另一处井盖缺失").json()
    assert first["tracking_token"] != second["tracking_token"]
    assert first["number"] != second["number"]


def test_an_anonymous_tip_as_multipart_with_photos(world):
    response = send_tip(fmt="multipart", photos=[phone_photo("HEIF"), plain_jpeg()])

    assert response.status_code == 201, response.content
    case = Case.objects.get(tracking_token=response.json()["tracking_token"])
    photos = list(case.attachments.order_by("pk"))
    assert [p.source_format for p in photos] == ["HEIF", "JPEG"]
    assert {p.kind for p in photos} == {AttachmentKind.REPORT}
    assert all(p.uploaded_by is None for p in photos)
    for photo in photos:
        assert photo.file.name.endswith(".jpg")
        assert_no_metadata(stored_path(photo.file.name))


def test_a_tip_without_a_point_is_placed_by_its_photo(world):
    response = send_tip(fmt="multipart", lng=None, lat=None, photos=[phone_photo("JPEG")])

    assert response.status_code == 201, response.content
    location = response.json()["location"]
    assert location["lng"] == pytest.approx(GPS_IN_G1[0], abs=1e-6)
    assert location["lat"] == pytest.approx(GPS_IN_G1[1], abs=1e-6)


def test_a_tip_without_a_point_or_gps_is_refused(world):
    before = Stored()
    body = error(send_tip(fmt="multipart", lng=None, lat=None), 400, "location_required")
    assert list(body["fields"]) == ["location"]
    before.assert_unchanged()


@pytest.mark.parametrize("null", [False, True], ids=["omitted", "null"])
def test_not_sure_of_the_category(world, null):
    data = tip_data(category=None)
    assert "category" not in data
    if null:
        data["category"] = None
    response = APIClient().post(TIPS, data, format="json")

    assert response.status_code == 201, response.content
    assert Case.objects.get().category is None
    assert status_of(response.json()["tracking_token"]).json()["category"] is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"category": "hidden"}, "category"),  # filled in below: not for citizens
        ({"category": "XX9999"}, "category"),
        ({"phone": "call me"}, "phone"),
        ({"phone": "12"}, "phone"),
        ({"phone": "1391234567890123456789012345678"}, "phone"),
        ({"email": "not-an-email"}, "email"),
        ({"description": "x" * 4001}, "description"),
        ({"description": "   "}, "description"),
        ({"description": None}, "description"),
        ({"lng": IN_G1[0], "lat": None}, "lat"),
        ({"lng": None}, "lng"),
        ({"lng": 181}, "lng"),
        ({"crs": "bd09"}, "crs"),
        ({"name": "x" * 101}, "name"),
    ],
)
def test_bad_tips_are_refused_naming_the_field_and_nothing_is_stored(world, fields, field):
    if fields.get("category") == "hidden":
        hidden = Category.objects.filter(citizen_visible=False, is_active=True).first()
        assert hidden is not None
        fields = {"category": hidden.code}
    before = Stored()

    body = error(send_tip(**fields), 400, "invalid")

    assert list(body["fields"]) == [field]
    before.assert_unchanged()


FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize("kind", ["urlencoded", "urlencoded, raw bytes", "multipart"])
def test_a_form_that_is_not_utf8_is_refused_and_nothing_is_stored(world, kind):
    fields = tip_data(description=NOT_UTF8 + "井盖缺失".encode())
    if kind == "multipart":
        body, content_type = raw_multipart(fields)
    elif kind == "urlencoded":
        body, content_type = raw_form(fields), FORM
    else:  # the bytes themselves, not percent-encoded
        body, content_type = raw_form(tip_data(description="x")) + b"&address=" + NOT_UTF8, FORM
    before = Stored()

    response = APIClient().generic("POST", TIPS, body, content_type=content_type)

    body = error(response, 400, "malformed")
    assert "not valid utf-8" in body["message"]
    before.assert_unchanged()


@pytest.mark.parametrize("kind", ["urlencoded", "multipart"])
def test_a_utf8_form_is_stored_as_sent(world, kind):
    text = "井盖缺失 \ufffd 保留"  # even a replacement character typed on purpose, urlencoded
    fields = tip_data(description=text if kind == "urlencoded" else "井盖缺失")
    body, content_type = raw_multipart(fields) if kind == "multipart" else (raw_form(fields), FORM)

    response = APIClient().generic("POST", TIPS, body, content_type=content_type)

    assert response.status_code == 201, response.content
    assert Case.objects.get().description == fields["description"]


def test_a_phone_with_spaces_dashes_and_plus_is_fine(world):
    response = send_tip(phone="+86 139-1234 5678")
    assert response.status_code == 201, response.content
    assert Case.objects.get().reporter_phone == "+86 139-1234 5678"


def test_the_longest_description_is_accepted(world):
    response = send_tip(description="井" * 4000)
    assert response.status_code == 201, response.content
    assert len(Case.objects.get().description) == 4000


@pytest.mark.parametrize(
    "point", [(116.4, 39.9), (119.95, 31.71)], ids=["another city", "gap in the grids"]
)
def test_a_tip_outside_the_city_is_refused(world, point):
    before = Stored()

    body = error(send_tip(lng=point[0], lat=point[1]), 400, "outside_jurisdiction")

    assert list(body["fields"]) == ["location"]
    assert "outside the jurisdiction" in body["message"]
    before.assert_unchanged()


def test_a_tip_with_a_bad_photo_stores_nothing(world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    before = Stored()
    bad = SimpleUploadedFile("IMG_0003.jpg", b"<html>not a photo</html>")

    response = send_tip(fmt="multipart", photos=[phone_photo("JPEG"), bad])

    body = error(response, 400, "photo_invalid")
    assert "IMG_0003.jpg" in body["fields"]["photos"][0]
    before.assert_unchanged()


def test_a_tip_outside_the_city_with_photos_stores_no_file(world):
    before = Stored()
    response = send_tip(fmt="multipart", lng=116.4, lat=39.9, photos=[phone_photo("PNG")])
    error(response, 400, "outside_jurisdiction")
    before.assert_unchanged()


def test_tips_need_no_account_and_ignore_a_session(world):
    """The endpoint authenticates nobody: a signed-in user's tip is anonymous too."""
    client = APIClient()
    client.force_login(world.citizen)
    response = client.post(TIPS, tip_data(), format="json")
    assert response.status_code == 201, response.content
    assert Case.objects.get().reporter is None


# --- Following a tip ---------------------------------------------------------------------

PUBLIC_FIELDS = {
    "number", "public_status", "public_status_display", "category", "description", "address",
    "location", "department", "reply", "expected_at", "created_at", "updated_at", "closed_at",
    "photos", "steps", "rating",
}  # fmt: skip


def tip_case(**fields) -> Case:
    response = send_tip(fmt="multipart", **fields)
    assert response.status_code == 201, response.content
    return Case.objects.get(tracking_token=response.json()["tracking_token"])


def assert_public_safe(response, world):
    """Nothing in the JSON text names the reporter, a member of staff, or a note."""
    assert response.status_code == 200, response.content
    text = response.content.decode()
    for secret in (NAME, PHONE, EMAIL, "13912", "wang.xiaoming", SECRET, SERIAL):
        assert secret not in text, secret
    for person in (world.dispatcher, world.handler, world.supervisor, world.grid_worker):
        assert str(person) not in text
        assert f'"{person.username}"' not in text
    body = response.json()
    assert set(body) == PUBLIC_FIELDS
    assert "actor" not in text and "payload" not in text and "note" not in text
    assert "contact" not in text and "reporter" not in text
    for step in body["steps"]:
        assert set(step) == {"step", "label", "at"}
    for photo in body["photos"]:
        assert set(photo) == {"kind", "url", "thumbnail_url"}
    return body


def test_the_status_of_a_tip_is_public_safe_as_it_moves_on(world):
    case = tip_case(photos=[phone_photo("JPEG")])
    token = case.tracking_token

    body = assert_public_safe(status_of(token), world)
    assert body["number"] == case.number
    assert body["public_status"] == "received"
    assert body["public_status_display"] == "received, waiting to be registered"
    assert body["category"] == case.category.name
    assert body["description"] == "小区门口井盖缺失" and body["address"] == "青洋路 1 号"
    assert body["department"] is None and body["closed_at"] is None
    assert [s["step"] for s in body["steps"]] == ["reported"]
    assert body["steps"][0]["label"] == "Report received"

    services.case_send_to_verify(case=case.pk, actor=world.dispatcher, note=f"{SECRET} 核实")
    body = assert_public_safe(status_of(token), world)
    assert body["public_status"] == "verifying"
    assert body["public_status_display"] == "received, a grid worker is checking it on site"
    assert body["expected_at"] is not None
    services.case_verify(
        case=case.pk, actor=world.grid_worker, passed=True, note=SECRET, photos=[jpeg()]
    )
    body = assert_public_safe(status_of(token), world)
    assert body["public_status"] == "received"
    assert [p["kind"] for p in body["photos"]] == ["report"]  # verification photos stay inside
    assert [s["label"] for s in body["steps"]][1:] == [
        "Sent to a grid worker to check on site",
        "Checked on site: the problem is there",
    ]

    services.case_register(case=case.pk, actor=world.dispatcher, note=f"{SECRET} registered")
    services.case_comment(case=case.pk, actor=world.dispatcher, text=f"{SECRET} call {PHONE}")
    body = assert_public_safe(status_of(token), world)
    assert body["public_status"] == "accepted"
    assert [s["step"] for s in body["steps"]] == [
        "reported", "verification_requested", "verified", "registered",
    ]  # fmt: skip

    services.case_dispatch(case=case.pk, actor=world.dispatcher, note=f"{SECRET} to CGJ")
    body = assert_public_safe(status_of(token), world)
    assert body["public_status"] == "accepted"
    assert body["department"] == world.cgj.name
    assert body["expected_at"] is not None
    assert [s["step"] for s in body["steps"]][3:] == ["registered", "dispatched"]
    assert body["steps"][-1]["label"] == "Sent to the department responsible"

    services.case_acknowledge(case=case.pk, actor=world.handler, reason=f"{SECRET} on it")
    services.case_request_suspension(case=case.pk, actor=world.handler, reason=SECRET)
    body = assert_public_safe(status_of(token), world)
    assert body["public_status"] == "in_progress"
    assert [s["step"] for s in body["steps"]][3:] == [
        "registered", "dispatched", "acknowledged",
    ]  # fmt: skip
    times = [s["at"] for s in body["steps"]]
    assert times == sorted(times)


def tip_in_progress(world) -> Case:
    case = tip_case()
    services.case_register(case=case.pk, actor=world.dispatcher)
    services.case_dispatch(case=case.pk, actor=world.dispatcher)
    return services.case_acknowledge(case=case.pk, actor=world.handler)


def report_back_by_api(world, case, **fields):
    data = {"note": f"{SECRET} 内部说明", "photos": [jpeg()], **fields}
    response = client_for(world.handler).post(
        f"/api/v1/cases/{case.pk}/report-back/", data, format="multipart"
    )
    assert response.status_code == 200, response.content


def test_the_departments_reply_is_public_and_its_note_is_not(world):
    case = tip_in_progress(world)

    report_back_by_api(world, case, reply="井盖已更换，感谢您的反映。")

    body = assert_public_safe(status_of(case.tracking_token), world)
    assert body["public_status"] == "fixed"
    assert body["reply"] == "井盖已更换，感谢您的反映。"


def test_without_a_reply_the_status_has_none_and_no_note(world):
    case = tip_in_progress(world)

    report_back_by_api(world, case)

    body = assert_public_safe(status_of(case.tracking_token), world)
    assert body["reply"] == ""


def test_a_reply_over_its_limit_is_refused_and_nothing_changes(world):
    case = tip_in_progress(world)

    response = client_for(world.handler).post(
        f"/api/v1/cases/{case.pk}/report-back/",
        {"note": "ok", "photos": [jpeg()], "reply": "好" * (limits.REPLY + 1)},
        format="multipart",
    )
    assert error(response, 400, "invalid")["fields"].keys() == {"reply"}
    case.refresh_from_db()
    assert case.status == Status.IN_PROGRESS


def test_a_tip_not_taken_up_says_so_without_the_reason(world):
    case = tip_case()
    services.case_reject(case=case.pk, actor=world.dispatcher, reason=f"{SECRET} 不属实")

    body = assert_public_safe(status_of(case.tracking_token), world)

    assert body["public_status"] == "not_taken_up"
    assert body["expected_at"] is None
    assert [s["step"] for s in body["steps"]] == ["reported", "rejected"]


def test_photos_in_the_status_carry_no_metadata(world):
    case = tip_case(lng=119.905, lat=31.715, photos=[phone_photo("HEIF"), phone_photo("PNG")])

    body = assert_public_safe(status_of(case.tracking_token), world)

    text = status_of(case.tracking_token).content.decode()
    assert "119.91" not in text and "31.73" not in text  # the camera's GPS
    assert "2024-05-06" not in text  # the camera's time
    assert [p["kind"] for p in body["photos"]] == ["report", "report"]
    stored = case.attachments.order_by("id")
    for photo, attachment in zip(body["photos"], stored, strict=True):
        assert photo["url"].startswith(f"http://testserver/api/v1/photos/{attachment.pk}/original/")
        # Whoever holds the token fetches it without an account.
        served_bytes = served(APIClient(), photo["url"])
        assert served_bytes == stored_path(attachment.file.name).read_bytes()
        assert_no_metadata(stored_path(attachment.file.name))


def test_the_status_shows_the_thumbnail_once_made(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        case = tip_case(photos=[plain_jpeg(size=(640, 480))])

    (photo,) = status_of(case.tracking_token).json()["photos"]

    attachment = case.attachments.get()
    assert photo["thumbnail_url"].startswith(
        f"http://testserver/api/v1/photos/{attachment.pk}/thumbnail/?link="
    )
    served_bytes = served(APIClient(), photo["thumbnail_url"])
    assert served_bytes == stored_path(attachment.thumbnail.name).read_bytes()
    assert_no_metadata(stored_path(attachment.thumbnail.name))


@pytest.mark.parametrize(
    "token",
    [secrets.token_urlsafe(24), "short", "x" * 44, "a" * 16],
    ids=["unknown", "too short", "too long", "sixteen"],
)
def test_an_unknown_token_is_not_found(world, token):
    tip_case()
    body = error(status_of(token), 404, "not_found")
    assert "fields" not in body


def test_a_staff_case_has_no_token_to_follow(world):
    case = services.case_report(
        reporter=world.grid_worker,
        source=Source.GRID_WORKER,
        description="x",
        lng=IN_G1[0],
        lat=IN_G1[1],
    )
    assert case.tracking_token is None
    error(status_of(case.number), 404, "not_found")


# --- Staff see the tip -------------------------------------------------------------------


def test_staff_see_the_tip_and_its_contact_by_the_usual_rules(world):
    case = tip_case(photos=[phone_photo("JPEG")])
    url = f"/api/v1/cases/{case.pk}/"

    detail = client_for(world.dispatcher).get(url)
    assert detail.status_code == 200, detail.content
    body = detail.json()
    assert body["source"] == "citizen" and body["number"] == case.number
    assert body["contact"] == {"name": NAME, "phone": PHONE, "email": EMAIL}
    assert "register" in body["actions"]
    # Staff see the camera's position and time that the public never sees.
    assert body["photos"][0]["taken_location"]["lng"] == pytest.approx(GPS_IN_G1[0])
    assert body["events"][0]["actor"] is None and body["events"][0]["actor_role"] == "citizen"

    masked = client_for(world.supervisor).get(url).json()["contact"]
    assert masked == {"name": "王**", "phone": "139****5678", "email": "w***@example.com"}

    error(client_for(world.handler).get(url), 404, "not_found")
    error(client_for(world.far_dispatcher).get(url), 404, "not_found")
    services.case_register(case=case.pk, actor=world.dispatcher)
    services.case_dispatch(case=case.pk, actor=world.dispatcher)
    handler = client_for(world.handler).get(url).json()
    assert handler["contact"] == {"name": NAME, "phone": PHONE, "email": EMAIL}


def test_only_the_report_and_result_photos_are_public(world):
    case = tip_case(photos=[plain_jpeg()])
    services.case_register(case=case.pk, actor=world.dispatcher)
    services.case_dispatch(case=case.pk, actor=world.dispatcher)
    services.case_acknowledge(case=case.pk, actor=world.handler)
    services.case_comment(case=case.pk, actor=world.handler, text="internal", photos=[plain_jpeg()])
    services.case_report_back(
        case=case.pk, actor=world.handler, note="fixed", photos=[plain_jpeg()]
    )
    services.case_inspect(case=case.pk, actor=world.grid_worker, passed=True, photos=[plain_jpeg()])
    assert case.attachments.count() == 4

    body = status_of(case.tracking_token).json()

    assert [p["kind"] for p in body["photos"]] == [AttachmentKind.REPORT, AttachmentKind.HANDLING]
    handling = case.attachments.get(event__action="handled")
    assert f"/api/v1/photos/{handling.pk}/original/?link=" in body["photos"][1]["url"]
