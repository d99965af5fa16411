"""The Content-Security-Policy header on every kind of page (django-csp,
governance/settings/base.py). The browser tests (tests/e2e) fail on any
violation; these check the header itself."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from django.test import Client

from tests.cases.conftest import world  # noqa: F401 - the small working city
from tests.factories import UserFactory
from tests.servers import ROOT

pytestmark = pytest.mark.django_db

STRICT = {
    "default-src": ["'self'"],
    "img-src": ["'self'", "data:", "blob:"],
    "connect-src": ["'self'"],
    "frame-ancestors": ["'none'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
}


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in header.split(";") if part.strip())
    }


def assert_strict(response, *, nonce: bool = False):
    """The policy, with the request's nonce in script-src and style-src when
    the page used it (django-csp adds it only then)."""
    assert response.status_code == 200, response.status_code
    found = policy(response)
    for name, values in STRICT.items():
        assert found[name] == values, (name, found[name])
    for name in ("script-src", "style-src"):
        assert found[name][0] == "'self'"
        assert len(found[name]) == (2 if nonce else 1), (name, found[name])
        if nonce:
            assert re.fullmatch(r"'nonce-[A-Za-z0-9+/=]{16,}'", found[name][1])
    unsafe = [n for n, values in found.items() for v in values if "unsafe" in v]
    assert unsafe in ([], ["style-src-attr"]), unsafe
    return found


def nonce_of(found) -> str:
    return re.fullmatch(r"'nonce-(.+)'", found["script-src"][1]).group(1)


def signed_in(**fields) -> Client:
    client = Client()
    client.force_login(UserFactory(**fields))
    return client


def test_site_pages_allow_no_inline_script(small_city):
    for path in ("/", "/accounts/login/"):
        response = Client().get(path)
        assert_strict(response)
        assert b"<script>" not in response.content
        assert b"onchange=" not in response.content


def test_the_workbench(world):  # noqa: F811
    client = Client()
    client.force_login(world.handler)
    response = client.get("/workbench/")
    assert_strict(response)
    assert b'type="application/json"' in response.content  # data, not script


def test_admin_pages_and_the_map_widget_script_carries_the_nonce(small_city):
    admin = signed_in(username="root", is_staff=True, is_superuser=True)

    assert_strict(admin.get("/admin/"))
    grid = small_city.grids["320402001001002"]
    response = admin.get(f"/admin/grids/area/{grid.pk}/change/")
    found = assert_strict(response, nonce=True)

    page = response.content.decode()
    # Every inline script (not JSON data) carries the nonce: the map widget's.
    inline = [
        attributes
        for attributes in re.findall(r"<script( [^>]*)?>\s*[^<\s]", page)
        if 'type="application/json"' not in attributes
    ]
    assert inline, "the map widget's start-up script"
    for attributes in inline:
        assert f'nonce="{nonce_of(found)}"' in attributes


def test_api_docs_serve_their_script_as_a_file():
    client = signed_in(username="reader")
    response = client.get("/api/v1/docs/")
    assert_strict(response)
    assert "<style>" not in response.content.decode()
    script = re.search(r'<script src="([^"]+\?script=)"', response.content.decode()).group(1)
    assert client.get(script).status_code == 200


def test_the_browsable_api_alone_allows_style_attributes(world):  # noqa: F811
    client = Client()
    client.force_login(world.dispatcher)

    page = client.get("/api/v1/cases/", HTTP_ACCEPT="text/html")
    found = assert_strict(page, nonce=b"<style nonce=" in page.content)
    assert found["style-src-attr"] == ["'unsafe-inline'"]

    data = client.get("/api/v1/cases/", HTTP_ACCEPT="application/json")
    assert "style-src-attr" not in policy(data)
    assert_strict(data)


def settings_policy(**environ) -> dict:
    code = (
        "import json; from django.conf import settings; "
        "print(json.dumps(settings.CONTENT_SECURITY_POLICY['DIRECTIVES'], default=str))"
    )
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "governance.settings.base", **environ},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.django_db(databases=[])
def test_map_tiles_and_live_origins_come_from_the_settings():
    plain = settings_policy(MAP_TILE_URL="", CSP_CONNECT_ORIGINS="")
    configured = settings_policy(
        MAP_TILE_URL="https://t{s}.tianditu.gov.cn/vec_w/wmts?tk=KEY&x={x}&y={y}&l={z}",
        CSP_CONNECT_ORIGINS="wss://live.city.example.org,https://api.city.example.org",
    )

    assert plain["img-src"] == ["'self'", "data:", "blob:"]
    assert plain["connect-src"] == ["'self'"]
    assert configured["img-src"] == ["'self'", "data:", "blob:", "https://*.tianditu.gov.cn"]
    assert configured["connect-src"] == [
        "'self'",
        "wss://live.city.example.org",
        "https://api.city.example.org",
    ]
