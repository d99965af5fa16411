"""/api/v1/calendar/years/: the calendar years read-only, for staff."""

import pytest
from rest_framework.test import APIClient

from tests.api.helpers import client_for, error
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/calendar/years/"


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
