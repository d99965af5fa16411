"""The demo accounts and their published password.

The demo app (``demo.users``) creates them for the demo city; production,
where the demo app is not installed, must still recognise them:
``check --deploy`` fails while an active account signs in with the demo
password (organisation.checks)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX, check_password
from django.db.models import Q

from .models import Role, User

DEMO_PASSWORD = "demo-2026"  # noqa: S105 - printed on purpose: demo accounts only

# One demo account per role: user name, display name, role.
DEMO_ACCOUNTS = [
    ("admin", "演示管理员", Role.ADMIN),
    ("dispatcher", "演示调度员", Role.DISPATCHER),
    ("handler", "演示处置员", Role.HANDLER),
    ("supervisor", "演示督办员", Role.SUPERVISOR),
    ("gridworker", "演示网格员", Role.GRID_WORKER),
    ("citizen", "演示市民", Role.CITIZEN),
]


def users_with_the_demo_password() -> list[str]:
    """User names of active accounts that still sign in with DEMO_PASSWORD.

    Each test is a full password hash (a fifth of a second with Django's
    PBKDF2), so every active account is tested only while there are at most
    DEMO_PASSWORD_CHECK_ALL_UP_TO of them; beyond that, the demo accounts and
    every staff or superuser account (those that reach the admin) are."""
    # Unusable passwords (set_unusable_password) start with "!".
    unusable = Q(password="") | Q(password__startswith=UNUSABLE_PASSWORD_PREFIX)
    active = User.objects.filter(is_active=True).exclude(unusable)
    if active.count() > settings.DEMO_PASSWORD_CHECK_ALL_UP_TO:
        demo_names = [username for username, _name, _role in DEMO_ACCOUNTS]
        active = active.filter(Q(username__in=demo_names) | Q(is_staff=True) | Q(is_superuser=True))
    return [
        user.username
        for user in active.only("username", "password").order_by("username")
        # Not user.check_password: a check must not re-save an outdated hash.
        if check_password(DEMO_PASSWORD, user.password)
    ]
