"""The workbench kept live (docs/events.md), in real browsers against uvicorn.

Handlers of two departments and a dispatcher each have the page open while
cases are dispatched, returned and re-dispatched: every page shows its own
queue change within seconds, without a reload. A page that loses its socket
catches up through the resync when it comes back; a page whose session is
gone shows that it is signed out.
"""

import pytest
from django.contrib.sessions.models import Session
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from cases import services
from cases.models import CaseEvent
from organisation.models import Role, RoleMembership
from tests.cases.conftest import report, world  # noqa: F401 - the small working city

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Well below the page's 60 s periodic resync: what arrives within this came
# by push (or by the resync on reconnecting).
LIVE_MS = 8000


@pytest.fixture
def city(reference_data, world, live_channel_layer):  # noqa: F811
    return world


def registered(city, off_loop, address: str):
    case = off_loop(report, city, address=address)
    return off_loop(services.case_register, case=case.pk, actor=city.dispatcher)


def open_workbench(context):
    page = context.new_page()
    page.goto("/workbench/")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=LIVE_MS)
    # A reload would lose this: the page must change without one.
    page.evaluate("window.notReloaded = true")
    return page


def shown(page, queue: str) -> list[int]:
    rows = page.locator(f'[data-queue-rows="{queue}"] tr')
    return sorted(int(i) for i in rows.evaluate_all("rows => rows.map((r) => r.dataset.caseId)"))


def wait_for_queue(page, queue: str, cases) -> None:
    """Wait until ``queue`` on ``page`` shows exactly ``cases``."""
    expected = sorted(case.pk for case in cases)
    try:
        page.wait_for_function(
            """([queue, expected]) => {
                const rows = document.querySelectorAll(`[data-queue-rows="${queue}"] tr`);
                const ids = [...rows].map((row) => Number(row.dataset.caseId));
                ids.sort((a, b) => a - b);
                return JSON.stringify(ids) === JSON.stringify(expected);
            }""",
            arg=[queue, expected],
            timeout=LIVE_MS,
        )
    except PlaywrightTimeout:
        raise AssertionError(
            f"{queue} shows cases {shown(page, queue)}, expected {expected}"
        ) from None


def row(page, queue: str, case):
    return page.locator(f'[data-queue-rows="{queue}"] tr[data-case-id="{case.pk}"]')


