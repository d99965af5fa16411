"""Staff who are not admins sign in through the site's own page, not the admin's."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_workbench_asks_signed_out_visitors_to_sign_in(world):
    response = Client().get("/workbench/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/workbench/"
    page = Client().get(response["Location"])
    assert page.status_code == 200
    assert b'name="password"' in page.content


def test_a_handler_signs_in_and_out(world):
    world.handler.set_password("correct horse")
    world.handler.save()
    client = Client()
    response = client.post(
        "/accounts/login/",
        {"username": "handler", "password": "correct horse", "next": "/workbench/"},
    )
    assert response.status_code == 302 and response["Location"] == "/workbench/"
    assert client.get("/workbench/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/workbench/").status_code == 302


def test_a_wrong_password_signs_no_one_in(world):
    world.handler.set_password("correct horse")
    world.handler.save()
    client = Client()
    response = client.post("/accounts/login/", {"username": "handler", "password": "wrong"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert client.get("/workbench/").status_code == 302


def test_a_next_address_on_another_site_is_not_followed(world):
    world.handler.set_password("correct horse")
    world.handler.save()
    response = Client().post(
        "/accounts/login/",
        {"username": "handler", "password": "correct horse", "next": "https://evil.example/"},
    )
    assert response.status_code == 302 and response["Location"] == "/workbench/"
