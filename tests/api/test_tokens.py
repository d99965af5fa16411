"""API tokens: the prepared lookup answers as DRF's query would, refuses
what DRF refuses, and the prepared statements behave as Django's own
queries (logged, health-checked, in the transaction)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.db import fetchone_prepared
from organisation.tokens import token_for_key
from tests.api.helpers import error

pytestmark = pytest.mark.django_db

AREAS = "/api/v1/areas/"


def test_a_token_and_its_user_load_as_the_orm_loads_them(world):
    user = world.dispatcher
    user.display_name, user.phone, user.email = "值班长", "13800000000", "d@example.org"
    user.save()
    token = Token.objects.create(user=user)
    expected = Token.objects.select_related("user").get(key=token.key)
    found = token_for_key(token.key)
    assert (found.key, found.user_id, found.created) == (
        expected.key,
        expected.user_id,
        expected.created,
    )
    for field in type(user)._meta.concrete_fields:
        assert getattr(found.user, field.attname) == getattr(expected.user, field.attname), field
    assert found.user._state.adding is False and found.user._state.db == "default"
    assert token_for_key("no-such-key") is None


def test_a_valid_token_signs_its_user_in(world):
    token = Token.objects.create(user=world.dispatcher)
    response = APIClient(HTTP_AUTHORIZATION=f"Token {token.key}").get("/api/v1/cases/")
    assert response.status_code == 200
    assert response.wsgi_request.user == world.dispatcher
    assert response.wsgi_request.auth.key == token.key


@pytest.mark.parametrize("key", ["not-a-token", "a\x00b", "x" * 500])
def test_an_unknown_token_is_refused(world, key):
    error(APIClient(HTTP_AUTHORIZATION=f"Token {key}").get(AREAS), 403, "authentication_failed")


def test_the_token_of_a_deactivated_account_is_refused(world):
    token = Token.objects.create(user=world.dispatcher)
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get(AREAS).status_code == 200
    world.dispatcher.is_active = False
    world.dispatcher.save()
    body = error(client.get(AREAS), 403, "authentication_failed")
    assert "inactive" in body["message"]


def test_a_deleted_token_is_refused_at_once(world):
    token = Token.objects.create(user=world.dispatcher)
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get(AREAS).status_code == 200
    token.delete()
    error(client.get(AREAS), 403, "authentication_failed")


def test_prepared_statements_are_counted_as_queries(world):
    with CaptureQueriesContext(connection) as captured:
        assert fetchone_prepared("SELECT %s::int + 1", (41,)) == (42,)
    assert len(captured) == 1 and "SELECT" in captured[0]["sql"]


def test_prepared_statements_run_in_the_current_transaction(world):
    token = Token.objects.create(user=world.dispatcher)  # not committed: the test's transaction
    assert token_for_key(token.key).user_id == world.dispatcher.pk


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_connection_lost_between_requests_is_replaced_before_a_prepared_statement():
    connection.ensure_connection()
    connection.connection.close()  # the server went away while the process idled
    connection.health_check_done = False  # as at the start of each request
    assert fetchone_prepared("SELECT %s::int", (7,)) == (7,)