def test_each_page_follows_its_own_queue_live_and_catches_up_after_losing_its_socket(
    city, signed_in, off_loop, browser_errors
):
    # Page A goes offline on purpose: its reconnection attempts (jittered,
    # so some fall inside the outage) fail as the browser says they do.
    browser_errors.allow(r"net::ERR_INTERNET_DISCONNECTED")

    def dispatch(case, department):
        off_loop(services.case_dispatch, case=case.pk, actor=city.dispatcher, department=department)

    def give_back(case):
        off_loop(services.case_return, case=case.pk, actor=city.handler, reason="不属于本部门")

    c0, c1, c2, c3, c4 = (registered(city, off_loop, f"人民路 {n} 号") for n in range(5))
    dispatch(c0, city.cgj)

    # Given the two departments' handlers and the dispatcher on their workbenches
    context_a = signed_in(city.handler)
    page_a = open_workbench(context_a)
    page_b = open_workbench(signed_in(city.other_handler))
    page_d = open_workbench(signed_in(city.dispatcher))
    queue_a, queue_b = f"department-{city.cgj.pk}", f"department-{city.szgs.pk}"
    queue_d = f"dispatch-{city.city.subdistrict.pk}"
    wait_for_queue(page_a, queue_a, [c0])
    wait_for_queue(page_b, queue_b, [])
    wait_for_queue(page_d, queue_d, [c1, c2, c3, c4])
    expect(page_b.locator(f'[data-queue-count="{queue_b}"]')).to_have_text("0")
    bell_a = page_a.locator("#bell-count")
    expect(bell_a).to_have_attribute("data-count", "1")  # c0's dispatch

    # When the dispatcher dispatches cases to one department and to the other
    dispatch(c1, city.cgj)
    dispatch(c2, city.szgs)
    dispatch(c4, city.cgj)

    # Then each department's page shows exactly its own, and the dispatcher's
    # queue lets them go
    wait_for_queue(page_a, queue_a, [c0, c1, c4])
    wait_for_queue(page_b, queue_b, [c2])
    wait_for_queue(page_d, queue_d, [c3])
    new_row = row(page_a, queue_a, c1)
    expect(new_row.locator('[data-field="number"]')).to_have_text(c1.number)
    expect(new_row.locator('[data-field="category"]')).to_have_text(city.category.name_en)
    expect(new_row.locator('[data-field="status"]')).to_have_text("dispatched")
    expect(new_row.locator('[data-field="address"]')).to_have_text("人民路 1 号")
    expect(new_row).to_have_attribute("data-light", "green")
    expect(new_row.locator(".light")).to_have_class("light light-green")
    expect(new_row.locator("time")).not_to_have_text("–")
    expect(page_a.locator(f'[data-queue-count="{queue_a}"]')).to_have_text("3")

    # and the handler's bell counts the two new dispatches; the inbox lists them
    expect(bell_a).to_have_attribute("data-count", "3", timeout=LIVE_MS)
    page_a.click("#bell")
    entry = page_a.locator(f'#inbox-list li[data-case-id="{c1.pk}"]')
    expect(entry).to_contain_text(c1.number)
    expect(entry).to_have_class("unread")
    entry.click()
    expect(entry).not_to_have_class("unread")
    expect(bell_a).to_have_attribute("data-count", "2")
    page_a.click("#bell")

    # When department A returns a case and the dispatcher re-dispatches it to B
    give_back(c1)
    wait_for_queue(page_a, queue_a, [c0, c4])
    wait_for_queue(page_d, queue_d, [c1, c3])
    dispatch(c1, city.szgs)

    # Then it has left A and is in B, and out of the dispatcher's queue again
    wait_for_queue(page_b, queue_b, [c1, c2])
    wait_for_queue(page_d, queue_d, [c3])
    assert shown(page_a, queue_a) == sorted([c0.pk, c4.pk])

    # When page A loses its socket and the network, and its cases change meanwhile
    connection_before = page_a.evaluate("governanceLive.connectionId")
    context_a.set_offline(True)
    page_a.evaluate("governanceLive.socket.close()")
    expect(page_a.locator("#live-status")).to_have_attribute("data-state", "reconnecting")
    give_back(c0)
    dispatch(c0, city.szgs)
    dispatch(c3, city.cgj)
    off_loop(services.case_acknowledge, case=c4.pk, actor=city.handler)
    wait_for_queue(page_b, queue_b, [c0, c1, c2])  # pushed to the page still connected
    assert shown(page_a, queue_a) == sorted([c0.pk, c4.pk])  # page A heard none of it
    last_event = CaseEvent.objects.order_by("-id").values_list("id", flat=True).first()

    # Then, back online, it reconnects and its resync brings every change,
    # over the socket: a page's worth of events needs no HTTP request
    events_requests = []
    page_a.on(
        "request",
        lambda request: "/api/v1/events/" in request.url and events_requests.append(request.url),
    )
    context_a.set_offline(False)
    expect(page_a.locator("#live-status")).to_have_attribute("data-state", "live", timeout=LIVE_MS)
    wait_for_queue(page_a, queue_a, [c3, c4])
    expect(row(page_a, queue_a, c4)).to_have_attribute("data-status", "in_progress")
    expect(row(page_a, queue_a, c4).locator('[data-field="status"]')).to_have_text("in progress")
    assert page_a.evaluate("governanceLive.connectionId") not in ("", connection_before)
    assert page_a.evaluate("governanceLive.cursor") >= last_event
    expect(bell_a).to_have_attribute("data-count", "3")  # c3's dispatch, sent while away
    assert events_requests == []

    for page in (page_a, page_b, page_d):
        assert page.evaluate("window.notReloaded") is True


def test_a_page_whose_session_has_ended_says_it_is_signed_out(city, signed_in):
    page = open_workbench(signed_in(city.handler))

    # When the session ends on the server and the socket has to reconnect
    Session.objects.all().delete()
    page.evaluate("governanceLive.socket.close()")

    # Then the server closes the new socket with 4401 and the page stops trying
    status = page.locator("#live-status")
    expect(status).to_have_attribute("data-state", "signed-out", timeout=LIVE_MS)
    expect(status).to_contain_text("Signed out")
    assert page.evaluate("governanceLive.closeCode") == 4401
    assert page.evaluate("governanceLive.socket") is None


def test_a_page_follows_its_users_access_while_open(city, signed_in, off_loop):
    page = open_workbench(signed_in(city.handler))
    colleague = open_workbench(signed_in(city.other_handler))

    # When the handler leaves the department, the server leaves its queue's
    # group and the page says it is out of date
    def leave_the_department():
        RoleMembership.objects.get(user=city.handler, role=Role.HANDLER).delete()

    off_loop(leave_the_department)
    expect(page.locator("#live-stale")).to_be_visible(timeout=LIVE_MS)
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")

    # When the account is deactivated, the socket closes with 4403 and the
    # page stops trying; the colleague's page stays live and current
    def deactivate():
        handler = type(city.handler).objects.get(pk=city.handler.pk)
        handler.is_active = False
        handler.save()

    off_loop(deactivate)
    status = page.locator("#live-status")
    expect(status).to_have_attribute("data-state", "signed-out", timeout=LIVE_MS)
    assert page.evaluate("governanceLive.closeCode") == 4403
    assert page.evaluate("governanceLive.socket") is None
    expect(colleague.locator("#live-status")).to_have_attribute("data-state", "live")
    expect(colleague.locator("#live-stale")).to_have_count(0)
