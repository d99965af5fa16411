"""Errors the case services raise: domain errors (core.errors) with a
machine-readable ``code`` and a message that says what was wrong; the API
turns them into one JSON shape (400 / 403 / 404 / 409)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from core.errors import DomainError


class CaseError(DomainError):
    """Any error of a case service."""


class CaseInputError(CaseError):
    """The request itself is wrong: a missing photo, an unknown department…"""


class CaseNotFound(CaseError):
    """The case does not exist, or the user may not know that it does."""

    code = "not_found"
    status = 404

    def __init__(self, case_id=None):
        super().__init__(_("No such case."))
        self.case_id = case_id


class ActionForbidden(CaseError):
    """The user can see the case but may not take this action on it."""

    code = "permission_denied"
    status = 403


class CaseConflict(CaseError):
    """The case is not (or no longer) in a state where the action applies:
    usually because someone else acted on it first."""

    code = "conflict"
    status = 409


class SubmissionKeyReused(CaseError):
    """An idempotency key came back with a different request."""

    code = "idempotency_key_reused"
    status = 422
