"""GET /api/v1/events/?since=N: what a client missed, for the groups it may follow."""

import pytest
from rest_framework.test import APIClient

from cases import services
from cases.audience import area_group, case_group, department_group, user_group
from cases.models import CaseEvent, Status
from tests.api.helpers import client_for, error
from tests.cases.conftest import IN_G4, case_in, fresh, report

pytestmark = pytest.mark.django_db
URL = "/api/v1/events/"


def latest_id() -> int:
    return CaseEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def events(user, **params):
    response = client_for(user).get(URL, params)
    assert response.status_code == 200, response.content
    return response.json()


def test_a_handler_gets_their_departments_events_since_n_and_no_others(world):
    since = latest_id()
    mine = case_in(world, Status.DISPATCHED)  # to CGJ
    theirs = case_in(world, Status.REGISTERED)
    services.case_dispatch(case=theirs, actor=fresh(world.dispatcher), department=world.szgs)

    page = events(world.handler, since=since)
    assert {e["case_id"] for e in page["events"]} == {mine.pk}
    assert [e["action"] for e in page["events"]] == ["dispatched"]
    assert page["has_more"] is False
    assert page["last_id"] == page["events"][-1]["id"]
    other = events(world.other_handler, since=since)
    assert {e["case_id"] for e in other["events"]} == {theirs.pk}

    # Nothing new since the last id: an empty page that keeps the cursor.
    again = events(world.handler, since=page["last_id"])
    assert again == {"events": [], "last_id": page["last_id"], "has_more": False}


def test_the_message_is_the_pushed_shape_without_personal_data(world):
    since = latest_id()
    case = case_in(world, Status.DISPATCHED)
    (event,) = events(world.handler, since=since)["events"]
    assert event["type"] == "case.event" and event["version"] == 1
    assert event["case_number"] == case.number
    assert event["department_id"] == world.cgj.pk
    assert event["status"] == Status.DISPATCHED
    assert set(event) == {
        "type", "version", "id", "action", "at", "actor_id", "from_status", "to_status",
        "case_id", "case_number", "case_version", "status", "light", "due_at",
        "department_id", "command_level", "grid_id", "area_path",
    }  # fmt: skip


def test_a_case_that_left_the_queue_is_announced_to_the_queue_it_left(world):
    case = case_in(world, Status.DISPATCHED)
    since = latest_id()
    services.case_return(case=case, actor=fresh(world.handler), reason="不属于本部门")
    services.case_dispatch(case=case, actor=fresh(world.dispatcher), department=world.szgs)
    page = events(world.handler, since=since)
    assert [e["action"] for e in page["events"]] == ["returned"]
    # in a resync the case fields are the case as it is now
    assert page["events"][0]["department_id"] == world.szgs.pk


def test_grid_workers_dispatchers_supervisors_and_reporters(world):
    since = latest_id()
    in_g1 = report(world)
    in_g4 = report(world, point=IN_G4, reporter=world.other_worker)
    ids = lambda user: {e["case_id"] for e in events(user, since=since)["events"]}  # noqa: E731
    assert ids(world.grid_worker) == {in_g1.pk}
    assert ids(world.other_worker) == {in_g4.pk}
    assert ids(world.dispatcher) == {in_g1.pk, in_g4.pk}
    assert ids(world.supervisor) == {in_g1.pk, in_g4.pk}
    assert ids(world.far_dispatcher) == set()
    assert ids(world.far_supervisor) == set()
    assert ids(world.citizen) == set()
    assert ids(world.admin) == {in_g1.pk, in_g4.pk}
    tip = report(world, reporter=world.citizen, source="citizen")
    assert ids(world.citizen) == {tip.pk}  # their own report, through user.<id>


def test_chosen_groups_are_checked_like_subscriptions(world):
    since = latest_id()
    case = case_in(world, Status.DISPATCHED)
    page = events(world.handler, since=since, group=[case_group(case.pk)])
    assert {e["case_id"] for e in page["events"]} == {case.pk}
    g1 = world.city.grids["320402001001001"]
    page = events(world.dispatcher, since=since, group=[area_group(g1.pk)])
    assert {e["case_id"] for e in page["events"]} == {case.pk}

    for user, group in [
        (world.handler, department_group(world.szgs.pk)),
        (world.other_handler, case_group(case.pk)),
        (world.grid_worker, area_group(world.city.city.pk)),
        (world.handler, user_group(world.other_handler.pk)),
    ]:
        response = client_for(user).get(URL, {"since": since, "group": group})
        body = error(response, 403, "permission_denied")
        assert group in body["message"]


def test_pages_of_at_most_limit(world):
    since = latest_id()
    for _ in range(3):
        case_in(world, Status.DISPATCHED)  # reported, registered, dispatched
    first = events(world.dispatcher, since=since, limit=5)
    assert len(first["events"]) == 5 and first["has_more"] is True
    ids = [e["id"] for e in first["events"]]
    assert ids == sorted(ids)
    rest = events(world.dispatcher, since=first["last_id"], limit=1000)
    assert rest["has_more"] is False
    assert len(first["events"]) + len(rest["events"]) == 9
    assert rest["events"][0]["id"] > first["last_id"]


@pytest.mark.parametrize(
    "params, field",
    [
        ({}, "since"),
        ({"since": "x"}, "since"),
        ({"since": "-1"}, "since"),
        ({"since": "99999999999999999999"}, "since"),
        ({"since": "0", "limit": "0"}, "limit"),
        ({"since": "0", "limit": "1001"}, "limit"),
        ({"since": "0", "group": "dept"}, "group"),
        ({"since": "0", "group": "team.3"}, "group"),
        ({"since": "0", "group": "dept.\x00"}, "group"),
    ],
)
def test_bad_queries_are_refused_with_the_field_named(world, params, field):
    body = error(client_for(world.handler).get(URL, params), 400, "invalid")
    assert field in body["fields"]


def test_signed_out_callers_are_refused(world):
    response = APIClient().get(URL, {"since": 0})
    assert response.status_code in (401, 403)
    assert "error" in response.json()
