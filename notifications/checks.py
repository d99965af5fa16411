"""System checks: a wrong NOTIFICATIONS_CHANNELS is reported by
``manage.py check`` (and at start-up), not at the first case event."""

from __future__ import annotations

from django.core import checks
from django.core.exceptions import ImproperlyConfigured


@checks.register(checks.Tags.compatibility)
def check_channels(app_configs, **kwargs):
    from . import rules

    rules.rules.cache_clear()
    rules._rules_by_action.cache_clear()
    try:
        rules.rules()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="notifications.E001")]
    return []
