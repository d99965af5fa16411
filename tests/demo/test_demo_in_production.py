"""The demo data stays out of production: the production settings do not
install the demo app, so there is no seed_demo_city there; and the command
refuses to run wherever DEMO_DATA_ALLOWED is off."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import override_settings

from grids.models import Area
from organisation.models import User
from tests.servers import production_command


@pytest.mark.django_db
def test_seed_demo_city_refuses_without_demo_data_allowed():
    with override_settings(DEMO_DATA_ALLOWED=False), pytest.raises(CommandError, match="DEMO"):
        call_command("seed_demo_city")

    assert not Area.objects.exists()
    assert not User.objects.filter(username__in=["admin", "dispatcher"]).exists()


@pytest.mark.django_db
def test_production_has_no_seed_demo_city():
    result = production_command("seed_demo_city")

    assert result.returncode != 0
    assert "Unknown command: 'seed_demo_city'" in result.stderr
    assert not Area.objects.exists()


def test_the_production_settings_leave_the_demo_app_out():
    code = "from django.conf import settings; print(settings.INSTALLED_APPS)"
    production = production_command("shell", "-c", code)

    assert production.returncode == 0, production.stderr
    assert "'cases'" in production.stdout and "'demo'" not in production.stdout
    assert "demo" in settings.INSTALLED_APPS  # development and tests have it
