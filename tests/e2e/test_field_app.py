"""A grid worker on a phone (360 x 740, touch, GPS) in the field app
(/field/), in real Chromium against the servers bin/run starts: home with
tasks and pins, a report filed in a few taps with two photos, a report made
without signal that waits on the phone (through a reload) and is filed once
when the signal returns, a queued report the server refuses shown with why
and fixed, and the app installable. Screenshots go to $FIELD_SCREENS
(default: field-app-screens in the temporary directory)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from cases.models import Case, CaseAttachment, Category, Source, Status
from tests.api.images import encode, two_tone
from tests.cases.conftest import IN_G1, case_in, world  # noqa: F401 - the small working city
from tests.cases.untranslated import english_words
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, session_cookie

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SCREENS = Path(os.environ.get("FIELD_SCREENS") or Path(tempfile.gettempdir()) / "field-app-screens")
PHONE = {"width": 360, "height": 740}
LOCALES = {"zh": "zh-CN", "en": "en-GB"}
OFFLINE = r"ERR_INTERNET_DISCONNECTED|Failed to fetch"
# The servers shed requests when the machine is busy (503 with Retry-After);
# the app asks again (the grid lookup) or keeps the report queued.
BUSY = r"status of 503"


@pytest.fixture
def city(reference_data, world):  # noqa: F811
    return world


@pytest.fixture
def worker_phone(city, signed_in, browser_errors):
    """``worker_phone(lang)``: a page on the grid worker's phone, standing in G1."""
    browser_errors.allow(BUSY)

    def open_page(lang="en"):
        context = signed_in(
            city.grid_worker,
            locale=LOCALES[lang],
            viewport=PHONE,
            is_mobile=True,
            has_touch=True,
            geolocation={"longitude": IN_G1[0], "latitude": IN_G1[1]},
            permissions=["geolocation"],
        )
        return context.new_page()

    return open_page


class Taps:
    """The worker's taps on the page, counted."""

    def __init__(self, page):
        self.page, self.count = page, 0

    def __call__(self, selector: str):
        self.count += 1
        self.page.locator(selector).first.tap()


def photo_file(name="street.jpg", size=(3000, 2000)) -> dict:
    return {"name": name, "mimeType": "image/jpeg", "buffer": encode(two_tone(size), "JPEG")}


def screenshot(page, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENS / f"{name}.png", full_page=True)


def located(page) -> None:
    """The page has put the pin where the phone stands, in its grid."""
    expect(page.locator("#lng")).to_have_value(f"{IN_G1[0]:.6f}")
    expect(page.locator("#location-grid")).to_contain_text("320402001001001")


