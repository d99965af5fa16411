"""The field app's home and report pages (field/reporting.py), its sign-in
landing, and who may use it: grid workers, and no one else."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from cases.models import Case, Category, Source, Status
from tests.cases.conftest import G1, IN_G1, IN_G4, case_in, jpeg
from tests.cases.untranslated import english_words
from tests.factories import DEMO_PASSWORD

pytestmark = pytest.mark.django_db

HOME, REPORT = "/field/", "/field/report/"
HOTLINE = {"source": Source.HOTLINE}  # a report that waits for verification on site


def signed_in(user, language="zh-hans") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def form(**fields):
    data = {
        "category": "BJ0101",
        "description": "井盖缺失",
        "lng": str(IN_G1[0]),
        "lat": str(IN_G1[1]),
        "address": "",
        "client_uuid": "field-key-1",
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def json_script(html: str, element_id: str):
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html)
    assert match, element_id
    return json.loads(match.group(1))


# --- Who may use it ---------------------------------------------------------------


@pytest.mark.parametrize("path", [HOME, REPORT])
def test_a_grid_worker_may_open_the_pages(world, path):
    assert signed_in(world.grid_worker).get(path).status_code == 200


@pytest.mark.parametrize("path", [HOME, REPORT])
@pytest.mark.parametrize("who", ["dispatcher", "handler", "supervisor", "citizen", "admin"])
def test_anyone_else_is_refused_the_pages(world, path, who):
    response = signed_in(world.users[who], "en").get(path)
    assert response.status_code == 403
    assert "for grid workers" in response.content.decode()


def test_a_refused_post_files_nothing_and_says_why_in_json(world):
    response = signed_in(world.dispatcher).post(REPORT, form(), HTTP_ACCEPT="application/json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not Case.objects.exists()


def test_without_signing_in_the_pages_ask_to_sign_in(world):
    response = Client().get(REPORT)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/field/report/")
    api = Client().post(REPORT, form(), HTTP_ACCEPT="application/json")
    assert api.status_code == 401 and not Case.objects.exists()


def test_a_worker_whose_only_role_is_grid_worker_lands_in_the_field_app(world):
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": "grid_worker", "password": DEMO_PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == HOME
    assert client.get("/")["Location"] == HOME


def test_a_dispatcher_lands_at_the_workbench(world):
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": "dispatcher", "password": DEMO_PASSWORD}
    )
    assert response["Location"] == "/workbench/"
    assert client.get("/").status_code == 200


# --- Home ---------------------------------------------------------------------------


def test_home_shows_my_grids_open_cases_as_pins_and_my_tasks(world):
    to_verify = case_in(world, Status.VERIFYING, **HOTLINE, reporter=world.dispatcher)
    to_inspect = case_in(world, Status.HANDLED)
    closed = case_in(world, Status.CLOSED)
    elsewhere = case_in(world, Status.VERIFYING, **HOTLINE, reporter=world.dispatcher, point=IN_G4)
    html = signed_in(world.grid_worker).get(HOME).content.decode()

    grids = json_script(html, "my-grids")
    assert [f["properties"]["code"] for f in grids["features"]] == [G1]
    assert grids["features"][0]["geometry"]["type"] == "MultiPolygon"
    pins = {pin["id"]: pin for pin in json_script(html, "case-pins")}
    assert set(pins) == {to_verify.pk, to_inspect.pk}  # not closed, not in G4
    assert pins[to_verify.pk]["light"] in ("green", "yellow", "red")
    assert pins[to_verify.pk]["location"] == {"lng": IN_G1[0], "lat": IN_G1[1]}
    verify = re.search(r'data-task="verify">(.*?)</ul>', html, re.S).group(1)
    inspect = re.search(r'data-task="inspect">(.*?)</ul>', html, re.S).group(1)
    assert f"/field/cases/{to_verify.pk}/" in verify and f"/cases/{to_inspect.pk}/" not in verify
    assert f"/field/cases/{to_inspect.pk}/" in inspect
    assert f"/field/cases/{closed.pk}/" not in html
    assert f"/field/cases/{elsewhere.pk}/" not in html
    assert 'href="/field/report/"' in html


def test_home_in_chinese_has_no_english_left(world):
    case_in(world, Status.VERIFYING, **HOTLINE, reporter=world.dispatcher)
    html = signed_in(world.grid_worker).get(HOME).content.decode()
    assert english_words(html) == []


# --- Report -------------------------------------------------------------------------


def test_the_form_offers_every_active_category_with_its_pinyin_initials(world):
    staff_only = Category.objects.get(code="BJ0102")
    staff_only.citizen_visible = False
    staff_only.save()
    html = signed_in(world.grid_worker).get(REPORT).content.decode()
    assert 'value="BJ0102"' in html  # a grid worker may report what citizens may not
    search = re.search(r'data-search="([^"]*)">\s*<input type="radio" name="category" '
                       r'value="BJ0101"', html).group(1)  # fmt: skip
    assert "jg" in search  # 井盖
    assert english_words(html) == []


def test_a_worker_files_a_case_with_photos(world):
    client = signed_in(world.grid_worker)
    response = client.post(REPORT, form(photos=[jpeg("a.jpg"), jpeg("b.jpg")]))
    assert response.status_code == 302 and response["Location"] == HOME
    case = Case.objects.get()
    assert case.reporter == world.grid_worker and case.source == Source.GRID_WORKER
    assert case.grid.code == G1 and case.category.code == "BJ0101"
    assert case.attachments.count() == 2
    assert case.number in client.get(HOME).content.decode()


def test_a_retry_with_the_same_key_files_once(world):
    client = signed_in(world.grid_worker)
    first = client.post(REPORT, form(client_uuid=None), HTTP_ACCEPT="application/json",
                        HTTP_IDEMPOTENCY_KEY="k-1")  # fmt: skip
    again = client.post(REPORT, form(client_uuid=None), HTTP_ACCEPT="application/json",
                        HTTP_IDEMPOTENCY_KEY="k-1")  # fmt: skip
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Case.objects.count() == 1


def test_a_retired_category_is_refused_next_to_the_field(world):
    world.category.is_active = False
    world.category.save()
    client = signed_in(world.grid_worker, "en")
    response = client.post(REPORT, form(), HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["category"] == [
        "This category is not in use any more. Choose another one from the list."
    ]
    page = client.post(REPORT, form())
    assert page.status_code == 400
    assert re.search(r'data-error-for="category">[^<]+<', page.content.decode())
    assert not Case.objects.exists()


def test_a_point_outside_the_city_is_refused(world):
    client = signed_in(world.grid_worker)
    response = client.post(REPORT, form(lng="100.0", lat="20.0"), HTTP_ACCEPT="application/json")
    assert response.status_code in (400, 422)
    assert "location" in response.json()["error"]["fields"]
    assert not Case.objects.exists()
