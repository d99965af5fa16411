"""POST requests: a citizen tip through an app's api_key, answered with its
id; every bad input is an error array naming the argument, and nothing is
stored."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from PIL import Image

from cases import services
from cases.models import Case, CaseAttachment, CaseEvent, Source, Status
from tests.api.helpers import NOT_UTF8, Stored, raw_form, raw_multipart
from tests.cases.conftest import IN_G1, jpeg

from .conftest import as_json, as_xml, errors

pytestmark = pytest.mark.django_db

URL = "/open311/v2/requests"
OUTSIDE_CITY = (121.47, 31.23)  # Shanghai, not this city
# 31.73 N 119.91 E, in grid G1, as degrees/minutes/seconds.
GPS_G1 = {1: "N", 2: (31.0, 43.0, 48.0), 3: "E", 4: (119.0, 54.0, 36.0)}


@pytest.fixture
def client() -> Client:
    return Client()


def form(api_client, **changes) -> dict:
    data = {
        "api_key": api_client.api_key,
        "jurisdiction_id": "changzhou.gov.cn",
        "service_code": "BJ0101",
        "lat": str(IN_G1[1]),
        "long": str(IN_G1[0]),
        "address_string": "天宁区延陵西路 88 号",
        "email": "zhangsan@example.com",
        "device_id": "tt222111",
        "account_id": "acct-7",
        "first_name": "三",
        "last_name": "张",
        "phone": "13912345678",
        "description": "井盖缺失, 有行人跌落风险 <b>&</b>",
        "media_url": "https://img.example.com/p/1.jpg",
        "attribute[hurt]": "no",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def gps_jpeg(name="gps.jpg", gps=GPS_G1, comment=b""):
    exif = Image.Exif()
    exif[0x8825] = gps
    exif[0x010F] = "PhoneMaker"  # Make
    buffer = io.BytesIO()
    image = Image.new("RGB", (64, 48), (10, 120, 200))
    image.save(buffer, "JPEG", exif=exif, comment=comment)
    buffer.seek(0)
    buffer.name = name
    return buffer


def test_a_tip_is_filed_and_answered_with_its_id_in_json(client, questions, api_client):
    data = form(api_client, **{"attribute[size][]": ["s", "l"], "attribute[depth]": "0.8"})
    body = as_json(client.post(f"{URL}.json", data))
    assert isinstance(body, list) and len(body) == 1
    assert list(body[0]) == ["service_request_id", "service_notice", "account_id"]
    case = Case.objects.get()
    assert body[0]["service_request_id"] == case.number
    assert body[0]["account_id"] == "acct-7"
    assert body[0]["service_notice"].startswith("Next step: registration, due by ")
    assert "token" not in body[0]  # realtime: the id, not a token
    assert case.source == Source.CITIZEN and case.reporter is None
    assert case.status == Status.REPORTED and case.category.code == "BJ0101"
    assert case.api_client == api_client and case.tracking_token
    assert case.description == "井盖缺失, 有行人跌落风险 <b>&</b>"
    assert (round(case.location.x, 6), round(case.location.y, 6)) == IN_G1
    assert case.address == "天宁区延陵西路 88 号"
    assert case.reporter_name == "张三"  # family name first
    assert case.reporter_phone == "13912345678"
    assert case.reporter_email == "zhangsan@example.com"
    assert case.media_url == "https://img.example.com/p/1.jpg"
    assert case.attributes == {"hurt": "no", "size": ["s", "l"], "depth": 0.8}
    assert CaseEvent.objects.filter(case=case, action="reported").count() == 1


def test_the_xml_answer_is_a_service_requests_array(client, questions, api_client):
    root = as_xml(client.post(f"{URL}.xml", form(api_client, account_id="")))
    assert root.tag == "service_requests"
    (request,) = root
    assert request.tag == "request"
    assert [c.tag for c in request] == ["service_request_id", "service_notice", "account_id"]
    assert request.findtext("service_request_id") == Case.objects.get().number
    assert request.find("account_id").text is None


def test_the_api_key_may_come_in_the_query_string(client, questions, api_client):
    # The Code for America client sends api_key and jurisdiction_id that way.
    data = form(api_client, api_key=None)
    response = client.post(f"{URL}.json?api_key={api_client.api_key}&jurisdiction_id=x", data)
    assert as_json(response)[0]["service_request_id"] == Case.objects.get().number


def test_western_names_keep_a_space(client, questions, api_client):
    as_json(client.post(f"{URL}.json", form(api_client, first_name="John", last_name="Smith")))
    assert Case.objects.get().reporter_name == "Smith John"


def test_only_the_optional_arguments_may_be_left_out(client, questions, api_client):
    data = {
        "api_key": api_client.api_key,
        "service_code": "BJ0103",
        "lat": "31.73",
        "long": "119.91",
        "description": "雨水井盖破损",
    }
    body = as_json(client.post(f"{URL}.json", data))
    assert body[0]["account_id"] is None
    case = Case.objects.get()
    assert case.reporter_name == case.reporter_phone == case.reporter_email == ""
    assert case.attributes == {} and case.media_url == ""


def test_a_photo_is_uploaded_as_media_and_shown_without_its_metadata(
    client, world, questions, api_client
):
    data = form(api_client, media_url=None)
    data["media"] = gps_jpeg(comment=b"Owner: Wang Xiaoming")
    body = as_json(client.post(f"{URL}.json", data))
    case = Case.objects.get(number=body[0]["service_request_id"])
    photo = CaseAttachment.objects.get(case=case)
    with photo.file.open("rb") as stored:
        content = stored.read()
    with Image.open(io.BytesIO(content)) as image:
        assert not image.getexif()  # no GPS, no camera make in what is shown
    assert b"PhoneMaker" not in content and b"Wang Xiaoming" not in content
    services.case_register(case=case, actor=world.dispatcher)  # published from now
    shown = as_json(client.get(f"{URL}/{case.number}.json"))[0]["media_url"]
    assert shown == f"http://testserver/api/v1/photos/{photo.pk}/original/"
    fetched = client.get(shown)
    assert b"".join(fetched.streaming_content) == content


def test_a_photo_with_gps_may_stand_in_for_lat_and_long(client, questions, api_client):
    data = form(api_client, lat=None, long=None)
    data["media"] = gps_jpeg()
    as_json(client.post(f"{URL}.json", data))
    case = Case.objects.get()
    assert (round(case.location.x, 4), round(case.location.y, 4)) == IN_G1
    assert case.address == "天宁区延陵西路 88 号"


def test_without_lat_long_or_a_located_photo_the_address_is_not_enough(
    client, questions, api_client
):
    data = form(api_client, lat=None, long=None)
    (description,) = errors(client.post(f"{URL}.json", data), 400)
    assert "lat and long are required" in description and "geocode" in description
    data["media"] = jpeg()  # no GPS in it
    (description,) = errors(client.post(f"{URL}.xml", data), 400)
    assert "lat/long" in description
    assert not Case.objects.exists()


def test_a_retry_with_the_same_idempotency_key_gets_the_same_id(client, questions, api_client):
    data = form(api_client)
    response = client.post(f"{URL}.json", data, HTTP_IDEMPOTENCY_KEY="tip-1")
    assert "Idempotent-Replayed" not in response
    first = as_json(response)
    response = client.post(f"{URL}.json", data, HTTP_IDEMPOTENCY_KEY="tip-1")
    assert response["Idempotent-Replayed"] == "true"
    assert first == as_json(response)
    assert Case.objects.count() == 1


def test_an_api_key_is_required(client, questions, api_client):
    for data in (form(api_client, api_key=None), form(api_client, api_key="")):
        (description,) = errors(client.post(f"{URL}.json", data), 403)
        assert "api_key" in description
    (description,) = errors(client.post(f"{URL}.xml", form(api_client, api_key="nope")), 403)
    assert "api_key" in description
    api_client.is_active = False
    api_client.save()
    (description,) = errors(client.post(f"{URL}.xml", form(api_client)), 403)
    assert "Invalid api_key" in description
    assert not Case.objects.exists()


@pytest.mark.parametrize("code", ["XX9999", "BJ0115"])
def test_an_unknown_service_code_is_404(client, questions, api_client, code):
    (description,) = errors(client.post(f"{URL}.json", form(api_client, service_code=code)), 404)
    assert "service_code" in description and code in description
    assert not Case.objects.exists()


BAD = [
    ({"service_code": None}, ["service_code"]),
    ({"description": None}, ["description"]),
    ({"description": "   "}, ["description"]),
    ({"description": "井" * 4001}, ["description", "4000"]),
    ({"lat": "91"}, ["lat", "between -90 and 90"]),
    ({"long": "-180.5"}, ["long", "between -180 and 180"]),
    ({"lat": "north"}, ["lat", "number"]),
    ({"long": "nan"}, ["long", "number"]),
    ({"lat": None}, ["lat is required with long"]),
    ({"long": str(OUTSIDE_CITY[0]), "lat": str(OUTSIDE_CITY[1])}, ["lat/long"]),
    ({"email": "not-an-email"}, ["email"]),
    ({"phone": "1" * 31}, ["phone"]),
    ({"first_name": "名" * 60, "last_name": "姓" * 60}, ["first_name"]),
    ({"address_string": "路" * 256}, ["address_string"]),
    ({"media_url": "ftp://example.com/a.jpg"}, ["media_url"]),
    ({"media_url": "https://example.com/" + "a" * 500}, ["media_url"]),
    ({"attribute[hurt]": None}, ["attribute[hurt]", "required"]),
    ({"attribute[hurt]": "maybe"}, ["attribute[hurt]", "maybe"]),
    ({"attribute[colour]": "red"}, ["attribute[colour]"]),
    ({"attribute[depth]": "deep"}, ["attribute[depth]", "number"]),
    ({"attribute[seen]": "yesterday"}, ["attribute[seen]", "ISO 8601"]),
    ({"attribute[landmark]": "路" * 201}, ["attribute[landmark]", "200"]),
    ({"attribute[size][]": ["s", "xl"]}, ["attribute[size]", "xl"]),
    ({"attribute": "x"}, ["attribute[code]=value"]),
]


@pytest.mark.parametrize(("changes", "words"), BAD)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_bad_input_is_a_400_error_array_naming_the_argument(
    client, questions, api_client, changes, words, fmt
):
    response = client.post(f"{URL}.{fmt}", form(api_client, **changes))
    descriptions = errors(response, 400)
    assert any(all(w in d for w in words) for d in descriptions), descriptions
    assert not Case.objects.exists()
    assert not CaseAttachment.objects.exists()


def test_several_bad_arguments_are_reported_together(client, questions, api_client):
    data = form(api_client, description="", lat="north", email="@")
    descriptions = errors(client.post(f"{URL}.json", data), 400)
    assert len(descriptions) == 3
    assert [d.split(" ")[0] for d in descriptions] == ["description", "lat", "email"]


def test_a_bad_photo_is_refused_and_nothing_is_stored(client, questions, api_client):
    data = form(api_client)
    data["media"] = io.BytesIO(b"GIF89a not really")
    data["media"].name = "x.jpg"
    (description,) = errors(client.post(f"{URL}.json", data), 400)
    assert "media" in description
    assert not Case.objects.exists() and not CaseAttachment.objects.exists()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ('{"service_code": "BJ0101"}', "application/json"),
        ("<service_request/>", "text/xml"),
        ("service_code=BJ0101", "text/plain"),
    ],
)
def test_only_a_form_is_read(client, questions, api_client, body, content_type):
    response = client.post(
        f"{URL}.json?api_key={api_client.api_key}", body, content_type=content_type
    )
    (description,) = errors(response, 400)
    assert "x-www-form-urlencoded" in description
    assert not Case.objects.exists()


def test_a_broken_multipart_body_is_400(client, questions, api_client):
    response = client.generic(
        "POST",
        f"{URL}.xml?api_key={api_client.api_key}",
        b'--xx\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n',  # never closed
        content_type="multipart/form-data; boundary=",
    )
    assert errors(response, 400)
    assert not Case.objects.exists()


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("kind", ["urlencoded", "multipart"])
def test_a_form_that_is_not_utf8_is_refused_and_nothing_is_stored(
    client, questions, api_client, fmt, kind
):
    fields = form(api_client, description=NOT_UTF8 + "井盖缺失".encode())
    if kind == "multipart":
        body, content_type = raw_multipart(fields)
    else:
        body, content_type = raw_form(fields), "application/x-www-form-urlencoded"
    before = Stored()

    response = client.generic("POST", f"{URL}.{fmt}", body, content_type=content_type)

    (description,) = errors(response, 400)
    assert "not valid utf-8" in description
    before.assert_unchanged()


@pytest.mark.parametrize("kind", ["urlencoded", "multipart"])
def test_a_utf8_form_is_filed_as_sent(client, questions, api_client, kind):
    fields = form(api_client)
    if kind == "multipart":
        body, content_type = raw_multipart(fields)
    else:
        body, content_type = raw_form(fields), "application/x-www-form-urlencoded"

    as_json(client.generic("POST", f"{URL}.json", body, content_type=content_type))

    case = Case.objects.get()
    assert case.description == fields["description"]
    assert case.address == fields["address_string"]
