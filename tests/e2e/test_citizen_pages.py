"""A citizen on a phone (360 x 740, touch, GPS) reports a problem on
/report/ and follows it on /track/<token>/, in real Chromium against the
servers bin/run starts. Bad input is shown next to its field and stores
nothing; the form works without JavaScript; the Chinese pages have no
English left. Screenshots of each page go to $CITIZEN_SCREENS (default:
citizen-screens in the temporary directory)."""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cases import services
from cases.models import (
    Case,
    CaseAttachment,
    CategoryAttribute,
    PendingRequest,
    Source,
    Status,
)
from tests.api.images import GPS_IN_G1, GPS_OUTSIDE, encode, phone_photo, two_tone
from tests.cases.conftest import IN_G1, case_in, jpeg, world  # noqa: F401 - the small working city
from tests.cases.untranslated import english_words

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SCREENS = Path(os.environ.get("CITIZEN_SCREENS") or Path(tempfile.gettempdir()) / "citizen-screens")
PHONE = {"width": 360, "height": 740}
LOCALES = {"zh": "zh-CN", "en": "en-GB"}


@pytest.fixture
def city(reference_data, world):  # noqa: F811
    return world


@pytest.fixture
def phone(browser, server_stack, browser_errors):
    """``phone(lang, point=None, script=True)``: a new phone-sized page at
    the servers, in ``lang``, whose GPS gives ``point`` (lng, lat)."""
    contexts = []

    def open_page(lang="en", point=None, script=True):
        options = {
            "base_url": server_stack.url,
            "locale": LOCALES[lang],
            "viewport": PHONE,
            "is_mobile": True,
            "has_touch": True,
            "java_script_enabled": script,
        }
        if point:
            options["geolocation"] = {"longitude": point[0], "latitude": point[1]}
            options["permissions"] = ["geolocation"]
        context = browser_errors.watch(browser.new_context(**options))
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def photo_file(name="street.jpg", size=(3000, 2000)) -> dict:
    buffer = encode(two_tone(size), "JPEG", quality=85)
    return {"name": name, "mimeType": "image/jpeg", "buffer": buffer}


def screenshot(page, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENS / f"{name}.png", full_page=True)


def assert_chinese(page) -> None:
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert english_words(page.content()) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_citizen_reports_with_a_photo_and_gps_and_follows_the_link(city, phone, lang):
    page = phone(lang, point=IN_G1)
    page.goto("/report/")
    expect(page.locator(".leaflet-container")).to_be_visible()
    expect(page.locator("#coordinates")).to_be_hidden()
    screenshot(page, f"report-{lang}")

    page.set_input_files("#photos", [photo_file(), photo_file("second.jpg", (800, 600))])
    page.click("#use-gps")
    expect(page.locator("#lng")).to_have_value(f"{IN_G1[0]:.6f}")
    expect(page.locator(".leaflet-interactive").first).to_be_visible()
    page.check('input[name=category][value="BJ0101"]')
    page.fill("#description", "小区门口井盖缺失")
    page.fill("#phone", "13912345678")
    if lang == "zh":
        assert_chinese(page)
    page.click("#report-form button[type=submit]")

    page.wait_for_url("**/report/sent/**")
    case = Case.objects.get()
    expect(page.locator("#case-number")).to_have_text(case.number)
    expect(page.locator("#tracking-qr svg")).to_be_visible()
    link = page.locator("#tracking-link")
    expect(link).to_have_attribute(
        "href", f"{page.url.split('/report/')[0]}/track/{case.tracking_token}/"
    )
    if lang == "zh":
        assert_chinese(page)
    screenshot(page, f"sent-{lang}")

    # Sent once, at the phone's point, with both photos made small on the phone.
    assert case.location.x == pytest.approx(IN_G1[0], abs=1e-5)
    assert case.reporter_phone == "13912345678" and case.category.code == "BJ0101"
    sizes = sorted((a.width, a.height) for a in CaseAttachment.objects.filter(case=case))
    assert sizes == [(800, 600), (2048, 1365)]

    link.click()
    page.wait_for_url(f"**/track/{case.tracking_token}/")
    expect(page.locator("#timeline li")).to_have_count(1)
    expect(page.locator("#photos img")).to_have_count(2)
    if lang == "zh":
        assert_chinese(page)
        expect(page.locator("#timeline")).to_contain_text("已收到")
    else:
        expect(page.locator("#timeline")).to_contain_text("Report received")
    screenshot(page, f"track-{lang}")


