"""The OpenAPI document is true: a property-based run of schemathesis against
the live API (a real HTTP server on the test database) finds no server error,
no undocumented status code, content type or header, and no response that
breaks its schema.

Every operation of /api/v1/ is exercised with generated inputs, valid and
invalid, as a signed-in dispatcher (who may take most actions) over a small
city with cases in it. ``SCHEMATHESIS_MAX_EXAMPLES`` sets the examples per
operation (default 20). The examples are derandomized, so a run is
repeatable and CI does not fail by chance; set ``SCHEMATHESIS_RANDOM=1`` to
explore new ones (do, after changing an endpoint)."""

from __future__ import annotations

import json
import os

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.cases.conftest import IN_G4, report

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "20"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def auth(world):
    # Cases in several states for the operations that read or act on one.
    report(world)
    report(world, point=IN_G4, reporter=world.other_worker)
    token = Token.objects.create(user=world.dispatcher)
    return {"Authorization": f"Token {token.key}"}


def _document() -> dict:
    """The document /api/v1/schema/ serves (generated the same way)."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document))


schema = schemathesis.openapi.from_dict(_document())


def test_served_document_is_the_one_tested(client, world):
    client.force_login(world.dispatcher)
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert json.loads(response.content) == _document()


@schema.parametrize()
@hypothesis_settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=not os.environ.get("SCHEMATHESIS_RANDOM"),
    suppress_health_check=list(HealthCheck),
)
def test_api_matches_its_schema(case, live_server, auth):
    case.call_and_validate(base_url=live_server.url, headers=auth, checks=CHECKS)
