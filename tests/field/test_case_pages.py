"""The grid worker's cases on the phone (field/case_pages.py): my cases and
tasks, one case's page, and the verify (核实) / inspect (核查) form, which
takes the registry's actions through their services as the API does."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from cases import services
from cases.models import Case, CaseAttachment, CaseEvent, Source, Status, Verification
from tests.cases.conftest import IN_G4, case_in, jpeg, report
from tests.cases.untranslated import english_words

pytestmark = pytest.mark.django_db

CASES = "/field/cases/"


def page_of(case) -> str:
    return f"{CASES}{case.pk}/"


def client_as(user, language="en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def tip_to_verify(world, point=None):
    kwargs = {"point": point} if point else {}
    tip = report(world, source=Source.CITIZEN, reporter=None, **kwargs)
    return services.case_send_to_verify(case=tip, actor=world.dispatcher)


def field_error(response, field: str) -> str:
    """The text shown next to ``field`` on the page."""
    match = re.search(rf'data-error-for="{field}">([^<]*)<', response.content.decode())
    assert match, f"no error place for {field}"
    return match.group(1).strip()


def recorded(case) -> tuple:
    """What a refused check must leave as it was."""
    stored = Case.objects.get(pk=case.pk)
    return (
        stored.status,
        stored.version,
        CaseEvent.objects.filter(case=case).count(),
        CaseAttachment.objects.filter(case=case).count(),
    )


# --- My cases -------------------------------------------------------------------------


def config_of(response) -> dict:
    match = re.search(
        r'<script id="workbench-config" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    return json.loads(match.group(1))


def test_my_cases_lists_the_tasks_of_my_grids_and_my_reports_for_the_live_client(world):
    response = client_as(world.grid_worker).get(CASES)
    assert response.status_code == 200
    config = config_of(response)
    grid = world.city.grids["320402001001001"].pk
    assert [
        (q["key"], q["query"].get("task") or q["query"].get("mine")) for q in config["queues"]
    ] == [
        ("verify", "verify"),
        ("inspect", "inspect"),
        ("mine", "true"),
    ]
    assert config["queues"][0]["ids"] == [grid] and config["queues"][0]["statuses"] == ["verifying"]
    # Only the worker's own groups: their user group and today's grid.
    assert config["groups"] == [f"user.{world.grid_worker.pk}", f"area.{grid}"]
    assert config["urls"]["case_page"] == "/field/cases/{id}/"


@pytest.mark.parametrize(
    ("show", "keys"),
    [
        ("verify", ["verify"]),
        ("inspect", ["inspect"]),
        ("mine", ["mine"]),
        ("nonsense", ["verify", "inspect", "mine"]),
    ],
)
def test_a_chip_shows_one_list(world, show, keys):
    response = client_as(world.grid_worker).get(CASES, {"show": show})
    assert [q["key"] for q in config_of(response)["queues"]] == keys


def test_my_cases_asks_to_sign_in_first(world):
    response = Client().get(CASES)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_case_list_api_gives_my_reports_with_mine(world):
    mine = report(world)
    theirs = report(world, reporter=world.dispatcher, source=Source.HOTLINE)
    client = client_as(world.grid_worker)
    ids = {c["id"] for c in client.get("/api/v1/cases/", {"mine": "true"}).json()["results"]}
    assert ids == {mine.pk}
    others = {c["id"] for c in client.get("/api/v1/cases/", {"mine": "false"}).json()["results"]}
    assert theirs.pk in others and mine.pk not in others
    assert client.get("/api/v1/cases/", {"mine": "maybe"}).status_code == 400


# --- The case page --------------------------------------------------------------------


def test_the_case_page_shows_status_timeline_in_words_photos_and_the_verify_form(world):
    case = tip_to_verify(world)
    response = client_as(world.grid_worker).get(page_of(case))
    assert response.status_code == 200
    html = response.content.decode()
    assert case.number in html
    assert "Being verified on site" in html or "verif" in html.lower()
    assert "Sent to a grid worker to check on site" in html  # the event, in words
    assert "verification_requested" not in html.replace('"verification_requested"', "")
    assert 'id="check-form"' in html and f'action="/field/cases/{case.pk}/verify/"' in html
    assert 'capture="environment"' in html
    assert f'name="expected_version" value="{case.version}"' in html
    assert '<script id="grid-outline" type="application/json">' in html
    # No inline script: only data the page's modules read.
    scripts = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert all('type="application/json"' in tag for tag in scripts)


def test_a_worker_of_another_grid_gets_404_for_the_page_and_the_form(world):
    case = tip_to_verify(world)
    client = client_as(world.other_worker)
    assert client.get(page_of(case)).status_code == 404
    before = recorded(case)
    response = client.post(f"{page_of(case)}verify/", {"outcome": "fail", "note": "不属实"})
    assert response.status_code == 404
    assert recorded(case) == before


def test_a_dispatcher_sees_the_case_without_the_verify_form_and_is_refused_in_words(world):
    case = tip_to_verify(world)
    client = client_as(world.dispatcher)
    response = client.get(page_of(case))
    assert response.status_code == 200
    assert 'id="check-form"' not in response.content.decode()
    before = recorded(case)
    response = client.post(f"{page_of(case)}verify/", {"outcome": "fail", "note": "不属实"})
    assert response.status_code == 403
    assert field_error(response, "form")  # the refusal's reason, in words
    assert recorded(case) == before


def test_the_inspect_form_shows_for_a_handled_case_in_my_grid(world):
    case = case_in(world, Status.HANDLED, reporter=world.dispatcher, source=Source.HOTLINE)
    html = client_as(world.grid_worker).get(page_of(case)).content.decode()
    assert f'action="/field/cases/{case.pk}/inspect/"' in html
    assert "Reported fixed" in html and "已更换井盖" in html  # the department's note
    assert 'id="photos-after"' in html  # the report-back's photo


# --- Verify and inspect through the form ------------------------------------------------


def test_verify_pass_with_a_photo_marks_the_report_verified(world):
    case = tip_to_verify(world)
    response = client_as(world.grid_worker).post(
        f"{page_of(case)}verify/",
        {"outcome": "pass", "note": "属实", "photos": [jpeg()], "expected_version": case.version},
    )
    assert response.status_code == 302 and response["Location"] == page_of(case)
    stored = Case.objects.get(pk=case.pk)
    assert (stored.status, stored.verification) == (Status.REPORTED, Verification.PASSED)
    event = CaseEvent.objects.filter(case=case).latest("id")
    assert (event.action, event.actor, event.payload["note"]) == (
        "verified",
        world.grid_worker,
        "属实",
    )
    assert [a.kind for a in event.attachments.all()] == ["verify"]


def test_verify_pass_without_a_photo_says_so_next_to_the_photos_and_stores_nothing(world):
    case = tip_to_verify(world)
    before = recorded(case)
    response = client_as(world.grid_worker).post(
        f"{page_of(case)}verify/", {"outcome": "pass", "note": "属实"}
    )
    assert response.status_code == 400
    assert "photo" in field_error(response, "photos")
    assert recorded(case) == before


def test_verify_fail_without_a_reason_says_so_next_to_the_note_and_stores_nothing(world):
    case = tip_to_verify(world)
    before = recorded(case)
    client = client_as(world.grid_worker)
    response = client.post(
        f"{page_of(case)}verify/", {"outcome": "fail", "note": "  ", "photos": [jpeg()]}
    )
    assert response.status_code == 400
    assert field_error(response, "note")
    assert recorded(case) == before
    # A browser without the page's script sends the empty file input as text.
    response = client.post(f"{page_of(case)}verify/", {"outcome": "fail", "photos": ""})
    assert response.status_code == 400
    assert field_error(response, "note") and not field_error(response, "photos")
    assert recorded(case) == before
    # Asked for JSON (the page's script): the same refusal, placed by field.
    response = client.post(
        f"{page_of(case)}verify/", {"outcome": "fail", "note": ""}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["note"]
    assert recorded(case) == before


def test_verify_fail_with_a_reason(world):
    case = tip_to_verify(world)
    response = client_as(world.grid_worker).post(
        f"{page_of(case)}verify/", {"outcome": "fail", "note": "现场无此问题"},
        HTTP_ACCEPT="application/json",
    )  # fmt: skip
    assert response.status_code == 200 and response.json() == {"next": page_of(case)}
    stored = Case.objects.get(pk=case.pk)
    assert (stored.status, stored.verification) == (Status.REPORTED, Verification.FAILED)


def test_inspect_pass_closes_and_fail_sends_back_to_rework(world):
    passing = case_in(world, Status.HANDLED, reporter=world.dispatcher, source=Source.HOTLINE)
    failing = case_in(world, Status.HANDLED, reporter=world.dispatcher, source=Source.HOTLINE)
    client = client_as(world.grid_worker)
    assert client.post(f"{page_of(passing)}inspect/", {"outcome": "pass"}).status_code == 302
    assert Case.objects.get(pk=passing.pk).status == Status.CLOSED
    response = client.post(f"{page_of(failing)}inspect/", {"outcome": "fail", "note": "仍有缺口"})
    assert response.status_code == 302
    stored = Case.objects.get(pk=failing.pk)
    assert (stored.status, stored.rework_count) == (Status.IN_PROGRESS, 1)


def test_a_case_changed_since_the_page_was_opened_says_reload(world):
    case = tip_to_verify(world)
    before = recorded(case)
    response = client_as(world.grid_worker).post(
        f"{page_of(case)}verify/",
        {"outcome": "fail", "note": "不属实", "expected_version": case.version - 1},
    )
    assert response.status_code == 409
    assert "reload" in field_error(response, "form")
    assert recorded(case) == before


@pytest.mark.parametrize(
    ("path", "data"),
    [("verify/", {"outcome": "maybe"}), ("verify/", {}), ("look/", {"outcome": "pass"})],
)
def test_a_form_without_pass_or_fail_is_refused_in_words(world, path, data):
    case = tip_to_verify(world)
    before = recorded(case)
    response = client_as(world.grid_worker).post(f"{page_of(case)}{path}", data)
    assert response.status_code == 400
    assert field_error(response, "form")
    assert recorded(case) == before


def test_the_pages_have_no_english_left_in_chinese(world):
    task = tip_to_verify(world)
    client = client_as(world.grid_worker, language="zh-hans")
    for url in (CASES, page_of(task)):
        html = client.get(url).content.decode()
        assert english_words(html) == [], url
    refused = client.post(f"{page_of(task)}verify/", {"outcome": "pass"})
    assert english_words(refused.content.decode()) == []


def test_a_case_in_another_grid_shows_its_own_worker_the_form(world):
    case = tip_to_verify(world, point=IN_G4)
    assert 'id="check-form"' in client_as(world.other_worker).get(page_of(case)).content.decode()
