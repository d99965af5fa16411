"""Benchmarks run in smoke mode (small numbers, inside the test database), so
a load that no longer fits the schema, or a check that no longer holds,
fails the suite instead of a benchmark run weeks later."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from django.utils import timezone

from cases.models import CalendarYear, Case, Category
from organisation.models import Department

BENCH = Path(__file__).resolve().parent.parent / "bench"

pytestmark = pytest.mark.django_db


def bench_module(name: str):
    """bench/<name>.py, imported without running it (Django is set up already)."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def sla_bench():
    return bench_module("sla_sweep")


@pytest.fixture
def routed_city(small_city):
    """The small city with two departments that categories are routed to."""
    CalendarYear.objects.get_or_create(
        year=timezone.localdate().year + 1, defaults={"source": CalendarYear.Source.MANUAL}
    )
    departments = [
        Department.objects.create(code=code, name=name, jurisdiction=small_city.city)
        for code, name in (("CGJ", "市城市管理局"), ("SZGS", "市政设施管理处"))
    ]
    for n, category in enumerate(Category.objects.filter(is_active=True).order_by("id")[:6]):
        category.default_department = departments[n % 2]
        category.save()
    return small_city


def test_the_deadline_sweep_benchmark_runs_in_smoke_mode(routed_city, sla_bench, capsys):
    figures = sla_bench.main(smoke=True)

    out = capsys.readouterr().out
    assert figures["red"] == 200
    assert Case.objects.filter(number__startswith="BENCH").count() == 2000
    # staff of every role: a worker per grid, 3 handlers per department, dispatchers
    # and supervisors per centre
    assert "grid_worker 5," in out and "handler 6," in out
    assert figures["notifications"] > 0 and figures["recipients"] <= figures["staff"]
    for line in ("overdue sweep", "notifications", "second sweep", "nothing new"):
        assert line in out


def test_the_load_names_a_not_null_column_it_cannot_fill(sla_bench):
    # the location is NOT NULL and has no default: a load that forgets it must say so
    with pytest.raises(SystemExit, match=r"cases_case\.location is NOT NULL"):
        sla_bench.model_defaults(Case, {"number"})


def test_the_load_fills_new_not_null_columns_from_the_model_defaults(sla_bench):
    sql, params = sla_bench.case_insert_sql()
    assert "attributes" in sql and params["default_attributes"] is not None
    assert params["default_submission_key"] == ""


def test_the_benchmark_stops_when_its_load_is_broken(small_city, sla_bench):
    # no category is routed to a department: nothing could be loaded
    with pytest.raises(SystemExit, match="check failed: categories routed"):
        sla_bench.main(smoke=True)
