"""The rule tests/conftest.py enforces: a transactional test restores the
migrated rows after it (serialized rollback), or its flush re-creates the
content types under new ids and breaks the serialized-rollback tests after it.
Browser tests alone are let off: they run last."""

from __future__ import annotations

import pytest
from django.test import TestCase, TransactionTestCase

from tests.conftest import flushes_without_restoring, in_browser


class Item:
    """What the rule reads of a collected test."""

    def __init__(self, *markers, fixtures=(), cls=None):
        self.markers = {mark.name: mark for mark in (m.mark for m in markers)}
        self.fixturenames = ["request", *fixtures]
        self.cls = cls

    def get_closest_marker(self, name):
        return self.markers.get(name)


db = pytest.mark.django_db


class Committing(TransactionTestCase):
    pass


class Restoring(TransactionTestCase):
    serialized_rollback = True


class RolledBack(TestCase):
    pass


@pytest.mark.parametrize(
    "item",
    [
        Item(db(transaction=True)),
        Item(db(True)),
        Item(db(reset_sequences=True, transaction=True)),
        Item(db, fixtures=["transactional_db"]),
        Item(fixtures=["live_server", "transactional_db"]),
        Item(cls=Committing),
        Item(pytest.mark.e2e, db(transaction=True)),  # e2e without a browser: not let off
    ],
    ids=["marker", "positional", "sequences", "fixture", "live_server", "class", "e2e"],
)
def test_a_transactional_test_without_serialized_rollback_is_refused(item):
    assert flushes_without_restoring(item)


@pytest.mark.parametrize(
    "item",
    [
        Item(),
        Item(db),
        Item(db(transaction=True, serialized_rollback=True)),
        Item(db(transaction=True), fixtures=["django_db_serialized_rollback"]),
        Item(db(transaction=True, serialized_rollback=True), fixtures=["live_server"]),
        Item(cls=Restoring),
        Item(cls=RolledBack),
        Item(db(transaction=True), fixtures=["page", "browser"]),
    ],
    ids=["no-db", "db", "serialized", "serialized-fixture", "live", "class", "testcase", "browser"],
)
def test_other_tests_pass_the_rule(item):
    assert not flushes_without_restoring(item)


def test_browser_tests_are_those_with_a_browser():
    assert in_browser(Item(fixtures=["page", "browser"]))
    assert not in_browser(Item(pytest.mark.e2e, fixtures=["server_stack"]))


def test_the_suite_holds_to_the_rule(request):
    """Every collected test of this run (the rule also fails each one alone)."""
    offenders = [i.nodeid for i in request.session.items if flushes_without_restoring(i)]
    assert offenders == []
