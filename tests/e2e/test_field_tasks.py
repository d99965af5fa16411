"""A grid worker on a phone (360 x 740, touch) with the field app: my cases
and tasks kept live while a dispatcher acts, the case page, and verify (核实)
and inspect (核查) on site, in real Chromium against the servers bin/run
starts. Screenshots go to $FIELD_TASKS_SCREENS (default: field-tasks-screens
in the temporary directory)."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from cases import services
from cases.models import Case, CaseAttachment, CaseEvent, Source, Status, Verification
from tests.cases.conftest import case_in, colleague_in_g1, report, world  # noqa: F401 - the small working city
from tests.cases.untranslated import english_words
from tests.e2e.test_citizen_pages import LOCALES, PHONE, photo_file

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SCREENS = Path(
    os.environ.get("FIELD_TASKS_SCREENS") or Path(tempfile.gettempdir()) / "field-tasks-screens"
)
LIVE_MS = 8000
# The case page has no indicator: the live client's own state says it is live.
LIVE_STATE = "() => Boolean(window.governanceLive) && window.governanceLive.state === 'live'"


@pytest.fixture
def city(reference_data, world, live_channel_layer, server_stack, settings):  # noqa: F811
    # Photos the test's services store are served by the servers.
    settings.MEDIA_ROOT = str(server_stack.stack.media_root)
    return world


@pytest.fixture
def worker_phone(browser, server_stack, browser_errors):
    """``worker_phone(user, lang, script=True)``: a phone-sized page signed
    in as ``user``."""
    from django.conf import settings
    from django.test import Client

    contexts = []

    def open_page(user, lang="en", script=True):
        client = Client()
        client.force_login(user)
        context = browser_errors.watch(
            browser.new_context(
                base_url=server_stack.url, locale=LOCALES[lang], viewport=PHONE,
                is_mobile=True, has_touch=True, java_script_enabled=script,
            )
        )  # fmt: skip
        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": server_stack.url,
                }
            ]
        )
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def tip_to_verify(city, off_loop):
    tip = off_loop(report, city, source=Source.CITIZEN, reporter=None, address="人民路 8 号")
    return off_loop(services.case_send_to_verify, case=tip.pk, actor=city.dispatcher)


def handled(city, off_loop):
    return off_loop(case_in, city, Status.HANDLED, reporter=city.dispatcher, source=Source.HOTLINE)


def screenshot(page, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENS / f"{name}.png", full_page=True)


def cards(page, queue: str):
    return page.locator(f'[data-queue-rows="{queue}"] li')


def stored(case) -> tuple:
    return (
        Case.objects.get(pk=case.pk).status,
        CaseEvent.objects.filter(case=case).count(),
        CaseAttachment.objects.filter(case=case).count(),
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_worker_verifies_a_tip_with_a_photo_from_my_cases(city, worker_phone, off_loop, lang):
    case = tip_to_verify(city, off_loop)
    page = worker_phone(city.grid_worker, lang)
    page.goto("/field/cases/")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=LIVE_MS)
    card = cards(page, "verify")
    expect(card).to_have_count(1)
    expect(card.locator('[data-field="number"]')).to_have_text(case.number)
    screenshot(page, f"my-cases-{lang}")
    if lang == "zh":
        assert english_words(page.content()) == []

    card.locator("a").click()
    expect(page).to_have_url(re.compile(rf"/field/cases/{case.pk}/$"))
    expect(page.locator(".leaflet-container")).to_be_visible()
    page.set_input_files("#photos", [photo_file(size=(3000, 2000))])
    page.fill("#note", "现场属实")
    screenshot(page, f"verify-form-{lang}")
    if lang == "zh":
        assert english_words(page.content()) == []
    page.click("#pass")

    expect(page.locator("#check-form")).to_have_count(0)  # back on the page, no task now
    verified = Case.objects.get(pk=case.pk)
    assert (verified.status, verified.verification) == (Status.REPORTED, Verification.PASSED)
    photo = CaseAttachment.objects.get(case=case, kind="verify")
    assert max(photo.width, photo.height) == 2048  # made smaller on the phone
    expect(page.locator("#timeline")).to_contain_text("现场属实")
    expect(page.locator("#photos-after img")).to_have_count(1)
    page.locator("#photos-after a").click()  # full size on tap
    expect(page.locator(".t-full img")).to_be_visible()
    screenshot(page, f"verified-{lang}")


def test_a_fail_needs_a_reason_shown_next_to_the_note_and_nothing_is_stored(
    city, worker_phone, off_loop, browser_errors
):
    browser_errors.allow(r"status of 400")  # the refusals this test asks for
    case = tip_to_verify(city, off_loop)
    page = worker_phone(city.grid_worker)
    page.goto(f"/field/cases/{case.pk}/")
    before = stored(case)

    page.click("#fail")
    expect(page.locator('[data-error-for="note"]')).not_to_be_empty()
    expect(page.locator("#field-note")).to_have_class(re.compile("has-error"))
    page.click("#pass")  # and a pass without a photo
    expect(page.locator('[data-error-for="photos"]')).not_to_be_empty()
    screenshot(page, "verify-refused-en")
    assert stored(case) == before

    page.fill("#note", "现场无此问题")
    page.click("#fail")
    expect(page.locator("#check-form")).to_have_count(0)
    assert Case.objects.get(pk=case.pk).verification == Verification.FAILED


def test_a_worker_inspects_a_report_back_pass_closes_and_fail_sends_back(
    city, worker_phone, off_loop
):
    passing, failing = handled(city, off_loop), handled(city, off_loop)
    page = worker_phone(city.grid_worker)
    page.goto("/field/cases/?show=inspect")
    expect(cards(page, "inspect")).to_have_count(2, timeout=LIVE_MS)

    page.goto(f"/field/cases/{passing.pk}/")
    expect(page.locator("#photos-after img")).to_have_count(1)  # the department's photo
    page.click("#pass")
    expect(page.locator("#check-form")).to_have_count(0)
    assert Case.objects.get(pk=passing.pk).status == Status.CLOSED

    page.goto(f"/field/cases/{failing.pk}/")
    page.fill("#note", "井盖仍松动")
    page.click("#fail")
    expect(page.locator("#check-form")).to_have_count(0)
    rework = Case.objects.get(pk=failing.pk)
    assert (rework.status, rework.rework_count) == (Status.IN_PROGRESS, 1)


def test_my_cases_follow_the_dispatcher_live_and_fetch_only_what_they_show(
    city, worker_phone, off_loop
):
    page = worker_phone(city.grid_worker)
    fetched = []
    page.on(
        "request",
        lambda request: (
            fetched.append(request.url) if re.search(r"/api/v1/cases/\d+/$", request.url) else None
        ),
    )
    page.goto("/field/cases/")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=LIVE_MS)
    page.evaluate("window.notReloaded = true")
    expect(cards(page, "verify")).to_have_count(0)

    # A dispatcher sends a tip to the worker's grid: it appears as a task.
    task = tip_to_verify(city, off_loop)
    expect(cards(page, "verify")).to_have_count(1, timeout=LIVE_MS)
    expect(cards(page, "verify").locator('[data-field="status"]')).not_to_have_text(
        "verifying"
    )  # in words
    # A case in the grid that is no task of theirs is not fetched.
    other = off_loop(report, city, source=Source.HOTLINE, reporter=city.dispatcher)
    off_loop(services.case_register, case=other.pk, actor=city.dispatcher)
    # The worker's own report appears under "reported by me".
    mine = off_loop(report, city)
    expect(cards(page, "mine")).to_have_count(1, timeout=LIVE_MS)
    expect(cards(page, "mine").locator('[data-field="number"]')).to_have_text(mine.number)
    # The dispatcher registers the worker's report: its card says so.
    off_loop(services.case_register, case=mine.pk, actor=city.dispatcher)
    expect(cards(page, "mine").locator('[data-field="status"]')).to_have_text(
        re.compile("regist", re.I), timeout=LIVE_MS
    )
    # A colleague of the grid verifies the tip: it leaves the list.
    colleague = off_loop(colleague_in_g1, city)
    off_loop(services.case_verify, case=task.pk, actor=colleague, passed=False, note="不属实")
    expect(cards(page, "verify")).to_have_count(0, timeout=LIVE_MS)
    assert page.evaluate("window.notReloaded") is True
    assert not any(f"/api/v1/cases/{other.pk}/" in url for url in fetched)


def test_the_check_works_without_javascript(city, worker_phone, off_loop, browser_errors):
    browser_errors.allow(r"status of 400")
    case = tip_to_verify(city, off_loop)
    page = worker_phone(city.grid_worker, script=False)
    page.goto(f"/field/cases/{case.pk}/")
    before = stored(case)
    page.click("#fail")  # no reason: the page comes back with the message by the note
    expect(page.locator('[data-error-for="note"]')).not_to_be_empty()
    assert stored(case) == before
    page.fill("#note", "现场无此问题")
    page.set_input_files("#photos", [photo_file(size=(800, 600))])
    page.click("#fail")
    expect(page.locator("#timeline")).to_contain_text("现场无此问题")
    assert Case.objects.get(pk=case.pk).verification == Verification.FAILED
    assert CaseAttachment.objects.filter(case=case, kind="verify").count() == 1


def test_the_case_page_follows_its_case_live(city, worker_phone, off_loop):
    colleague = off_loop(colleague_in_g1, city)
    # Untouched, the page shows the change by itself.
    case = handled(city, off_loop)
    page = worker_phone(city.grid_worker)
    page.goto(f"/field/cases/{case.pk}/")
    expect(page.locator("#check-form")).to_be_visible()
    page.wait_for_function(LIVE_STATE, timeout=LIVE_MS)
    off_loop(services.case_inspect, case=case.pk, actor=colleague, passed=True)
    expect(page.locator("#check-form")).to_have_count(0, timeout=LIVE_MS)
    expect(page.locator("#case-status")).to_have_attribute("data-status", "closed")

    # With a note begun, the page keeps it and says the case changed.
    tip = tip_to_verify(city, off_loop)
    page.goto(f"/field/cases/{tip.pk}/")
    page.wait_for_function(LIVE_STATE, timeout=LIVE_MS)
    page.fill("#note", "正在核实")
    off_loop(services.case_verify, case=tip.pk, actor=colleague, passed=False, note="不属实")
    expect(page.locator("#case-changed")).to_be_visible(timeout=LIVE_MS)
    expect(page.locator("#note")).to_have_value("正在核实")
