"""GET requests, GET one request and tokens: the public view of cases, with
the specification's filters and no personal data ever."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from cases import services
from cases.models import Case, Category, Source, Status
from cases.open311 import views
from tests.cases.conftest import case_in, jpeg, report

from .conftest import W3C, as_json, as_xml, errors, rows

pytestmark = pytest.mark.django_db

URL = "/open311/v2/requests"
PERSONAL = {"name": "王小明", "phone": "13912345678", "email": "wangxm@example.com"}
FIELDS = [
    "service_request_id", "status", "status_notes", "service_name", "service_code",
    "description", "agency_responsible", "service_notice", "requested_datetime",
    "updated_datetime", "expected_datetime", "address", "lat", "long", "media_url",
]  # fmt: skip


@pytest.fixture
def client() -> Client:
    return Client()


def tip(world, *, registered: bool = True, **kwargs) -> Case:
    """A citizen's tip, registered (published) unless ``registered=False``."""
    kwargs.setdefault("reporter", None)
    kwargs.setdefault("source", Source.CITIZEN)
    kwargs.setdefault("reporter_name", PERSONAL["name"])
    kwargs.setdefault("reporter_phone", PERSONAL["phone"])
    kwargs.setdefault("reporter_email", PERSONAL["email"])
    kwargs.setdefault("address", "延陵西路 88 号")
    case = report(world, **kwargs)
    if registered:
        case = services.case_register(case=case, actor=world.dispatcher)
    return case


def reported_days_ago(case: Case, days: float) -> Case:
    Case.objects.filter(pk=case.pk).update(created_at=timezone.now() - dt.timedelta(days=days))
    return case


def ids(body) -> list[str]:
    return [r["service_request_id"] for r in body]


def test_a_request_shows_its_public_fields_in_the_specification_order(client, world):
    case = tip(world, media_url="https://img.example.com/1.jpg")
    (row,) = as_json(client.get(f"{URL}.json"))
    assert list(row) == FIELDS
    case.refresh_from_db()
    assert row["service_request_id"] == case.number
    assert row["status"] == "open"
    assert row["status_notes"] == "Status: registered."
    assert row["service_name"] == "Water supply manhole cover"
    assert row["service_code"] == "BJ0101"
    assert row["description"] == case.description
    assert row["agency_responsible"] is None  # not dispatched yet
    assert row["service_notice"].startswith("Next step: dispatch, due by")
    for key in ("requested_datetime", "updated_datetime", "expected_datetime"):
        assert re.match(W3C, row[key]), row[key]
    assert row["requested_datetime"].endswith("+08:00")
    assert dt.datetime.fromisoformat(row["expected_datetime"]) == case.due_at
    assert dt.datetime.fromisoformat(row["requested_datetime"]) == case.created_at.replace(
        microsecond=0
    )
    assert row["address"] == "延陵西路 88 号"
    assert (row["long"], row["lat"]) == (119.91, 31.73)
    assert row["media_url"] == "https://img.example.com/1.jpg"


def test_the_xml_is_a_service_requests_array_of_request_elements(client, world):
    case = tip(world, description="A & B <c> “引号” \x01bell")
    root = as_xml(client.get(f"{URL}.xml", HTTP_ACCEPT_LANGUAGE="zh-hans"))
    assert root.tag == "service_requests"
    (request,) = root
    assert request.tag == "request"
    assert [c.tag for c in request] == FIELDS
    row = rows(root)[0]
    assert row["service_request_id"] == case.number
    assert row["description"] == "A & B <c> “引号” bell"  # escaped, control character dropped
    assert row["service_name"] == "上水井盖"
    assert row["agency_responsible"] is None and row["media_url"] is None
    assert row["lat"] == "31.73" and row["long"] == "119.91"


