"""Every kind of page works under the Content-Security-Policy: the browser
fixtures fail a test on any console error or CSP violation (conftest.py),
so each page here is loaded and used, not only fetched."""

import pytest
from playwright.sync_api import expect

from tests.cases.conftest import world  # noqa: F401 - the small working city
from tests.factories import DEMO_PASSWORD, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def city(reference_data, world):  # noqa: F811
    return world


def test_home_and_sign_in_pages_and_the_language_menu(city, server_stack, page):
    page.goto(f"{server_stack.url}/")
    expect(page.locator("h2").first).to_have_text("Jurisdiction")

    # The language menu applies a choice without a button (static/governance/site.js).
    page.select_option("#language", "zh-hans")
    expect(page.locator("h2").first).to_have_text("辖区")
    page.select_option("#language", "en")
    expect(page.locator("h2").first).to_have_text("Jurisdiction")

    page.goto(f"{server_stack.url}/accounts/login/")
    page.fill("#id_username", "handler")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=8000)


def test_admin_pages(city, server_stack, signed_in):
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    page = signed_in(root).new_page()

    page.goto("/admin/")
    expect(page.locator("#user-tools")).to_be_visible()
    page.goto("/admin/organisation/user/")
    page.click("#action-toggle")  # the changelist's own script
    expect(page.locator(".action-counter")).to_contain_text("selected")
    page.goto(f"/admin/organisation/user/{root.pk}/change/")
    expect(page.locator("#id_username")).to_have_value("root")


def test_api_docs_and_the_browsable_api(city, server_stack, signed_in):
    page = signed_in(city.dispatcher).new_page()

    page.goto("/api/v1/docs/")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=15000)

    page.goto("/api/v1/categories/")
    expect(page.locator(".response-info")).to_contain_text("HTTP 200 OK")
    page.goto("/api/v1/cases/")
    expect(page.locator(".response-info")).to_contain_text("HTTP 200 OK")
