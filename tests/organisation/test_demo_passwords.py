"""Demo passwords never reach production: ``check --deploy`` fails while an
active account still signs in with the demo password (the demo app, which
creates them, is not installed there: tests/demo/test_demo_in_production.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test import override_settings

from organisation.demo_accounts import DEMO_PASSWORD, users_with_the_demo_password
from organisation.models import User
from tests.factories import UserFactory
from tests.servers import production_command


def with_demo_password(username, **fields):
    return UserFactory(username=username, password=DEMO_PASSWORD, **fields)


@pytest.mark.django_db
def test_active_accounts_with_the_demo_password_are_found():
    with_demo_password("handler")
    with_demo_password("someone")
    with_demo_password("gone", is_active=False)
    UserFactory(username="careful", password="a different one")
    locked = UserFactory(username="no_password")
    locked.set_unusable_password()
    locked.save()

    assert users_with_the_demo_password() == ["handler", "someone"]


@pytest.mark.django_db
@override_settings(DEMO_PASSWORD_CHECK_ALL_UP_TO=3)
def test_beyond_the_limit_only_demo_staff_and_superuser_accounts_are_tested():
    with_demo_password("handler")  # a demo account's name
    with_demo_password("clerk", is_staff=True)
    with_demo_password("root", is_superuser=True)
    with_demo_password("someone")  # a plain account, past the limit

    assert users_with_the_demo_password() == ["clerk", "handler", "root"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_deployment_check_fails_while_an_active_account_has_the_demo_password():
    # Hashed as production hashes (the test settings use a faster hasher).
    hashed = PBKDF2PasswordHasher().encode(DEMO_PASSWORD, "0123456789abcdef", iterations=1000)
    UserFactory(username="dispatcher")
    User.objects.filter(username="dispatcher").update(password=hashed)

    failing = production_command("check", "--deploy")
    User.objects.filter(username="dispatcher").update(is_active=False)
    passing = production_command("check", "--deploy", "--fail-level", "WARNING")

    assert failing.returncode != 0
    assert "organisation.E001" in failing.stderr
    assert "dispatcher" in failing.stderr
    assert passing.returncode == 0, passing.stdout + passing.stderr
