"""Errors of the notifications API, domain errors (core.errors) that the
exception handler in core.api_errors renders."""

from __future__ import annotations

from django.utils.translation import gettext as _

from core.errors import DomainError


class NotificationNotFound(DomainError):
    """No such notification in the user's inbox: another user's is not found either."""

    code = "not_found"
    status = 404

    def __init__(self):
        super().__init__(_("No such notification."))
