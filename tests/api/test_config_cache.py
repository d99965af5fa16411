"""Per-process configuration caches (core.config_cache): what every
report reads (its category by code, the deadline rules, the working
calendar) without a query, yet an edit takes effect at once in the process
that made it and within a minute in every other."""

import pytest

from cases.categories import active_category
from cases.deadlines import Limit, current_calendar, limit_for
from cases.models import Case, Category, SlaRule, Stage, TimeUnit, Urgency
from core import config_cache
from tests.api.helpers import client_for, error
from tests.cases.conftest import IN_G1

pytestmark = pytest.mark.django_db

NM = TimeUnit.NATURAL_MINUTES


@pytest.fixture
def later(monkeypatch):
    """Move this process's clock on by ``seconds``."""
    real = config_cache.time.monotonic

    def move(seconds):
        monkeypatch.setattr(config_cache.time, "monotonic", lambda: real() + seconds)

    return move


def register_limit(world):
    return limit_for(category_id=world.category.pk, urgency=Urgency.NORMAL, stage=Stage.REGISTER)


def test_a_rule_saved_or_deleted_here_applies_at_once(world):
    before = register_limit(world)
    rule = SlaRule.objects.create(
        category=world.category, urgency=Urgency.NORMAL, stage=Stage.REGISTER, amount=7, unit=NM
    )
    assert register_limit(world) == Limit(7, NM)
    rule.amount = 8
    rule.save()
    assert register_limit(world) == Limit(8, NM)
    rule.delete()
    assert register_limit(world) == before


def test_an_edit_no_signal_announces_applies_within_a_minute(world, later):
    """Another process's edit (here: a bulk update, which sends no signal)."""
    rule = SlaRule.objects.create(
        category=world.category, urgency=Urgency.NORMAL, stage=Stage.REGISTER, amount=7, unit=NM
    )
    assert register_limit(world) == Limit(7, NM)
    SlaRule.objects.filter(pk=rule.pk).update(amount=9)
    later(59)
    assert register_limit(world) == Limit(7, NM)
    later(61)
    assert register_limit(world) == Limit(9, NM)


def test_the_calendar_is_reloaded_after_a_minute(world, later):
    first = current_calendar()
    assert current_calendar() is first
    later(61)
    assert current_calendar() is not first


def report(world, code):
    data = {"category": code, "description": "井盖缺失", "lng": IN_G1[0], "lat": IN_G1[1]}
    return client_for(world.grid_worker).post("/api/v1/cases/", data, format="json")


def test_a_category_retired_here_is_refused_at_once(world):
    assert report(world, world.category.code).status_code == 201
    world.category.is_active = False
    world.category.save()
    body = error(report(world, world.category.code), 400, "invalid")
    assert list(body["fields"]) == ["category"]
    assert Case.objects.count() == 1


def test_a_category_retired_elsewhere_is_refused_within_a_minute(world, later):
    assert report(world, world.category.code).status_code == 201
    Category.objects.filter(pk=world.category.pk).update(is_active=False)
    later(61)
    error(report(world, world.category.code), 400, "invalid")
    assert Case.objects.count() == 1


def test_a_cached_category_is_handed_out_as_a_copy(world):
    first = active_category(world.category.code)
    first.name = "改过"
    again = active_category(world.category.code)
    assert again.name == world.category.name and again.pk == world.category.pk


def test_citizens_get_only_the_categories_they_may_choose(world):
    hidden = Category.objects.filter(citizen_visible=False, is_active=True).first()
    assert hidden is not None
    assert active_category(hidden.code) is not None
    assert active_category(hidden.code, citizens=True) is None
    assert active_category(world.category.code, citizens=True) is not None
    assert active_category("XX9999") is None


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # FKs are checked at commit
def test_a_category_deleted_elsewhere_is_refused_and_forgotten(world):
    """Another process deleted a category this one still has cached: the
    report is refused as naming an unknown category, not failed, and the
    category is read again."""
    from django.db import connection

    from cases.models import CategoryClass

    category = Category(
        major=CategoryClass.objects.get(family="component", code="06"),
        minor_code="97", name="测试类", name_en="Test category",
    )  # fmt: skip
    category.save()
    assert active_category(category.code) is not None
    with connection.cursor() as cursor:  # no signal, as from another process
        cursor.execute("DELETE FROM cases_category WHERE id = %s", [category.pk])

    body = error(report(world, category.code), 400, "invalid")

    assert list(body["fields"]) == ["category"]
    assert not Case.objects.exists()
    assert active_category(category.code) is None
