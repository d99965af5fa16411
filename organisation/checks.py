"""Deployment checks of the accounts: ``manage.py check --deploy`` fails
while an active account still signs in with the demo password."""

from __future__ import annotations

from django.core import checks
from django.db import DatabaseError


@checks.register(checks.Tags.security, deploy=True)
def check_demo_passwords(app_configs, **kwargs):
    from .demo_accounts import users_with_the_demo_password

    try:
        usernames = users_with_the_demo_password()
    except DatabaseError as exc:
        return [
            checks.Warning(
                f"Accounts were not checked for the demo password: {exc.__class__.__name__}.",
                hint="Run the check against the migrated production database.",
                id="organisation.W001",
            )
        ]
    if not usernames:
        return []
    return [
        checks.Error(
            f"{len(usernames)} active account(s) still sign in with the demo password: "
            f"{', '.join(usernames[:20])}{'…' if len(usernames) > 20 else ''}.",
            hint="Set new passwords, or deactivate the accounts, before going live.",
            id="organisation.E001",
        )
    ]
