"""/api/v1/calendar/years/: the calendar years read-only, for staff; and no report in
the century is refused for want of a calendar."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from cases.models import Case
from tests.api.helpers import client_for, error
from tests.cases.conftest import IN_G1
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/calendar/years/"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize("who", ["dispatcher", "handler", "grid_worker", "supervisor", "admin"])
def test_staff_read_the_years_with_their_source(world, who):
    response = client_for(world.users[who]).get(LIST)

    assert response.status_code == 200
    years = {row["year"]: row for row in response.json()}
    assert set(range(2000, 2100)) <= set(years)
    assert years[2026]["source"] == "official" and years[2026]["provisional"] is False
    assert years[2030]["source"] == "provisional" and years[2030]["provisional"] is True


def test_a_year_lists_its_days(world):
    response = client_for(world.dispatcher).get(f"{LIST}2030/")

    assert response.status_code == 200
    body = response.json()
    assert body["provisional"] is True
    days = {day["date"]: day for day in body["days"]}
    assert days["2030-02-06"] == {"date": "2030-02-06", "kind": "holiday", "name": "春节补休"}


def test_an_admin_user_without_a_role_reads_them():
    assert client_for(UserFactory(is_staff=True)).get(LIST).status_code == 200


def test_a_citizen_and_a_user_without_a_role_are_refused(world):
    error(client_for(world.citizen).get(LIST), 403, "permission_denied")
    error(client_for(UserFactory()).get(f"{LIST}2030/"), 403, "permission_denied")


def test_anonymous_callers_are_refused(world):
    error(APIClient().get(LIST), 403, "not_authenticated")


def test_an_unknown_year_is_not_found(world):
    error(client_for(world.dispatcher).get(f"{LIST}2100/"), 404, "not_found")


def test_the_calendar_is_read_only(world):
    response = client_for(world.admin).post(LIST, {"year": 2100}, format="json")
    error(response, 405, "method_not_allowed")


# --- No deadline in the century is refused -----------------------------------------------


@pytest.fixture
def clock(monkeypatch):
    """Set the time the server reads (timezone.now)."""

    def set_now(moment: dt.datetime):
        monkeypatch.setattr(timezone, "now", lambda: moment)

    return set_now


def report_now(world):
    data = {"category": "BJ0101", "description": "井盖缺失", "lng": IN_G1[0], "lat": IN_G1[1]}
    return client_for(world.grid_worker).post("/api/v1/cases/", data, format="json")


@pytest.mark.parametrize("year", [2026, 2027, 2030, 2064, 2098])
def test_a_report_at_the_end_of_a_year_gets_a_deadline_in_the_next(world, clock, year):
    clock(dt.datetime(year, 12, 31, 17, tzinfo=SHANGHAI))

    response = report_now(world)

    assert response.status_code == 201, response.content
    due_at = parse_datetime(response.json()["due_at"]).astimezone(SHANGHAI)
    assert due_at.year == year + 1


def test_a_deadline_running_out_of_the_century_is_still_refused(world, clock):
    clock(dt.datetime(2099, 12, 31, 17, tzinfo=SHANGHAI))

    body = error(report_now(world), 503, "calendar_missing")

    assert "2100" in body["message"]
    assert not Case.objects.exists()
