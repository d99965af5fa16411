"""Sign-in protection (organisation/sign_in.py): five failures for one user
name from one address lock that pair for 15 minutes on both login pages;
administrators unlock; a per-address rate limits sign-in posts."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.test import Client, override_settings

from tests.api.helpers import error, random_ip
from tests.factories import DEMO_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"


def sign_in(username, password, *, ip, path=LOGIN, client=None, **extra):
    return (client or Client()).post(
        path, {"username": username, "password": password}, REMOTE_ADDR=ip, **extra
    )


def fail(username, times, *, ip, path=LOGIN):
    return [sign_in(username, "wrong", ip=ip, path=path).status_code for _ in range(times)]


def assert_locked(response):
    assert response.status_code == 429, response.status_code
    assert 0 < int(response["Retry-After"]) <= 15 * 60
    assert "_auth_user_id" not in response.wsgi_request.session
    page = response.content.decode()
    assert "Too many failed sign-ins for this user name" in page
    assert "15 minutes" in page


def test_the_fifth_failure_locks_and_the_right_password_is_then_refused():
    UserFactory(username="handler")
    ip = random_ip()

    assert fail("handler", 4, ip=ip) == [200] * 4
    assert_locked(sign_in("handler", "wrong", ip=ip))
    assert_locked(sign_in("handler", DEMO_PASSWORD, ip=ip))


def test_fewer_failures_than_the_limit_do_not_lock_and_a_success_clears_them():
    UserFactory(username="handler")
    ip = random_ip()

    assert fail("handler", 4, ip=ip) == [200] * 4
    assert sign_in("handler", DEMO_PASSWORD, ip=ip).status_code == 302
    # The count started again: four more failures still do not lock.
    assert fail("handler", 4, ip=ip) == [200] * 4
    assert sign_in("handler", DEMO_PASSWORD, ip=ip).status_code == 302


def test_a_lock_holds_only_that_user_name_from_that_address():
    UserFactory(username="handler")
    UserFactory(username="dispatcher")
    ip = random_ip()
    fail("handler", 5, ip=ip)

    assert sign_in("dispatcher", DEMO_PASSWORD, ip=ip).status_code == 302
    assert sign_in("handler", DEMO_PASSWORD, ip=random_ip()).status_code == 302
    assert_locked(sign_in("handler", DEMO_PASSWORD, ip=ip))


def test_the_admin_login_locks_too():
    UserFactory(username="root", is_staff=True, is_superuser=True)
    ip = random_ip()

    assert fail("root", 4, ip=ip, path=ADMIN_LOGIN) == [200] * 4
    assert_locked(sign_in("root", "wrong", ip=ip, path=ADMIN_LOGIN))
    assert_locked(sign_in("root", DEMO_PASSWORD, ip=ip, path=ADMIN_LOGIN))
    # One lock for both pages.
    assert_locked(sign_in("root", DEMO_PASSWORD, ip=ip))


def test_a_client_asking_for_json_gets_the_error_format():
    UserFactory(username="handler")
    ip = random_ip()
    fail("handler", 5, ip=ip)

    response = sign_in("handler", DEMO_PASSWORD, ip=ip, HTTP_ACCEPT="application/json")

    body = error(response, 429, "sign_in_locked")
    assert "15 minutes" in body["message"]


def test_the_lock_message_is_translated():
    UserFactory(username="handler")
    ip = random_ip()
    fail("handler", 5, ip=ip)

    response = sign_in("handler", "wrong", ip=ip, HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert response.status_code == 429
    assert "登录失败次数过多" in response.content.decode()


def test_the_lock_follows_the_forwarded_address_only_behind_configured_proxies():
    UserFactory(username="handler")
    proxy = random_ip()
    client_a, client_b = random_ip(), random_ip()

    with override_settings(REST_FRAMEWORK={"NUM_PROXIES": 1}):
        for _ in range(5):
            sign_in("handler", "wrong", ip=proxy, HTTP_X_FORWARDED_FOR=client_a)
        assert_locked(sign_in("handler", DEMO_PASSWORD, ip=proxy, HTTP_X_FORWARDED_FOR=client_a))
        ok = sign_in("handler", DEMO_PASSWORD, ip=proxy, HTTP_X_FORWARDED_FOR=client_b)
        assert ok.status_code == 302
    # Without proxies the header is ignored: a new forged address per try
    # still counts against the peer address.
    peer = random_ip()
    for _ in range(5):
        sign_in("handler", "wrong", ip=peer, HTTP_X_FORWARDED_FOR=random_ip())
    assert_locked(sign_in("handler", DEMO_PASSWORD, ip=peer, HTTP_X_FORWARDED_FOR=random_ip()))


# --- Unlock ------------------------------------------------------------------------------


def locked_handler():
    user = UserFactory(username="handler")
    ip = random_ip()
    fail("handler", 5, ip=ip)
    assert_locked(sign_in("handler", DEMO_PASSWORD, ip=ip))
    return user, ip


def unlock_action(admin_client, user):
    return admin_client.post(
        "/admin/organisation/user/",
        {"action": "unlock_sign_in", "_selected_action": [user.pk]},
    )


def test_an_administrator_unlocks_from_the_user_list():
    user, ip = locked_handler()
    admin = Client()
    admin.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))

    response = unlock_action(admin, user)

    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username="handler").exists()
    assert sign_in("handler", DEMO_PASSWORD, ip=ip).status_code == 302


def test_staff_without_the_right_to_change_users_cannot_unlock():
    user, ip = locked_handler()
    staff = Client()
    staff.force_login(UserFactory(username="clerk", is_staff=True))

    response = unlock_action(staff, user)

    assert response.status_code == 403
    assert AccessAttempt.objects.filter(username="handler").exists()
    assert_locked(sign_in("handler", DEMO_PASSWORD, ip=ip))


def test_deleting_the_access_attempt_in_the_admin_unlocks_too():
    _user, ip = locked_handler()
    attempt = AccessAttempt.objects.get(username="handler")
    admin = Client()
    admin.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))

    response = admin.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert sign_in("handler", DEMO_PASSWORD, ip=ip).status_code == 302


# --- Rate per address ----------------------------------------------------------------------


@override_settings(RATE_LIMITS={"anonymous_ip": None, "token": None, "sign_in": "3/min"})
@pytest.mark.parametrize("path", [LOGIN, ADMIN_LOGIN])
def test_sign_in_posts_from_one_address_are_rate_limited_whatever_the_user_name(path):
    UserFactory(username="handler", is_staff=True)
    ip = random_ip()

    statuses = [sign_in(f"guess{n}", "wrong", ip=ip, path=path).status_code for n in range(3)]
    limited = sign_in("handler", DEMO_PASSWORD, ip=ip, path=path)

    assert statuses == [200, 200, 200]
    assert limited.status_code == 429
    assert 0 < int(limited["Retry-After"]) <= 61
    assert "Too many sign-ins from your address" in limited.content.decode()
    # Another address is not affected, and showing the page is not counted.
    assert sign_in("handler", DEMO_PASSWORD, ip=random_ip(), path=path).status_code == 302
    assert Client().get(path, REMOTE_ADDR=ip).status_code == 200
