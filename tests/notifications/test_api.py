"""The inbox API: one's own notifications only, newest first, read state,
and the project's error format for everything refused."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from cases import services
from cases.models import Status
from notifications.models import Notification
from tests.api.helpers import client_for, error
from tests.cases.conftest import case_in

pytestmark = pytest.mark.django_db

URL = "/api/v1/notifications/"


@pytest.fixture
def dispatched(world):
    """Three cases dispatched to the handler's department: three notifications."""
    cases = [case_in(world, Status.REGISTERED) for _ in range(3)]
    for case in cases:
        services.case_dispatch(case=case, actor=world.dispatcher)
    return cases


def mine(user):
    return Notification.objects.filter(recipient=user, channel="inbox").order_by("-id")


def test_the_inbox_lists_ones_own_notifications_newest_first(world, dispatched):
    response = client_for(world.handler).get(URL)
    assert response.status_code == 200
    items = response.json()["results"]
    assert [item["id"] for item in items] == list(mine(world.handler).values_list("pk", flat=True))
    first = items[0]
    case = dispatched[-1]
    assert first["kind"] == "dispatch" and first["kind_display"]
    assert first["case"] == {"id": case.pk, "number": case.number}
    assert first["action"] == "dispatched"
    assert first["title"] == f"Case {case.number} dispatched to your department"
    assert case.number in first["text"]
    assert first["read_at"] is None and first["is_read"] is False
    assert first["event_id"] == case.events.get(action="dispatched").pk
    # other people's inboxes are not in it
    assert client_for(world.other_handler).get(URL).json()["results"] == []


def test_the_inbox_speaks_the_requests_language(world, dispatched):
    response = client_for(world.handler).get(URL, HTTP_ACCEPT_LANGUAGE="zh-hans")
    first = response.json()["results"][0]
    assert first["title"] == f"案件 {dispatched[-1].number} 已派遣至本部门"


def test_the_inbox_pages_by_cursor(world, dispatched):
    client = client_for(world.handler)
    page = client.get(URL, {"page_size": 2}).json()
    assert len(page["results"]) == 2 and page["next"]
    rest = client.get(page["next"]).json()
    ids = [i["id"] for i in page["results"] + rest["results"]]
    assert ids == list(mine(world.handler).values_list("pk", flat=True))


def test_unread_filter_count_and_reading_one(world, dispatched):
    client = client_for(world.handler)
    newest, middle, oldest = mine(world.handler)
    assert client.get(f"{URL}unread-count/").json() == {"unread_count": 3}

    response = client.post(f"{URL}{middle.pk}/read/")
    assert response.status_code == 200
    item = response.json()
    assert item["id"] == middle.pk and item["is_read"] is True and item["read_at"]
    first_read = item["read_at"]
    # reading it again keeps the first time
    assert client.post(f"{URL}{middle.pk}/read/").json()["read_at"] == first_read

    assert client.get(f"{URL}unread-count/").json() == {"unread_count": 2}
    unread = client.get(URL, {"unread": "true"}).json()["results"]
    assert [i["id"] for i in unread] == [newest.pk, oldest.pk]
    read = client.get(URL, {"unread": "false"}).json()["results"]
    assert [i["id"] for i in read] == [middle.pk]
    for spelling in ("1", "yes", "on", "True"):
        assert [i["id"] for i in client.get(URL, {"unread": spelling}).json()["results"]] == [
            newest.pk,
            oldest.pk,
        ]
    # blank is "not given": everything
    every = client.get(URL, {"unread": ""}).json()["results"]
    assert [i["id"] for i in every] == [newest.pk, middle.pk, oldest.pk]


def test_read_all_or_up_to_what_was_shown(world, dispatched):
    client = client_for(world.handler)
    newest, middle, _oldest = mine(world.handler)
    response = client.post(f"{URL}read-all/", {"up_to": middle.pk}, format="json")
    assert response.status_code == 200
    assert response.json() == {"marked": 2, "unread_count": 1}
    assert list(mine(world.handler).filter(read_at__isnull=True)) == [newest]

    response = client.post(f"{URL}read-all/", {}, format="json")
    assert response.json() == {"marked": 1, "unread_count": 0}
    assert client.post(f"{URL}read-all/").json() == {"marked": 0, "unread_count": 0}
    # another user's inbox is untouched
    assert mine(world.dispatcher).count() == 0


def test_another_users_notification_does_not_exist(world, dispatched):
    theirs = mine(world.handler).first()
    body = error(client_for(world.other_handler).post(f"{URL}{theirs.pk}/read/"), 404, "not_found")
    assert body["message"] == "No such notification."
    assert mine(world.handler).filter(read_at__isnull=False).count() == 0


@pytest.mark.parametrize("pk", ["999999999", "9223372036854775807", "99999999999999999999"])
def test_unknown_ids_are_not_found(world, dispatched, pk):
    error(client_for(world.handler).post(f"{URL}{pk}/read/"), 404, "not_found")


@pytest.mark.parametrize("path", ["abc/read/", "-1/read/", "1.5/read/", "%20/read/"])
def test_malformed_ids_are_not_found(world, path):
    error(client_for(world.handler).post(f"{URL}{path}"), 404, "not_found")


@pytest.mark.parametrize("value", ["maybe", "2", "truthy"])
def test_a_bad_unread_filter_is_a_clear_400(world, value):
    body = error(client_for(world.handler).get(URL, {"unread": value}), 400, "invalid")
    assert "unread" in body["fields"]


@pytest.mark.parametrize("value", ["first", 0, -3, 2**63, True, [1]])
def test_a_bad_up_to_is_a_clear_400(world, dispatched, value):
    client = client_for(world.handler)
    body = error(client.post(f"{URL}read-all/", {"up_to": value}, format="json"), 400, "invalid")
    assert "up_to" in body["fields"]
    assert mine(world.handler).filter(read_at__isnull=False).count() == 0


@pytest.mark.parametrize("payload", ["[1, 2]", "{", '"all"'])
def test_a_malformed_read_all_body_is_a_clear_400(world, payload):
    response = client_for(world.handler).post(
        f"{URL}read-all/", payload, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] in ("invalid", "malformed")


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", ""), ("get", "unread-count/"), ("post", "1/read/"), ("post", "read-all/")],
)
def test_anonymous_requests_are_refused(world, method, path):
    response = getattr(APIClient(), method)(f"{URL}{path}")
    assert response.status_code in (401, 403)
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", ""), ("delete", "1/read/"), ("get", "1/read/"), ("put", "read-all/")],
)
def test_other_methods_are_refused(world, method, path):
    error(getattr(client_for(world.handler), method)(f"{URL}{path}"), 405, "method_not_allowed")


def test_a_citizens_inbox_item_is_public_safe(world):
    from cases.models import Source
    from tests.cases.conftest import report

    case = report(world, reporter=world.citizen, source=Source.CITIZEN)
    services.case_reject(case=case, actor=world.dispatcher, reason="内部: 不予受理的理由")
    [item] = client_for(world.citizen).get(URL).json()["results"]
    assert item["kind"] == "tip_status"
    assert item["title"] == f"Your report {case.number} was not taken up"
    assert "内部" not in item["text"] and case.tracking_token in item["text"]
