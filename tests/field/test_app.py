"""What makes /field/ installable (field/app.py): the manifest, the icons
drawn by our own code, the service worker served within the app's scope."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from PIL import Image

pytestmark = pytest.mark.django_db


def test_the_manifest_names_the_app_in_chinese_and_starts_at_field():
    response = Client(HTTP_ACCEPT_LANGUAGE="zh-hans").get("/field/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    body = response.json()
    assert body["name"] == "网格员" and body["lang"] == "zh-hans"
    assert (body["start_url"], body["scope"]) == ("/field/", "/field/")
    assert body["display"] == "standalone"
    assert body["theme_color"] == "#0b3d91"
    purposes = {(icon["sizes"], icon["purpose"]) for icon in body["icons"]}
    assert purposes == {(s, p) for s in ("192x192", "512x512") for p in ("any", "maskable")}


@pytest.mark.parametrize("size", [192, 512])
@pytest.mark.parametrize("purpose", ["any", "maskable"])
def test_each_icon_is_a_png_of_its_size(size, purpose):
    response = Client().get(f"/field/icons/{size}-{purpose}.png")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "PNG" and image.size == (size, size)
    corner = image.convert("RGBA").getpixel((0, 0))
    # A maskable icon fills its square; the other has rounded, clear corners.
    assert (corner[3] == 255) is (purpose == "maskable")


def test_an_icon_of_another_size_is_not_found():
    assert Client().get("/field/icons/100-any.png").status_code == 404


def test_the_service_worker_is_served_in_scope_with_the_shell_urls():
    response = Client().get("/field/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert "no-cache" in response["Cache-Control"]
    text = response.content.decode()
    assert text.startswith("self.FIELD_SHELL = ")
    assert '"/field/"' in text and '"/field/report/"' in text and "build/field.js" in text
