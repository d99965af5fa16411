"""Where reads and writes go (core/dbrouting.py), without a standby:
the router only names aliases here. tests/test_replica.py runs the same rules
against a real hot standby."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.db import connections, router, transaction
from django.http import HttpResponse
from django.test import RequestFactory

from cases.models import Case
from core.dbrouting import COOKIE, ReplicaMiddleware, read_alias, replica_reads
from tests.factories import UserFactory

REPLICA = "replica_1"


def add_replica(alias: str, **address) -> None:
    """A replica alias with the primary's settings and ``address`` (HOST, PORT)."""
    connections.settings[alias] = {
        **connections["default"].settings_dict,
        **address,
        "TEST": {**connections["default"].settings_dict["TEST"], "MIRROR": "default"},
    }


def remove_replica(alias: str) -> None:
    connections[alias].close()
    del connections[alias]
    del connections.settings[alias]


@pytest.fixture
def replica():
    """A replica alias that is never connected to: the router only names it."""
    add_replica(REPLICA)
    yield REPLICA
    remove_replica(REPLICA)


def test_without_a_replica_every_read_stays_on_the_primary():
    with replica_reads() as alias:
        assert alias is None
        assert Case.objects.all().db == "default"
        assert read_alias() == "default"


def test_reads_go_to_the_replica_only_where_they_opt_in(replica):
    assert Case.objects.all().db == "default"
    with replica_reads() as alias:
        assert alias == replica
        assert Case.objects.all().db == replica
        assert Case.objects.filter(pk=1).values("id").db == replica
    assert Case.objects.all().db == "default"


def test_writes_and_locking_reads_always_go_to_the_primary(replica):
    with replica_reads():
        assert router.db_for_write(Case) == "default"
        assert Case.objects.select_for_update().db == "default"
        assert Case.objects.all().db == replica


@pytest.mark.django_db
def test_reads_inside_a_transaction_go_to_the_primary(replica):
    # (The test itself runs in a transaction.)
    assert connections["default"].in_atomic_block
    with replica_reads(), transaction.atomic():
        assert Case.objects.all().db == "default"


def test_migrations_run_on_the_primary_only(replica):
    assert router.allow_migrate("default", "cases")
    assert not router.allow_migrate(replica, "cases")


# --- Requests: read-your-own-writes -------------------------------------------------------


def serve(request, user=None):
    """Serve ``request`` through the middleware; the view records where a
    read that may lag would go, then authenticates as DRF does, inside."""
    seen = {}

    def view(request):
        request.user = user or AnonymousUser()
        with replica_reads():
            seen["alias"] = read_alias()
        return HttpResponse("ok")

    response = ReplicaMiddleware(view)(request)
    return seen["alias"], response


def test_a_get_may_read_the_replica_and_sets_no_marker(replica):
    alias, response = serve(RequestFactory().get("/open311/v2/requests.json"))
    assert alias == replica
    assert COOKIE not in response.cookies


def test_a_write_reads_the_primary_and_keeps_the_client_there_for_a_while(replica, settings):
    settings.REPLICA_STICKY_SECONDS = 30
    alias, response = serve(RequestFactory().post("/open311/v2/requests.json"))
    assert alias == "default"
    marker = response.cookies[COOKIE]
    assert marker["max-age"] == 30
    assert marker["httponly"]
    assert time.time() + 25 < float(marker.value) <= time.time() + 30.001

    request = RequestFactory().get("/open311/v2/requests.json")
    request.COOKIES[COOKIE] = marker.value
    assert serve(request)[0] == "default"


def test_an_expired_or_garbled_marker_is_ignored(replica):
    for value in (f"{time.time() - 1:.3f}", "soon", ""):
        request = RequestFactory().get("/api/v1/cases/")
        request.COOKIES[COOKIE] = value
        assert serve(request)[0] == replica


def test_a_user_who_wrote_reads_the_primary_from_any_client(replica):
    writer, other = UserFactory.build(pk=10**9 + 1), UserFactory.build(pk=10**9 + 2)
    cache.delete_many([f"dbrouting:wrote:{u.pk}" for u in (writer, other)])
    assert serve(RequestFactory().get("/api/v1/cases/"), writer)[0] == replica

    serve(RequestFactory().post("/api/v1/cases/1/reject/"), writer)

    # A new client (a token, another device): no cookie, the same user.
    assert serve(RequestFactory().get("/api/v1/cases/"), writer)[0] == "default"
    assert serve(RequestFactory().get("/api/v1/cases/"), other)[0] == replica


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_any_orm_write_in_a_get_keeps_that_request_on_the_primary(replica):
    def view(request):
        with replica_reads():
            before = read_alias()
            UserFactory(username="written-in-a-get")
            return HttpResponse(f"{before} {read_alias()}")

    response = ReplicaMiddleware(view)(RequestFactory().get("/"))
    assert response.content.decode() == f"{replica} default"
    assert COOKIE in response.cookies


def test_without_a_replica_the_middleware_sets_nothing():
    alias, response = serve(RequestFactory().post("/open311/v2/requests.json"))
    assert alias == "default"
    assert COOKIE not in response.cookies


def test_replica_urls_become_mirrored_aliases_with_the_primary_engine():
    """Each URL of DATABASE_REPLICA_URLS is an alias; a URL's own host list
    (libpq tries each) and options are kept."""
    urls = (
        "postgres://app:pw@10.0.0.2:5432,10.0.0.1:5432/city?target_session_attrs=prefer-standby"
        ", postgis://app:pw@10.0.0.3/city"
    )
    code = (
        "import json; from django.conf import settings; "
        "print(json.dumps(settings.DATABASES, default=str))"
    )
    env = {**os.environ, "DATABASE_REPLICA_URLS": urls}
    env["DJANGO_SETTINGS_MODULE"] = "governance.settings.test"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    databases = json.loads(done.stdout)
    assert sorted(databases) == ["default", "replica_1", "replica_2"]
    first, second = databases["replica_1"], databases["replica_2"]
    assert (first["HOST"], first["PORT"], first["NAME"]) == (
        "10.0.0.2,10.0.0.1",
        "5432,5432",
        "city",
    )
    assert first["OPTIONS"]["target_session_attrs"] == "prefer-standby"
    assert second["HOST"] == "10.0.0.3"
    for replica in (first, second):
        assert replica["ENGINE"] == "django.contrib.gis.db.backends.postgis"
        assert replica["TEST"] == {"MIRROR": "default"}
        assert "prepare_threshold" in replica["OPTIONS"]