def service_worker_ready(page) -> None:
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_function(
        "caches.open('field-pages').then(c => c.keys()).then(k => k.length >= 2)"
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_worker_files_a_case_with_two_photos_in_three_taps(worker_phone, lang):
    page = worker_phone(lang)
    page.goto("/field/report/")
    located(page)  # no tap: the GPS is asked as the page opens
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    if lang == "zh":
        assert page.locator("html").get_attribute("lang") == "zh-hans"
        assert english_words(page.content()) == []
    screenshot(page, f"report-{lang}")

    page.set_input_files("#camera", [photo_file()])  # taken there and then
    page.set_input_files("#photos", [photo_file("second.jpg", (800, 600))])  # from the gallery
    expect(page.locator("#photo-previews img")).to_have_count(2)
    tap = Taps(page)
    tap('input[name=category][value="BJ0101"]')
    tap("[data-phrase]")
    tap("#report-form button[type=submit]")
    page.wait_for_url("**/field/")
    assert tap.count <= 4

    case = Case.objects.get()
    assert case.source == Source.GRID_WORKER and case.category.code == "BJ0101"
    assert case.location.x == pytest.approx(IN_G1[0], abs=1e-5)
    sizes = sorted((a.width, a.height) for a in CaseAttachment.objects.filter(case=case))
    assert sizes == [(800, 600), (2048, 1365)]  # made small on the phone
    expect(page.locator(".f-flash")).to_contain_text(case.number)
    screenshot(page, f"home-after-report-{lang}")


def test_a_category_is_found_by_pinyin_initials_and_photos_may_stay_full_size(worker_phone):
    page = worker_phone()
    page.goto("/field/report/")
    located(page)
    page.fill("#category-search", "ysjg")  # 雨水井盖
    visible = page.locator(".f-category:visible")
    expect(visible).to_have_count(1)
    expect(visible).to_contain_text("Storm drain manhole cover")
    visible.locator("input").check()
    page.set_input_files("#photos", [photo_file()])
    page.check("#keep-original")
    page.fill("#description", "雨水井盖松动")
    page.click("#report-form button[type=submit]")
    page.wait_for_url("**/field/")
    case = Case.objects.get()
    assert case.category.name == "雨水井盖"
    assert [(a.width, a.height) for a in case.attachments.all()] == [(3000, 2000)]


def fill_report(page) -> None:
    page.set_input_files("#photos", [photo_file(size=(1200, 900))])
    page.locator('input[name=category][value="BJ0101"]').check()
    page.fill("#description", "井盖缺失，地下室无信号")


def test_reports_made_offline_wait_on_the_phone_and_are_each_filed_once(
    worker_phone, browser_errors
):
    browser_errors.allow(OFFLINE)
    page = worker_phone()
    page.goto("/field/report/")
    service_worker_ready(page)
    page.reload()  # now through the service worker, which keeps this copy
    located(page)

    page.context.set_offline(True)
    fill_report(page)
    page.click("#report-form button[type=submit]")
    expect(page.locator("#outbox li")).to_have_count(1)
    expect(page.locator("#outbox li")).to_contain_text("Waiting to send")
    expect(page.locator("#queued-notice")).to_contain_text("kept on this phone")
    expect(page.locator("#error-summary")).to_be_hidden()
    assert not Case.objects.exists()

    # Closed and opened again without signal: the page from the service
    # worker's cache, the report still waiting; a second report made there
    # has a key of its own.
    page.reload()
    expect(page.locator("#outbox li")).to_have_count(1)
    fill_report(page)
    page.fill("#description", "第二处井盖缺失")
    page.click("#report-form button[type=submit]")
    expect(page.locator("#outbox li")).to_have_count(2)
    screenshot(page, "report-waiting-en")
    assert not Case.objects.exists()

    page.context.set_offline(False)
    expect(page.locator("#outbox")).to_be_hidden(timeout=15000)
    descriptions = sorted(Case.objects.values_list("description", flat=True))
    assert descriptions == ["井盖缺失，地下室无信号", "第二处井盖缺失"]
    # Another page, later: nothing is sent again.
    again = page.context.new_page()
    again.goto("/field/")
    expect(again.locator("#report-button")).to_be_visible()
    again.wait_for_timeout(1000)
    assert Case.objects.count() == 2
    assert [c.attachments.count() for c in Case.objects.all()] == [1, 1]


def test_a_report_whose_answer_is_lost_is_sent_again_and_filed_once(worker_phone):
    """The server files the report but the answer never reaches the phone
    (the signal drops on the way back): the phone sends it again with the
    same Idempotency-Key, and the server answers with the case it filed."""
    page = worker_phone()
    page.goto("/field/report/")
    located(page)
    page.evaluate(LOSE_THE_FIRST_ANSWER)
    fill_report(page)
    page.click("#report-form button[type=submit]")
    expect(page.locator("#queued-notice")).to_contain_text("kept on this phone")
    expect(page.locator("#outbox li")).to_contain_text("Waiting to send")
    assert Case.objects.count() == 1  # filed, though the phone does not know

    page.goto("/field/")  # a page load sends what waits
    expect(page.locator("#outbox")).to_be_hidden(timeout=15000)
    assert Case.objects.count() == 1
    expect(page.locator(".f-flash")).to_contain_text(Case.objects.get().number)


# The page's fetch hears nothing back from its first report, which the server
# receives and answers all the same.
LOSE_THE_FIRST_ANSWER = """() => {
  const real = window.fetch;
  let lost = false;
  window.fetch = async (url, init) => {
    const response = await real(url, init);
    if (!lost && init && init.method === "POST" && String(url).includes("/field/report/")) {
      lost = true;
      throw new TypeError("the answer was lost");
    }
    return response;
  };
}"""


def test_a_report_kept_while_signed_out_is_sent_after_signing_in_again(
    worker_phone, browser_errors, city, server_stack
):
    browser_errors.allow(r"status of 40[13]")  # refused while signed out
    page = worker_phone()
    page.goto("/field/report/")
    located(page)
    page.context.clear_cookies()  # the session is over
    fill_report(page)
    page.click("#report-form button[type=submit]")
    expect(page.locator("#queued-notice")).to_contain_text("Sign in again")
    expect(page.locator("#outbox li")).to_contain_text("Waiting to send")
    assert not Case.objects.exists()

    page.context.add_cookies([session_cookie(city.grid_worker, server_stack.url)])
    page.goto("/field/")  # signed in again: a new CSRF token, the report goes
    expect(page.locator("#outbox")).to_be_hidden(timeout=15000)
    assert Case.objects.count() == 1


def test_a_queued_report_the_server_refuses_shows_why_and_is_fixed(
    worker_phone, browser_errors, city
):
    browser_errors.allow(OFFLINE)
    browser_errors.allow(r"status of 400")
    page = worker_phone()
    page.goto("/field/report/")
    located(page)
    page.context.set_offline(True)
    fill_report(page)
    page.click("#report-form button[type=submit]")
    expect(page.locator("#outbox li")).to_have_count(1)

    # The category is retired while the report waits.
    Category.objects.filter(code="BJ0101").update(is_active=False)
    page.context.set_offline(False)
    refused = page.locator("#outbox li.refused")
    expect(refused).to_contain_text("Not accepted")
    expect(refused).to_contain_text("not in use any more")
    screenshot(page, "report-refused-en")
    assert not Case.objects.exists()

    page.locator("#outbox li.refused button").first.tap()  # fix and send again
    expect(page.locator("[data-error-for=category]")).not_to_be_empty()
    expect(page.locator("#description")).to_have_value("井盖缺失，地下室无信号")
    expect(page.locator("#photo-previews img")).to_have_count(1)
    expect(page.locator("#outbox")).to_be_hidden()
    page.locator('input[name=category][value="BJ0102"]').check()
    page.click("#report-form button[type=submit]")
    page.wait_for_url("**/field/")
    case = Case.objects.get()
    assert case.category.code == "BJ0102" and case.attachments.count() == 1


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_home_shows_my_tasks_and_the_open_cases_as_pins(worker_phone, city, lang, off_loop):
    hotline = {"source": Source.HOTLINE, "reporter": city.dispatcher}
    to_verify = off_loop(case_in, city, Status.VERIFYING, **hotline)
    to_inspect = off_loop(case_in, city, Status.HANDLED)
    page = worker_phone(lang)
    page.goto("/field/")
    expect(page.locator(".f-case-pin")).to_have_count(2)
    verify = page.locator('[data-task="verify"] a')
    expect(verify).to_have_count(1)
    expect(verify).to_have_attribute("href", f"/field/cases/{to_verify.pk}/")
    expect(page.locator('[data-task="inspect"] a')).to_have_attribute(
        "href", f"/field/cases/{to_inspect.pk}/"
    )
    if lang == "zh":
        assert english_words(page.content()) == []
    screenshot(page, f"home-{lang}")


def test_the_app_is_installable(browser, server_stack, city, tmp_path):
    """In a browser profile of its own (Chromium installs nothing from an
    incognito context, which Playwright's contexts are)."""
    context = browser.browser_type.launch_persistent_context(
        tmp_path / "profile", executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        base_url=server_stack.url, viewport=PHONE, is_mobile=True, has_touch=True,
    )  # fmt: skip
    try:
        context.add_cookies([session_cookie(city.grid_worker, server_stack.url)])
        page = context.new_page()
        page.goto("/field/")
        service_worker_ready(page)
        page.reload()
        assert page.evaluate("navigator.serviceWorker.controller !== null")
        cdp = context.new_cdp_session(page)
        manifest = cdp.send("Page.getAppManifest")
        assert manifest["errors"] == []
        assert manifest["url"].endswith("/field/manifest.webmanifest")
        assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
    finally:
        context.close()
