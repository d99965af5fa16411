"""From 1 October, administrators are told once in their inbox that next
year's working calendar is only provisional."""

from __future__ import annotations

import datetime as dt

import pytest

from cases.holidays import calendar_load
from cases.models import CalendarYear
from notifications import tasks
from notifications.models import Notification
from notifications.services import notify_provisional_calendar
from tests.api.helpers import client_for
from tests.factories import UserFactory
from tests.notifications.conftest import notifications_on

pytestmark = pytest.mark.django_db

OCTOBER_1 = dt.date(2026, 10, 1)


def told() -> set[str]:
    return set(
        Notification.objects.filter(kind="calendar", channel="inbox").values_list(
            "recipient__username", flat=True
        )
    )


@pytest.fixture
def superuser():
    return UserFactory(username="root", is_superuser=True, is_staff=True)


def test_administrators_are_told_once_from_1_october(world, superuser):
    assert notify_provisional_calendar(today=dt.date(2026, 9, 30)) == 0
    assert told() == set()

    assert notify_provisional_calendar(today=OCTOBER_1) == 2

    # The admin role and superusers; no dispatcher, supervisor, handler or citizen.
    assert told() == {"admin", "root"}
    notice = Notification.objects.get(recipient=world.admin)
    assert notice.case is None and notice.event is None
    assert notify_provisional_calendar(today=OCTOBER_1) == 0
    assert notify_provisional_calendar(today=dt.date(2026, 12, 31)) == 0
    assert Notification.objects.filter(kind="calendar").count() == 2


def test_an_administrator_added_later_is_told_too(world, superuser):
    notify_provisional_calendar(today=OCTOBER_1)
    UserFactory(username="root2", is_superuser=True)
    UserFactory(username="gone", is_superuser=True, is_active=False)

    assert notify_provisional_calendar(today=dt.date(2026, 10, 2)) == 1
    assert told() == {"admin", "root", "root2"}


def test_nobody_is_told_when_next_year_is_official(world, superuser):
    assert notify_provisional_calendar(today=dt.date(2025, 10, 1)) == 0  # 2026: chinesecalendar
    CalendarYear.objects.filter(year=2027).update(source=CalendarYear.Source.MANUAL)
    assert notify_provisional_calendar(today=OCTOBER_1) == 0
    assert told() == set()


def test_the_next_year_is_told_again(world, superuser):
    notify_provisional_calendar(today=OCTOBER_1)
    assert notify_provisional_calendar(today=dt.date(2027, 10, 1)) == 2
    assert Notification.objects.filter(recipient=superuser, kind="calendar").count() == 2


def test_the_inbox_shows_the_notice_and_it_is_pushed_live(
    world, layer, listen, django_capture_on_commit_callbacks
):
    admin = listen(world.admin)
    with django_capture_on_commit_callbacks(execute=True):
        notify_provisional_calendar(today=OCTOBER_1)

    [item] = client_for(world.admin).get("/api/v1/notifications/").json()["results"]
    assert item["kind"] == "calendar" and item["case"] is None and item["event_id"] is None
    assert item["action"] is None
    # Written on 1 October 2026 (the test's clock is today's): about the next year.
    year = Notification.objects.get(pk=item["id"]).created_at.year + 1
    assert item["title"] == f"The working calendar of {year} is only provisional"
    assert str(year) in item["text"]
    [message] = notifications_on(layer, admin)
    assert message["notification"] == item
    chinese = client_for(world.admin).get("/api/v1/notifications/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert chinese.json()["results"][0]["title"] == f"{year} 年工作日历仍为暂定"


def test_the_beat_task_is_scheduled(settings, world):
    entry = settings.CELERY_BEAT_SCHEDULE["notifications-provisional-calendar"]
    assert entry["task"] == tasks.provisional_calendar_notice.name
    assert tasks.provisional_calendar_notice.apply().get() >= 0


def test_loading_the_official_year_stops_the_notices(world, superuser, monkeypatch):
    from cases import holidays

    published = holidays.provisional_schedule(2027)
    real = holidays.official_schedule
    monkeypatch.setattr(
        holidays,
        "official_schedule",
        lambda year: (
            holidays.Schedule(2027, holidays.OFFICIAL, published.holidays, {})
            if year == 2027
            else real(year)
        ),
    )
    calendar_load(years=[2027])
    assert notify_provisional_calendar(today=OCTOBER_1) == 0