def test_a_dispatched_case_names_its_department_and_deadline(client, world):
    case = case_in(world, Status.IN_PROGRESS)
    (row,) = as_json(client.get(f"{URL}/{case.number}.json"))
    assert row["status"] == "open" and row["status_notes"] == "Status: in progress."
    assert row["agency_responsible"] == "市城市管理局"
    assert row["service_notice"].startswith("Next step: handling, due by")
    assert dt.datetime.fromisoformat(row["expected_datetime"]) == Case.objects.get().due_at
    world.cgj.name_en = "City Management Bureau"
    world.cgj.save()
    (row,) = as_json(client.get(f"{URL}/{case.number}.json"))
    assert row["agency_responsible"] == "City Management Bureau"


def test_closed_and_rejected_cases_are_closed_without_a_deadline(client, world, settings):
    # Rejected cases are published only where the policy says so.
    settings.OPEN311_PUBLICATION = {
        **settings.OPEN311_PUBLICATION,
        "statuses": [*settings.OPEN311_PUBLICATION["statuses"], "rejected"],
    }
    closed = case_in(world, Status.CLOSED)
    rejected = case_in(world, Status.REJECTED)
    original = case_in(world, Status.DISPATCHED)
    merged = services.case_merge(
        case=case_in(world, Status.REPORTED), actor=world.dispatcher, original=original.pk
    )
    body = {r["service_request_id"]: r for r in as_json(client.get(f"{URL}.json"))}
    row = body[closed.number]
    assert row["status"] == "closed" and row["expected_datetime"] is None
    assert row["service_notice"] is None
    assert row["status_notes"] == "Closed: handled and checked on site."
    closed.refresh_from_db()
    assert dt.datetime.fromisoformat(row["updated_datetime"]) == closed.closed_at.replace(
        microsecond=0
    )
    row = body[rejected.number]
    assert row["status"] == "closed" and row["expected_datetime"] is None
    assert row["status_notes"] == "Rejected: void (not a case)."
    assert "不属实" not in str(body)  # the dispatcher's reason is internal
    row = body[merged.number]
    assert row["status"] == "closed"
    assert row["status_notes"] == "Rejected: duplicate of another case."


def test_a_suspended_case_has_no_expected_time(client, world):
    case = case_in(world, Status.SUSPENDED)
    (row,) = as_json(client.get(f"{URL}/{case.number}.json"))
    assert row["status"] == "open" and row["expected_datetime"] is None
    assert row["service_notice"] == "Handling is suspended; its deadline is paused."


def test_no_personal_data_ever(client, world, api_client):
    tip(world, photos=[jpeg()])
    case_in(
        world,
        Status.CLOSED,
        reporter_name=PERSONAL["name"],
        reporter_phone=PERSONAL["phone"],
        reporter_email=PERSONAL["email"],
    )
    posted = client.post(
        f"{URL}.json",
        {
            "api_key": api_client.api_key,
            "service_code": "BJ0101",
            "lat": "31.73",
            "long": "119.91",
            "description": "井盖缺失",
            "first_name": "小明",
            "last_name": "王",
            "phone": PERSONAL["phone"],
            "email": PERSONAL["email"],
        },
    )
    posted_case = Case.objects.get(api_client=api_client)
    services.case_register(case=posted_case, actor=world.dispatcher)  # published from now
    token = posted_case.tracking_token
    outputs = [posted]
    for fmt in ("json", "xml"):
        outputs.append(client.get(f"{URL}.{fmt}"))
        for case in Case.objects.all():
            outputs.append(client.get(f"{URL}/{case.number}.{fmt}"))
        outputs.append(client.get(f"/open311/v2/tokens/{token}.{fmt}"))
    assert len(outputs) == 11
    for response in outputs:
        assert response.status_code == 200
        text = response.content.decode("utf-8")
        for value in (*PERSONAL.values(), "王小明", "小明", "13912345678"):
            assert value not in text, (value, text)


