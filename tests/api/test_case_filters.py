"""The case list's filters (cases.api.filters.CaseFilter): each one keeps the
cases it names and drops the others, a bad value is a 400 naming the
parameter, and no filter reaches past what the caller may see."""

import datetime as dt
from urllib.parse import quote

import pytest
from django.utils import timezone

from cases.models import Case, Category, Light, Source, Status
from tests.api.helpers import client_for, error
from tests.cases.conftest import IN_G1, case_in

pytestmark = pytest.mark.django_db

IN_G5 = (119.95, 31.73)  # the grid of the small city's second community


@pytest.fixture
def two(world):
    """``a``: dispatched in community 1, green, CGJ, filed now. ``b``:
    registered in community 2, red and supervised, SZGS, another category,
    filed two days ago."""
    b = case_in(
        world, Status.REGISTERED, point=IN_G5, reporter=world.dispatcher, source=Source.HOTLINE
    )
    a = case_in(world, Status.DISPATCHED)
    other = Category.objects.filter(is_active=True).exclude(pk=world.category.pk).first()
    Case.objects.filter(pk=a.pk).update(light=Light.GREEN, is_supervised=False)
    Case.objects.filter(pk=b.pk).update(
        department=world.szgs,
        category=other,
        light=Light.RED,
        is_supervised=True,
        created_at=timezone.now() - dt.timedelta(days=2),
    )
    return a, b, other


def listed(user, query: str) -> list[int]:
    response = client_for(user).get(f"/api/v1/cases/?{query}")
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def _box(point, half=0.001) -> str:
    return f"{point[0] - half},{point[1] - half},{point[0] + half},{point[1] + half}"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=dispatched", "a"),
        ("status=registered", "b"),
        ("status=registered&status=dispatched", "ab"),
        ("category={category}", "a"),
        ("category={other}", "b"),
        ("department=CGJ", "a"),
        ("department=SZGS", "b"),
        ("area={community}", "a"),
        ("area={community2}", "b"),
        ("area={subdistrict}", "ab"),
        ("light=green", "a"),
        ("light=red", "b"),
        ("light=yellow", ""),
        ("overdue=false", "a"),
        ("overdue=true", "b"),
        ("supervised=false", "a"),
        ("supervised=true", "b"),
        ("supervised=TRUE", "b"),
        ("overdue=No", "a"),
        ("created_after={day_ago}", "a"),
        ("created_before={day_ago}", "b"),
        ("created_after={three_days_ago}&created_before={day_ago}", "b"),
        ("bbox={box_a}", "a"),
        ("bbox={box_b}", "b"),
        ("light=", "ab"),  # blank: not given
    ],
)
def test_each_filter_keeps_what_it_names_and_drops_the_rest(world, two, query, expected):
    a, b, other = two
    now = timezone.now()
    query = query.format(
        category=world.category.code,
        other=other.code,
        community=world.city.community.pk,
        community2=world.city.community2.pk,
        subdistrict=world.city.subdistrict.pk,
        day_ago=quote((now - dt.timedelta(days=1)).isoformat()),
        three_days_ago=quote((now - dt.timedelta(days=3)).isoformat()),
        box_a=_box(IN_G1),
        box_b=_box(IN_G5),
    )
    ids = set(listed(world.dispatcher, query))
    assert ids == {case.pk for name, case in (("a", a), ("b", b)) if name in expected}, query


def test_the_ordering_filter_orders_the_pages(world, two):
    a, b, _other = two
    assert listed(world.dispatcher, "") == [a.pk, b.pk]  # newest first by default
    assert listed(world.dispatcher, "ordering=-created_at") == [a.pk, b.pk]
    assert listed(world.dispatcher, "ordering=created_at") == [b.pk, a.pk]


@pytest.mark.parametrize(
    "query",
    ["light=purple", "category=1234567", "area=0", "area=1.5", "created_before=2026-13-01",
     "status=dispatched&status=lost", "supervised=yes please", "department=" + "X" * 33],
)  # fmt: skip
def test_a_bad_value_is_a_400_naming_its_parameter(world, two, query):
    body = error(client_for(world.dispatcher).get(f"/api/v1/cases/?{query}"), 400, "invalid")
    assert list(body["fields"]) == [query.split("=")[0]]


def test_an_area_that_does_not_exist_is_named(world, two):
    body = error(client_for(world.dispatcher).get("/api/v1/cases/?area=999999"), 400, "invalid")
    assert "area" in body["fields"]


def test_a_filter_never_shows_a_case_the_caller_may_not_see(world, two):
    a, b, _other = two
    # the CGJ handler sees its dispatched case, and SZGS's registered one not at all
    assert listed(world.handler, "department=CGJ") == [a.pk]
    assert listed(world.handler, "department=SZGS") == []
    assert listed(world.handler, f"area={world.city.community2.pk}") == []
    # a dispatcher of another subdistrict finds neither, whatever it asks for
    assert listed(world.far_dispatcher, f"area={world.city.subdistrict.pk}") == []
    assert listed(world.far_dispatcher, "supervised=true") == []
    # the supervisor of the district sees both through the same filters
    assert listed(world.supervisor, "supervised=true") == [b.pk]


def test_the_list_refuses_anyone_not_signed_in(world, two):
    from rest_framework.test import APIClient

    # 403, not 401: the session authenticator comes first and asks for no challenge
    error(APIClient().get("/api/v1/cases/?light=red"), 403, "not_authenticated")
