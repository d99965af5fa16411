"""Two application nodes on one PostgreSQL and one Redis: each a complete
server stack (nginx, gunicorn, uvicorn; governance/stack.py) on its own port.
A live client on node B hears what an action on node A did, and a resync
from either node gives the same events."""

from __future__ import annotations

import asyncio
import copy
import importlib
import json
import urllib.request
import uuid

import pytest
from rest_framework.authtoken.models import Token
from websockets.asyncio.client import connect

from governance.stack import StackFailed
from tests.cases.conftest import IN_G1, world  # noqa: F401 - the small working city
from tests.servers import run_server_stack

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture(scope="module")
def nodes(django_db_setup, tmp_path_factory):
    """Node A and node B, sharing the test database and the Redis pub/sub
    layer (under a prefix of this run's own), as two machines would."""
    base = importlib.import_module("governance.settings.base")
    layers = copy.deepcopy(base.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["prefix"] = f"nodes-{uuid.uuid4().hex[:12]}"
    overrides = {
        "CHANNEL_LAYERS": layers,
        "WHITENOISE_USE_FINDERS": True,
        "CONFIG_CACHE_SECONDS": 0,
    }
    environ = {"GUNICORN_WORKERS": "1"}
    try:
        with (
            run_server_stack(
                overrides, work_dir=tmp_path_factory.mktemp("a"), environ=environ
            ) as a,
            run_server_stack(
                overrides, work_dir=tmp_path_factory.mktemp("b"), environ=environ
            ) as b,
        ):
            yield a, b
    except StackFailed as exc:
        pytest.fail(str(exc))


def call(url: str, token: str, data: dict | None = None) -> dict:
    request = urllib.request.Request(  # noqa: S310 - the test's own loopback servers
        url,
        data=json.dumps(data).encode() if data is not None else None,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST" if data is not None else "GET",
    )
    with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310
        return json.loads(response.read())


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://", 1) + "/ws/v1/live/"


def test_an_action_on_one_node_reaches_a_live_client_on_the_other(nodes, world):  # noqa: F811
    node_a, node_b = nodes
    token = Token.objects.create(user=world.grid_worker).key

    async def scenario():
        headers = {"Authorization": f"Token {token}"}
        async with connect(ws_url(node_b.url), additional_headers=headers) as socket:
            welcome = json.loads(await asyncio.wait_for(socket.recv(), 10))
            assert welcome["type"] == "welcome"
            assert f"user.{world.grid_worker.pk}" in welcome["groups"]
            # When the grid worker reports a problem through node A
            report = {
                "category": "BJ0101",
                "description": "井盖缺失",
                "lng": IN_G1[0],
                "lat": IN_G1[1],
            }
            case = await asyncio.to_thread(call, f"{node_a.url}/api/v1/cases/", token, report)
            # Then the socket on node B hears of it
            while True:
                message = json.loads(await asyncio.wait_for(socket.recv(), 15))
                if message.get("type") == "case.event" and message.get("case_id") == case["id"]:
                    return case, message

    case, event = asyncio.run(scenario())

    assert event["action"] == "reported"
    # And a resync from either node gives the same events, the new one among them
    from_a = call(f"{node_a.url}/api/v1/events/?since=0", token)
    from_b = call(f"{node_b.url}/api/v1/events/?since=0", token)
    assert from_a["events"] == from_b["events"]
    assert event["id"] in [e["id"] for e in from_a["events"]]
    assert case["id"] in {e["case_id"] for e in from_b["events"]}
