"""Calendar years in the admin: the source and the provisional mark, an edit
that makes a year the administrator's, and the banner for next year."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.holidays import calendar_load, provisional_year_ahead
from cases.models import CalendarDay, CalendarYear, Case, CaseEvent
from tests.cases.conftest import report
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def at(y, m, d, hh=0, mm=0):
    return dt.datetime(y, m, d, hh, mm, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def today(monkeypatch):
    """Set the city's date seen by the banner."""

    def set_today(day: dt.date):
        monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: day)

    return set_today


def test_the_list_shows_each_years_source_and_marks_provisional_ones(admin_client):
    url = reverse("admin:cases_calendaryear_changelist")
    provisional = admin_client.get(url + "?source__exact=provisional").context["cl"]
    assert {y.year for y in provisional.result_list} == {2000, *range(2027, 2100)}

    html = admin_client.get(url).content.decode()
    assert "provisional: statutory holidays, not yet published" in html
    assert "official schedule (chinesecalendar package)" in html
    assert 'class="field-provisional"><img src="/static/admin/img/icon-yes.svg"' in html
    assert 'class="field-provisional"><img src="/static/admin/img/icon-no.svg"' in html


def year_form(year: int, *added: tuple[str, str, str]) -> dict:
    """The change form of ``year`` as stored, with ``added`` (date, kind, name) days."""
    days = [
        (d.date.isoformat(), d.kind, d.name)
        for d in CalendarDay.objects.filter(year_id=year).order_by("date")
    ] + list(added)
    data = {
        "year": year,
        "days-TOTAL_FORMS": len(days),
        "days-INITIAL_FORMS": len(days) - len(added),
        "days-MIN_NUM_FORMS": 0,
        "days-MAX_NUM_FORMS": 1000,
    }
    for i, (date, kind, name) in enumerate(days):
        data |= {
            f"days-{i}-date": date,
            f"days-{i}-year": year,
            f"days-{i}-kind": kind,
            f"days-{i}-name": name,
        }
    return data


def test_editing_a_years_days_makes_it_the_administrators(admin_client):
    url = reverse("admin:cases_calendaryear_change", args=[2030])
    assert "source" not in admin_client.get(url).context["adminform"].form.fields

    response = admin_client.post(url, year_form(2030, ("2030-02-08", "holiday", "春节")))

    assert response.status_code == 302
    assert CalendarYear.objects.get(year=2030).source == CalendarYear.Source.MANUAL
    assert CalendarDay.objects.filter(date=dt.date(2030, 2, 8)).exists()
    assert calendar_load(years=[2030]) == {}
    assert CalendarDay.objects.filter(date=dt.date(2030, 2, 8)).exists()


def test_an_edit_moves_the_open_deadlines_running_through_the_year(admin_client, world):
    # 2 working hours from Thursday 31 December 17:00: 0.5 h, then 1.5 h on Monday 4th
    case = report(world, now=at(2026, 12, 31, 17))
    assert case.due_at == at(2027, 1, 4, 10)
    url = reverse("admin:cases_calendaryear_change", args=[2027])

    response = admin_client.post(url, year_form(2027, ("2027-01-04", "holiday", "元旦")))

    assert response.status_code == 302
    assert CalendarYear.objects.get(year=2027).source == CalendarYear.Source.MANUAL
    assert Case.objects.get(pk=case.pk).due_at == at(2027, 1, 5, 10)
    [event] = CaseEvent.objects.filter(case=case, action="deadline_moved")
    assert event.actor is None and event.payload["years"] == [2027]


def test_saving_a_year_unchanged_keeps_its_source(admin_client):
    url = reverse("admin:cases_calendaryear_change", args=[2031])
    assert admin_client.post(url, year_form(2031)).status_code == 302
    assert CalendarYear.objects.get(year=2031).is_provisional


def test_the_banner_shows_from_october_while_next_year_is_provisional(admin_client, today):
    index = reverse("admin:index")
    today(dt.date(2026, 9, 30))
    assert provisional_year_ahead() is None
    assert 'id="provisional-calendar"' not in admin_client.get(index).content.decode()

    today(dt.date(2026, 10, 1))
    assert provisional_year_ahead() == 2027
    page = admin_client.get(index).content.decode()
    assert 'id="provisional-calendar"' in page and "2027" in page
    changelist = admin_client.get(reverse("admin:cases_calendaryear_changelist"))
    assert 'id="provisional-calendar"' in changelist.content.decode()


def test_no_banner_once_next_year_is_official(admin_client, today):
    today(dt.date(2025, 11, 1))  # 2026 comes from chinesecalendar
    assert provisional_year_ahead() is None
    assert (
        'id="provisional-calendar"' not in admin_client.get(reverse("admin:index")).content.decode()
    )


def test_the_login_page_shows_no_banner(client, today):
    today(dt.date(2026, 10, 1))
    page = client.get(reverse("admin:login")).content.decode()
    assert 'id="provisional-calendar"' not in page
