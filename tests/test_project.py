"""Project-wide checks: migrations, lint, deployment settings, pages, ASGI."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.testing import HttpCommunicator
from django.core.management import call_command
from django.test import override_settings

from tests.factories import UserFactory
from tests.servers import production_command

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def test_models_and_migrations_agree(db):
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_ruff_lint_and_format_are_clean():
    for args in (["check", "."], ["format", "--check", "."]):
        result = subprocess.run(
            [str(BIN / "ruff"), *args], cwd=ROOT, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
def test_production_settings_pass_the_deployment_check():
    result = production_command("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_settings_require_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env["DJANGO_SETTINGS_MODULE"] = "governance.settings.production"
    env["ALLOWED_HOSTS"] = "city.example.org"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.fixture
def staff_client(client, db):
    client.force_login(UserFactory(username="ops", is_staff=True))
    return client


@pytest.mark.django_db
def test_health_tells_staff_what_each_check_found(staff_client):
    response = staff_client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"].startswith("ok (PostGIS 3")
    assert body["checks"]["redis"] == "ok"


@pytest.mark.django_db
@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "not staff"])
def test_health_tells_others_the_status_only(client, signed_in):
    if signed_in:
        client.force_login(UserFactory(username="someone", is_staff=False))

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert b"PostGIS" not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("staff", [False, True], ids=["anonymous", "staff"])
def test_health_is_503_when_redis_is_unreachable(client, staff):
    if staff:
        client.force_login(UserFactory(username="ops", is_staff=True))
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    if staff:
        assert response.json()["checks"]["redis"].startswith("error")
    else:
        assert "checks" not in response.json()


@pytest.mark.django_db
def test_home_page_speaks_chinese_by_default_and_english_on_request(client, small_city):
    chinese = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    english = client.get("/", HTTP_ACCEPT_LANGUAGE="en")

    assert chinese.status_code == english.status_code == 200
    assert "辖区" in chinese.content.decode()
    assert "Jurisdiction" in english.content.decode()
    assert "<td>grid</td><td>5</td>" in english.content.decode().replace("\n", "")


def test_the_asgi_application_serves_only_the_websocket_and_its_health():
    """HTTP is gunicorn's (governance/wsgi.py): uvicorn answers only its own
    /healthz and 404 to anything else, without running a Django view."""
    from governance.asgi import application

    async def get(path):
        communicator = HttpCommunicator(application, "GET", path, headers=[(b"host", b"localhost")])
        return await communicator.get_response(timeout=10)

    health = async_to_sync(get)("/healthz")
    elsewhere = async_to_sync(get)("/api/v1/cases/")

    assert health["status"] == 200 and json.loads(health["body"]) == {"status": "ok"}
    assert elsewhere["status"] == 404
    assert json.loads(elsewhere["body"])["error"]["code"] == "not_found"


def _demo_setting(name: str, **env) -> str:
    """A setting of the demo (``governance.settings.local``) as ``bin/run``
    would load it, with ``env`` over an environment without DEBUG."""
    environ = {k: v for k, v in os.environ.items() if k != "DEBUG"}
    code = f"import governance.settings.local as s; print(s.{name})"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_the_demo_runs_with_debug_off_unless_debug_is_asked_for():
    assert _demo_setting("DEBUG") == "False"
    assert _demo_setting("DEBUG", DEBUG="true") == "True"


BIG_BODY = b'{"description": "' + b"x" * (12 * 1024 * 1024) + b'"}'


@pytest.mark.django_db
def test_a_12_mb_body_answers_the_api_error_not_a_debug_page(client, settings):
    settings.DEBUG = False

    response = client.post("/api/v1/tips/", BIG_BODY, content_type="application/json")

    assert response.status_code == 413
    assert response.json() == {
        "error": {"code": "too_large", "message": "The request body is too large."}
    }


@pytest.mark.django_db
def test_with_debug_on_the_same_body_shows_the_debug_page(client, settings):
    """What DEBUG=true gives away, and why the demo no longer runs with it."""
    settings.DEBUG = True

    response = client.post("/api/v1/tips/", BIG_BODY, content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert b"DATA_UPLOAD_MAX_MEMORY_SIZE" in response.content
