"""Errors of the notifications API, in the project's one error type (the
exception handler in governance.api_errors renders them)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from cases.errors import CaseError


class NotificationNotFound(CaseError):
    """No such notification in the user's inbox: another user's is not found either."""

    code = "not_found"
    status = 404

    def __init__(self):
        super().__init__(_("No such notification."))