def test_the_photo_s_own_position_is_offered(city, phone):
    page = phone("en")
    page.goto("/report/")
    page.set_input_files(
        "#photos",
        {"name": "gps.jpg", "mimeType": "image/jpeg", "buffer": phone_photo("JPEG").read()},
    )
    page.click("#use-photo-location")
    expect(page.locator("#lng")).to_have_value(f"{GPS_IN_G1[0]:.6f}")
    expect(page.locator("#location-status")).to_contain_text("where the photo was taken")


def sent_and_refused(page, browser_errors, field: str, words: str) -> None:
    """Submit; the refusal shows next to ``field`` and nothing is stored."""
    browser_errors.allow(r"status of 400")
    page.click("#report-form button[type=submit]")
    message = page.locator(f'[data-error-for="{field}"]')
    expect(message).to_contain_text(words)
    expect(page.locator(f"#field-{field}")).to_have_class("c-field has-error")
    expect(page.locator("#error-summary")).to_be_visible()
    assert "/report/" in page.url and not Case.objects.exists()
    assert not CaseAttachment.objects.exists()


def test_no_location_is_refused_next_to_the_map(city, phone, browser_errors):
    page = phone("en")
    page.goto("/report/")
    page.set_input_files("#photos", photo_file())
    page.fill("#description", "路灯不亮")
    sent_and_refused(page, browser_errors, "location", "Show where the problem is")
    screenshot(page, "report-error-en")


def test_a_location_outside_the_city_is_refused(city, phone, browser_errors):
    page = phone("zh", point=GPS_OUTSIDE)
    page.goto("/report/")
    page.click("#use-gps")
    expect(page.locator("#lat")).to_have_value(f"{GPS_OUTSIDE[1]:.6f}")
    page.fill("#description", "路灯不亮")
    sent_and_refused(page, browser_errors, "location", "不在本市范围内")
    assert_chinese(page)
    screenshot(page, "report-error-zh")


def test_a_photo_too_large_is_refused(city, phone, browser_errors):
    from django.conf import settings

    page = phone("en", point=IN_G1)
    page.goto("/report/")
    # Not a picture the phone can shrink: it is sent as it is.
    too_large = b"\xff\xd8\xff" + os.urandom(settings.CASES_PHOTO_MAX_BYTES)
    page.set_input_files(
        "#photos", {"name": "huge.jpg", "mimeType": "image/jpeg", "buffer": too_large}
    )
    page.click("#use-gps")
    page.fill("#description", "路灯不亮")
    sent_and_refused(page, browser_errors, "photos", "larger than 15.0 MB")


def test_a_missing_answer_to_a_required_question_is_refused(city, phone, browser_errors, off_loop):
    off_loop(
        CategoryAttribute.objects.create,
        category=city.category, code="depth", description="井有多深?", description_en="How deep?",
        datatype="string", required=True,
    )  # fmt: skip
    page = phone("en", point=IN_G1)
    page.goto("/report/")
    question = page.locator('[data-questions-for="BJ0101"]')
    expect(question).to_be_hidden()
    page.check('input[name=category][value="BJ0101"]')
    expect(question).to_be_visible()
    page.click("#use-gps")
    page.fill("#description", "井盖缺失")
    sent_and_refused(page, browser_errors, "attributes", "Answer this question: How deep?")

    page.fill("#q-BJ0101-depth", "half a metre")
    page.click("#report-form button[type=submit]")
    page.wait_for_url("**/report/sent/**")
    assert Case.objects.get().attributes == {"depth": "half a metre"}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_form_without_javascript_files_a_tip(city, phone, browser_errors, lang):
    browser_errors.allow(r"status of 400")
    page = phone(lang, script=False)
    page.goto("/report/")
    expect(page.locator("#coordinates")).to_be_visible()
    expect(page.locator("#map")).to_be_hidden()
    screenshot(page, f"report-nojs-{lang}")
    page.click("#report-form button[type=submit]")
    expect(page.locator('[data-error-for="description"]')).not_to_be_empty()
    page.fill("#description", "人行道塌陷")
    page.click("#report-form button[type=submit]")
    expect(page.locator('[data-error-for="location"]')).not_to_be_empty()
    expect(page.locator("#description")).to_have_value("人行道塌陷")
    if lang == "zh":
        assert_chinese(page)
    assert not Case.objects.exists()

    page.set_input_files("#photos", photo_file(size=(640, 480)))
    page.fill("#lng", str(IN_G1[0]))
    page.fill("#lat", str(IN_G1[1]))
    page.click("#report-form button[type=submit]")
    page.wait_for_url("**/report/sent/**")
    case = Case.objects.get()
    assert case.description == "人行道塌陷" and case.attachments.count() == 1
    expect(page.locator("#tracking-qr svg")).to_be_visible()


