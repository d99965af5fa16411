from datetime import date

import pytest
from django.core.exceptions import ValidationError

from grids.selectors import grids_of_worker
from grids.services import grid_assignment_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_worker_holds_several_grids_over_dated_periods(small_city):
    worker = UserFactory()
    g1, g2 = small_city.grids["320402001001001"], small_city.grids["320402001001002"]

    grid_assignment_create(user=worker, grid=g1, start_date=date(2026, 1, 1))
    grid_assignment_create(
        user=worker, grid=g2, start_date=date(2026, 1, 1), end_date=date(2026, 6, 30)
    )

    assert [g.code for g in grids_of_worker(worker, on=date(2026, 3, 1))] == [g1.code, g2.code]
    assert [g.code for g in grids_of_worker(worker, on=date(2026, 7, 1))] == [g1.code]
    assert grids_of_worker(worker, on=date(2025, 12, 31)) == []


def test_the_same_grid_cannot_be_held_twice_over_overlapping_dates(small_city):
    worker = UserFactory()
    grid = small_city.grids["320402001001001"]
    grid_assignment_create(
        user=worker, grid=grid, start_date=date(2026, 1, 1), end_date=date(2026, 3, 31)
    )

    with pytest.raises(ValidationError):
        grid_assignment_create(user=worker, grid=grid, start_date=date(2026, 3, 31))
    # the day after the end is free
    grid_assignment_create(user=worker, grid=grid, start_date=date(2026, 4, 1))


def test_two_workers_may_share_a_grid(small_city):
    grid = small_city.grids["320402001001001"]
    for worker in (UserFactory(), UserFactory()):
        grid_assignment_create(user=worker, grid=grid, start_date=date(2026, 1, 1))


def test_only_grids_can_be_assigned(small_city):
    with pytest.raises(ValidationError, match="grids only"):
        grid_assignment_create(
            user=UserFactory(), grid=small_city.community, start_date=date(2026, 1, 1)
        )


def test_end_before_start_is_refused(small_city):
    with pytest.raises(ValidationError, match="before the start"):
        grid_assignment_create(
            user=UserFactory(),
            grid=small_city.grids["320402001001001"],
            start_date=date(2026, 2, 1),
            end_date=date(2026, 1, 31),
        )


def test_another_workers_grids_are_not_mine(small_city):
    mine, theirs = UserFactory(), UserFactory()
    grid_assignment_create(
        user=theirs, grid=small_city.grids["320402001001001"], start_date=date(2026, 1, 1)
    )

    assert grids_of_worker(mine, on=date(2026, 2, 1)) == []
