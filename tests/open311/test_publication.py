"""The publication policy of the anonymous Open311 feed (OPEN311_PUBLICATION):
which cases GET requests, one request and tokens show, and how a case not
filed by a citizen is generalised; each rule both ways, in both formats."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from cases import services
from cases.models import Case, Source, Status
from cases.open311.publication import publication
from tests.cases.conftest import case_in, jpeg, report

from .conftest import as_json, as_xml, errors, rows

pytestmark = pytest.mark.django_db

URL = "/open311/v2/requests"
# In grid G1, with more decimals than the feed shows for staff reports.
PRECISE = (119.912345, 31.728765)
PRIVATE_TEXT = "3栋2单元张先生家门口, 电话 13800000000"
PRIVATE_ADDRESS = "青洋花园 3 栋 2 单元"


@pytest.fixture
def client() -> Client:
    return Client()


def listed(client, fmt: str = "json", query: str = "") -> dict[str, dict]:
    """The rows of GET requests by id, as text in XML, typed in JSON."""
    response = client.get(f"{URL}.{fmt}{query}")
    body = as_json(response) if fmt == "json" else rows(as_xml(response))
    return {row["service_request_id"]: row for row in body}


def one(client, case: Case, fmt: str = "json") -> dict | None:
    """The row of GET requests/{id}, or None when it is a 404."""
    response = client.get(f"{URL}/{case.number}.{fmt}")
    if response.status_code == 404:
        errors(response, 404)
        return None
    body = as_json(response) if fmt == "json" else rows(as_xml(response))
    (row,) = body
    return row


def token_resolves(client, case: Case) -> bool:
    response = client.get(f"/open311/v2/tokens/{case.tracking_token}.json")
    if response.status_code == 404:
        errors(response, 404)
        return False
    return as_json(response)[0]["service_request_id"] == case.number


def citizen_tip(world, **kwargs) -> Case:
    kwargs.setdefault("point", PRECISE)
    return report(world, reporter=None, source=Source.CITIZEN, **kwargs)


def staff_report(world, source: str) -> Case:
    reporter = world.grid_worker if source == Source.GRID_WORKER else world.dispatcher
    case = report(
        world,
        point=PRECISE,
        reporter=reporter,
        source=source,
        description=PRIVATE_TEXT,
        address=PRIVATE_ADDRESS,
        photos=[jpeg()],
        media_url="https://img.example.com/staff.jpg",
    )
    return services.case_register(case=case, actor=world.dispatcher)


def with_policy(settings, **changes) -> None:
    settings.OPEN311_PUBLICATION = {**settings.OPEN311_PUBLICATION, **changes}


# --- Which cases ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_tip_is_published_once_registered_not_before(client, world, fmt):
    case = citizen_tip(world)

    assert case.number not in listed(client, fmt)
    assert one(client, case, fmt) is None
    assert not token_resolves(client, case)

    services.case_register(case=case, actor=world.dispatcher)

    assert case.number in listed(client, fmt)
    assert one(client, case, fmt)["service_request_id"] == case.number
    assert token_resolves(client, case)


@pytest.mark.parametrize("status", list(Status))
def test_each_status_is_published_by_default_except_reported_and_rejected(client, world, status):
    case = case_in(world, status, reporter=None, source=Source.CITIZEN)
    # A tip being verified on site is still a report: not yet taken up.
    published = status not in (Status.REPORTED, Status.VERIFYING, Status.REJECTED)

    assert (case.number in listed(client)) is published
    assert (one(client, case) is not None) is published
    assert token_resolves(client, case) is published


def test_a_merged_duplicate_is_not_published(client, world):
    original = case_in(world, Status.DISPATCHED)
    merged = services.case_merge(
        case=citizen_tip(world), actor=world.dispatcher, original=original.pk
    )

    assert set(listed(client)) == {original.number}
    assert one(client, merged) is None


def test_cases_of_categories_citizens_do_not_see_are_never_published(client, world, settings):
    with_policy(settings, statuses=list(Status.values))  # even with every status
    hidden = world.category
    hidden.citizen_visible = False
    hidden.save()
    case = case_in(world, Status.IN_PROGRESS)

    assert listed(client) == {}
    assert one(client, case) is None


# --- How a case is shown ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("source", [Source.HOTLINE, Source.GRID_WORKER, Source.SENSOR])
def test_a_staff_report_is_generalised(client, world, source, fmt):
    case = staff_report(world, source)

    for row in (listed(client, fmt)[case.number], one(client, case, fmt)):
        assert row["description"] == row["service_name"] == "Water supply manhole cover"
        assert float(row["lat"]) == 31.729 and float(row["long"]) == 119.912
        assert row["address"] in ("", None)  # XML writes an empty element
        assert row["media_url"] is None
        text = str(row)
        assert "13800000000" not in text and "青洋花园" not in text


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_citizen_tip_keeps_its_own_text_point_and_photo(client, world, fmt):
    case = citizen_tip(
        world,
        description="井盖缺失, 小心",
        address="延陵西路 88 号",
        photos=[jpeg()],
    )
    services.case_register(case=case, actor=world.dispatcher)
    photo = case.attachments.get()

    for row in (listed(client, fmt)[case.number], one(client, case, fmt)):
        assert row["description"] == "井盖缺失, 小心"
        assert row["address"] == "延陵西路 88 号"
        assert float(row["lat"]) == PRECISE[1] and float(row["long"]) == PRECISE[0]
        assert row["media_url"] == f"http://testserver/api/v1/photos/{photo.pk}/original/"


# --- The policy is configuration -------------------------------------------------------------


def test_the_statuses_published_are_configurable(client, world, settings):
    with_policy(settings, statuses=["reported", "closed"])
    reported = citizen_tip(world)
    closed = case_in(world, Status.CLOSED, reporter=None, source=Source.CITIZEN)
    registered = case_in(world, Status.REGISTERED, reporter=None, source=Source.CITIZEN)

    assert set(listed(client)) == {reported.number, closed.number}
    assert one(client, registered) is None


def test_the_sources_shown_as_filed_and_the_rounding_are_configurable(client, world, settings):
    with_policy(settings, exact_sources=["citizen", "hotline"], decimals=2)
    hotline = staff_report(world, Source.HOTLINE)
    patrol = staff_report(world, Source.GRID_WORKER)

    rows_by_id = listed(client)

    assert rows_by_id[hotline.number]["description"] == PRIVATE_TEXT
    assert (rows_by_id[hotline.number]["lat"], rows_by_id[hotline.number]["long"]) == (
        round(PRECISE[1], 7),
        round(PRECISE[0], 7),
    )
    assert rows_by_id[patrol.number]["description"] == "Water supply manhole cover"
    assert (rows_by_id[patrol.number]["lat"], rows_by_id[patrol.number]["long"]) == (31.73, 119.91)


@pytest.mark.parametrize(
    "changes",
    [
        {"statuses": ["registred"]},
        {"exact_sources": ["citizens"]},
        {"decimals": 9},
    ],
)
def test_a_policy_with_a_typo_is_refused(settings, changes):
    with_policy(settings, **changes)
    with pytest.raises(ImproperlyConfigured):
        publication()


def test_the_default_policy_is_the_documented_one(settings):
    policy = publication()
    assert set(policy.statuses) == set(Status.values) - {
        Status.REPORTED,
        Status.VERIFYING,
        Status.REJECTED,
    }
    assert policy.exact_sources == {Source.CITIZEN}
    assert policy.decimals == 3