def test_an_unknown_tracking_link_gets_a_friendly_page(city, phone, browser_errors):
    browser_errors.allow(r"status of 404")
    page = phone("zh")
    response = page.goto(f"/track/{'x' * 32}/")
    assert response.status == 404
    expect(page.locator("h1")).to_have_text("找不到这条问题记录")
    assert_chinese(page)
    screenshot(page, "unknown-zh")


def closed_with_a_reply(city, reply: str):
    """A citizen's tip handled with the department's reply, then closed on site."""
    case = case_in(city, Status.IN_PROGRESS, source=Source.CITIZEN)
    services.case_report_back(
        case=case, actor=city.handler, note="SECRET-internal", reply=reply,
        photos=[jpeg()],
    )  # fmt: skip
    return services.case_inspect(case=case, actor=city.grid_worker, passed=True)


def test_the_citizen_rates_the_tip_after_closure_without_an_account(
    city, phone, off_loop, browser_errors
):
    case = off_loop(closed_with_a_reply, city, "井盖已更换，感谢您的反映。")
    track = f"/track/{case.tracking_token}/"
    # The result photo was stored by this process, in a media folder the
    # servers (with temporary folders of their own) do not read.
    browser_errors.allow(r"status of 404 .*/api/v1/photos/")
    browser_errors.allow(r"status of 400")

    page = phone("zh")
    page.goto(track)
    expect(page.locator("#reply")).to_have_text("井盖已更换，感谢您的反映。")
    assert "SECRET-internal" not in page.content()
    # Not satisfied needs a reason: said next to the comment, the choice kept.
    page.check('input[value="unsatisfied"]')
    page.click("#rating-form button[type=submit]")
    expect(page.locator('[data-error-for="comment"]')).to_have_text(
        "请说明还有什么问题：选择“不满意”时需要填写理由。"
    )
    expect(page.locator('input[value="unsatisfied"]')).to_be_checked()
    assert_chinese(page)

    page.fill("#comment", "井盖还是松的")
    page.click("#rating-form button[type=submit]")
    expect(page.locator("#rated")).to_have_text("不满意")
    expect(page.locator("#reopen-requested")).to_be_visible()
    expect(page.locator("#rating-form")).to_have_count(0)
    assert_chinese(page)
    screenshot(page, "track-reopen-asked-zh")
    case.refresh_from_db()
    assert case.satisfaction == "unsatisfied" and case.pending_request == PendingRequest.REOPEN


def test_after_the_rating_window_the_page_says_why_there_is_no_form(
    city, phone, off_loop, browser_errors, settings
):
    case = off_loop(case_in, city, Status.CLOSED, source=Source.CITIZEN)
    days = settings.CASES_REOPEN_DAYS
    off_loop(
        lambda: Case.objects.filter(pk=case.pk).update(
            closed_at=timezone.now() - timedelta(days=days + 1)
        )
    )
    browser_errors.allow(r"status of 404 .*/api/v1/photos/")
    page = phone("en")
    page.goto(f"/track/{case.tracking_token}/")
    expect(page.locator("#rating-over")).to_contain_text(f"rated within {days} days")
    expect(page.locator("#rating-form")).to_have_count(0)
