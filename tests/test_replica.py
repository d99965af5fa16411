"""Reads that may lag served by a real streaming replica (core/dbrouting.py).

A hot standby of the test cluster (tests/standby.py) is the alias
``replica_1``. Its replay is paused to make it lag for certain: what a
response then shows tells which server answered. Tests commit for real
(``transaction=True``): a standby sees only committed rows.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import pytest
from django.db import DatabaseError, connections, router
from django.test import Client
from django.test.utils import CaptureQueriesContext

from cases import services
from cases.models import Case, Source, Status
from core.dbrouting import replica_reads
from tests.api.helpers import client_for
from tests.cases.conftest import report, world  # noqa: F401 - the small working city
from tests.standby import Standby, free_port, why_not_possible

REPLICA = "replica_1"

pytestmark = [
    pytest.mark.replica,
    pytest.mark.django_db(
        transaction=True, serialized_rollback=True, databases=["default", REPLICA]
    ),
]


@pytest.fixture(scope="module")
def standby(django_db_setup, django_db_blocker):
    """A hot standby of the cluster, built once the test database exists, as
    the alias ``replica_1`` for this module's tests; removed after them."""
    with django_db_blocker.unblock():
        reason = why_not_possible()
        if reason:
            pytest.skip(f"no standby: {reason}")
        node = Standby()
        try:
            node.start()
            primary = connections["default"].settings_dict
            connections.settings[REPLICA] = node.settings_for(primary)
            connections.settings[REPLICA]["TEST"] = {**primary["TEST"], "MIRROR": "default"}
            node.wait_replayed(REPLICA)
            yield node
        finally:
            if REPLICA in connections.settings:
                connections[REPLICA].close()
                del connections.settings[REPLICA]
            node.stop()


@pytest.fixture
def lagging(standby):
    """The standby, caught up with everything committed so far, then paused:
    what is committed from here on it does not show until resumed."""
    standby.wait_replayed(REPLICA)
    standby.pause_replay()
    yield standby
    standby.resume_replay()


def tip(world, description: str) -> Case:  # noqa: F811
    """A citizen's tip, registered: the public feed lists it."""
    case = report(world, reporter=None, source=Source.CITIZEN, description=description)
    return services.case_register(case=case, actor=world.dispatcher)


def listed(response) -> set[str]:
    assert response.status_code == 200, response.content
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    return {row.get("service_request_id") or row.get("number") for row in rows}


def test_the_standby_is_a_read_only_copy_in_recovery(standby):
    with connections[REPLICA].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), current_database(), current_user")
        in_recovery, name, user = cursor.fetchone()
    assert in_recovery
    assert name == connections["default"].settings_dict["NAME"]
    assert user == connections["default"].settings_dict["USER"]  # the runtime role


def test_open311_gets_are_served_by_the_replica(world, lagging):  # noqa: F811
    before = tip(world, "replicated before the pause")
    lagging.resume_replay()
    lagging.wait_replayed(REPLICA)
    lagging.pause_replay()
    after = tip(world, "committed while the standby lags")

    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        shown = listed(Client().get("/open311/v2/requests.json"))
    assert before.number in shown
    assert after.number not in shown  # the lagging standby answered
    assert any("cases_case" in q["sql"] for q in on_replica.captured_queries)
    assert Client().get(f"/open311/v2/requests/{after.number}.json").status_code == 404

    lagging.resume_replay()
    lagging.wait_replayed(REPLICA)
    assert {before.number, after.number} <= listed(Client().get("/open311/v2/requests.json"))


def test_writes_never_go_to_the_replica_and_it_refuses_them(world, lagging):  # noqa: F811
    case = report(world)  # committed on the primary, not yet on the standby
    with replica_reads() as alias:
        assert alias == REPLICA
        assert router.db_for_write(Case) == "default"
        assert not Case.objects.filter(pk=case.pk).exists()  # a read that may lag
        # A transition reads what it locks and checks on the primary.
        registered = services.case_register(case=case, actor=world.dispatcher)
    assert registered.status == Status.REGISTERED
    assert Case.objects.get(pk=case.pk).status == Status.REGISTERED

    with (
        pytest.raises(DatabaseError, match="read-only transaction"),
        connections[REPLICA].cursor() as cursor,
    ):
        cursor.execute("UPDATE cases_case SET description = 'x' WHERE id = %s", [case.pk])


def test_after_an_action_its_actor_reads_their_own_write(world, lagging, settings):  # noqa: F811
    settings.REPLICA_STICKY_SECONDS = 2
    case = report(world)
    lagging.resume_replay()
    lagging.wait_replayed(REPLICA)
    lagging.pause_replay()
    rejected = "/api/v1/cases/?status=rejected"
    dispatcher = client_for(world.dispatcher)
    assert case.number not in listed(dispatcher.get(rejected))

    answer = dispatcher.post(f"/api/v1/cases/{case.pk}/reject/", {"reason": "重复上报"})
    assert answer.status_code == 200, answer.content

    # The actor sees the case rejected at once: on this client (its cookie)
    # and on any other (a token client keeps no cookie).
    assert case.number in listed(dispatcher.get(rejected))
    assert case.number in listed(client_for(world.dispatcher).get(rejected))
    # Someone else's list of settled cases comes from the lagging standby.
    assert case.number not in listed(client_for(world.city_dispatcher).get(rejected))
    # Open cases are never read from a replica: the case has left them for everyone.
    reported = "/api/v1/cases/?status=reported"
    assert case.number not in listed(client_for(world.city_dispatcher).get(reported))

    time.sleep(2.1)  # the actor's reads may lag again
    assert case.number not in listed(dispatcher.get(rejected))
    lagging.resume_replay()
    lagging.wait_replayed(REPLICA)
    assert case.number in listed(dispatcher.get(rejected))


@contextmanager
def replica_addresses(*ports: int, **options):
    """The replica alias pointed at several servers in turn (libpq's list)."""
    settings_dict = connections.settings[REPLICA]
    saved = {key: settings_dict[key] for key in ("HOST", "PORT", "OPTIONS")}
    connections[REPLICA].close()
    settings_dict.update(
        HOST=",".join(["127.0.0.1"] * len(ports)),
        PORT=",".join(str(port) for port in ports),
        OPTIONS={**saved["OPTIONS"], **options},
    )
    try:
        yield
    finally:
        connections[REPLICA].close()
        settings_dict.update(saved)


def in_recovery(alias: str) -> bool:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        return cursor.fetchone()[0]


def test_a_replica_url_can_fall_back_to_the_primary(world, standby):  # noqa: F811
    """DATABASE_REPLICA_URLS may list the standby, then the primary, with
    target_session_attrs=prefer-standby: libpq connects to a standby that
    answers, else to the primary, and reads that may lag go on being served."""
    primary = int(connections["default"].settings_dict["PORT"])
    prefer = {"target_session_attrs": "prefer-standby"}
    with replica_addresses(primary, standby.port, **prefer):
        assert in_recovery(REPLICA)  # the standby, although listed second

    with replica_addresses(free_port(), primary, **prefer):  # the standby is down
        assert not in_recovery(REPLICA)
        case = tip(world, "read from the primary while the standby is down")
        assert case.number in listed(Client().get("/open311/v2/requests.json"))
