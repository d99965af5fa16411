"""Demo passwords never reach production: seed_demo_city refuses to run
without DEMO_DATA_ALLOWED (off in production), and ``check --deploy`` fails
while an active account still signs in with the demo password."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core.management import CommandError, call_command
from django.test import override_settings

from grids.models import Area
from organisation.demo import DEMO_PASSWORD, users_with_the_demo_password
from organisation.models import User
from tests.factories import UserFactory
from tests.servers import production_command


def with_demo_password(username, **fields):
    return UserFactory(username=username, password=DEMO_PASSWORD, **fields)


@pytest.mark.django_db
def test_seed_demo_city_refuses_without_demo_data_allowed():
    with override_settings(DEMO_DATA_ALLOWED=False), pytest.raises(CommandError, match="DEMO"):
        call_command("seed_demo_city")

    assert not Area.objects.exists()
    assert not User.objects.filter(username__in=["admin", "dispatcher"]).exists()


@pytest.mark.django_db
def test_seed_demo_city_refuses_under_the_production_settings():
    result = production_command("seed_demo_city")

    assert result.returncode != 0
    assert "DEMO_DATA_ALLOWED" in result.stderr
    assert not Area.objects.exists()


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


@pytest.mark.django_db(transaction=True)
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