def test_only_cases_of_categories_citizens_see_are_listed(client, world):
    hidden = Category.objects.get(code="BJ0115")
    hidden.default_department = world.cgj
    hidden.save()
    shown = tip(world)
    secret = tip(world, category=hidden)
    assert ids(as_json(client.get(f"{URL}.json"))) == [shown.number]
    assert errors(client.get(f"{URL}/{secret.number}.json"), 404)
    assert ids(as_json(client.get(f"{URL}.json?service_request_id={secret.number}"))) == []
    assert errors(client.get(f"/open311/v2/tokens/{secret.tracking_token}.json"), 404)


def test_the_first_report_photo_is_the_media_url(client, world):
    case = tip(world, photos=[jpeg("a.jpg"), jpeg("b.jpg")], media_url="https://x.example/1.jpg")
    first = case.attachments.order_by("id").first()
    (row,) = as_json(client.get(f"{URL}/{case.number}.json"))
    assert row["media_url"] == f"http://testserver/api/v1/photos/{first.pk}/original/"
    # A published case's report photo is public: anyone fetches it.
    response = client.get(row["media_url"])
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == first.file.read()
    root = as_xml(client.get(f"{URL}/{case.number}.xml"))
    assert rows(root)[0]["media_url"] == row["media_url"]


def test_one_request_is_an_array_of_one(client, world):
    case = tip(world)
    tip(world)
    body = as_json(client.get(f"{URL}/{case.number}.json"))
    assert ids(body) == [case.number]
    root = as_xml(client.get(f"{URL}/{case.number}.xml"))
    assert root.tag == "service_requests" and [r.tag for r in root] == ["request"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_unknown_request_is_a_404_array(client, world, fmt):
    (description,) = errors(client.get(f"{URL}/2020010199999999.{fmt}"), 404)
    assert "service_request_id" in description and "2020010199999999" in description


def test_a_token_gives_the_request_id(client, world):
    case = tip(world)
    body = as_json(client.get(f"/open311/v2/tokens/{case.tracking_token}.json"))
    assert body == [{"service_request_id": case.number, "token": case.tracking_token}]
    root = as_xml(client.get(f"/open311/v2/tokens/{case.tracking_token}.xml"))
    assert root.tag == "service_requests"
    assert rows(root) == [{"service_request_id": case.number, "token": case.tracking_token}]
    assert errors(client.get("/open311/v2/tokens/unknown-token.json"), 404)
    assert errors(client.get(f"/open311/v2/tokens/{'a' * 80}.xml"), 404)


# --- Filters -------------------------------------------------------------------------------


def test_ids_override_every_other_filter(client, world):
    old = reported_days_ago(tip(world), 200)
    new = tip(world)
    query = f"service_request_id={old.number},{new.number},nope&status=closed&service_code=SJ0101"
    assert set(ids(as_json(client.get(f"{URL}.json?{query}")))) == {old.number, new.number}
    assert ids(as_json(client.get(f"{URL}.json?service_request_id={old.number}"))) == [old.number]


def test_by_default_the_last_90_days_newest_first(client, world):
    reported_days_ago(tip(world), 91)
    older = reported_days_ago(tip(world), 89)
    newer = tip(world)
    assert ids(as_json(client.get(f"{URL}.json"))) == [newer.number, older.number]


def test_service_code_filter(client, world):
    grate = Category.objects.get(code="BJ0104")
    grate.default_department = world.szgs
    grate.save()
    cover = tip(world)
    on_grate = tip(world, category=grate)
    assert ids(as_json(client.get(f"{URL}.json?service_code=BJ0104"))) == [on_grate.number]
    both = as_json(client.get(f"{URL}.json?service_code=BJ0101,BJ0104"))
    assert set(ids(both)) == {cover.number, on_grate.number}
    repeated = as_json(client.get(f"{URL}.json?service_code=BJ0101&service_code=BJ0104"))
    assert set(ids(repeated)) == {cover.number, on_grate.number}
    (description,) = errors(client.get(f"{URL}.xml?service_code=XX0000"), 400)
    assert "XX0000" in description


def test_status_filter(client, world):
    open_case = case_in(world, Status.DISPATCHED)
    closed = case_in(world, Status.CLOSED)
    rejected = case_in(world, Status.REJECTED)
    assert ids(as_json(client.get(f"{URL}.json?status=open"))) == [open_case.number]
    # (rejected cases are not published by default)
    assert ids(as_json(client.get(f"{URL}.json?status=closed"))) == [closed.number]
    assert rejected.number not in ids(as_json(client.get(f"{URL}.json?status=open,closed")))
    assert len(as_json(client.get(f"{URL}.json?status=open,closed"))) == 2
    assert len(as_json(client.get(f"{URL}.json?status=open&status=closed"))) == 2
    (description,) = errors(client.get(f"{URL}.json?status=pending"), 400)
    assert "status" in description and "pending" in description


def test_date_range(client, world):
    a = reported_days_ago(tip(world), 100)
    b = reported_days_ago(tip(world), 60)
    c = reported_days_ago(tip(world), 10)
    now = timezone.now()

    def w3c(days):
        return (now - dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def listed(query):
        return ids(as_json(client.get(f"{URL}.json?{query}")))

    assert listed(f"start_date={w3c(120)}&end_date={w3c(50)}") == [b.number, a.number]
    assert listed(f"start_date={w3c(70)}") == [c.number, b.number]  # 90 days from the start
    assert listed(f"end_date={w3c(50)}") == [b.number, a.number]  # 90 days to the end
    assert listed(f"start_date={w3c(150)}&end_date={w3c(90)}") == [a.number]
    # An offset sent unencoded ("+" read as a space) still means +08:00.
    local = timezone.localtime(now - dt.timedelta(days=11)).strftime("%Y-%m-%dT%H:%M:%S")
    assert listed(f"start_date={local}+08:00") == [c.number]
    # A date alone: that whole day, in the city's time.
    day = timezone.localdate(Case.objects.get(pk=c.pk).created_at)
    assert listed(f"start_date={day}&end_date={day}") == [c.number]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("start_date=2025-01-01T00:00:00Z&end_date=2025-04-02T00:00:00Z", ["90 days"]),
        ("start_date=2025-01-01&end_date=2025-05-01", ["90 days"]),
        ("start_date=2025-03-01T00:00:00Z&end_date=2025-02-01T00:00:00Z", ["before"]),
        ("start_date=yesterday", ["start_date", "W3C"]),
        ("end_date=2025-02-30T00:00:00Z", ["end_date"]),
        ("start_date=2025-01-01T00:00:00", ["start_date", "time zone"]),
        ("start_date=1", ["start_date"]),
    ],
)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_bad_dates_are_400(client, world, query, words, fmt):
    descriptions = errors(client.get(f"{URL}.{fmt}?{query}"), 400)
    assert any(all(w in d for w in words) for d in descriptions), descriptions


def test_two_bad_filters_are_both_named(client, world):
    descriptions = errors(client.get(f"{URL}.json?start_date=x&status=maybe"), 400)
    assert len(descriptions) == 2


def test_the_result_is_bounded_to_the_newest(client, world, monkeypatch):
    monkeypatch.setattr(views, "MAX_RESULTS", 2)
    tip(world)
    second = tip(world)
    third = tip(world)
    assert ids(as_json(client.get(f"{URL}.json"))) == [third.number, second.number]


def test_the_list_takes_one_query(client, world, django_assert_num_queries):
    for _ in range(3):
        tip(world, photos=[jpeg()])
    case_in(world, Status.IN_PROGRESS)
    with django_assert_num_queries(1):
        body = as_json(client.get(f"{URL}.json"))
    assert len(body) == 4 and sum(1 for r in body if r["media_url"]) == 3
    with django_assert_num_queries(2):  # the codes are checked, then one query
        as_xml(client.get(f"{URL}.xml?service_code=BJ0101&status=open"))
