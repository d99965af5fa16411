"""Oversight of open cases: reminders (催办) and supervision orders (督办),
and the notes anyone working on a case adds to its record."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.translation import gettext as _

from ..errors import CaseInputError
from ..models import Case, CaseDirective, DirectiveKind
from . import steps
from .steps import acting, prepare_photos


def case_issue_directive(
    *,
    case: Case | int,
    actor,
    kind: str,
    message: str,
    due_at: dt.datetime,
    expected_version: int | None = None,
) -> CaseDirective:
    """A reminder (催办) or a supervision order (督办) on an open case, due by ``due_at``."""
    if kind not in DirectiveKind.values:
        raise CaseInputError(_("Unknown kind “%(k)s”.") % {"k": kind}, field="kind")
    action = "remind" if kind == DirectiveKind.REMINDER else "supervise"
    now = timezone.now()
    if not isinstance(due_at, dt.datetime) or timezone.is_naive(due_at):
        raise CaseInputError(
            _("Give the deadline as a date and time with its time zone."), field="due_at"
        )
    if due_at <= now:
        raise CaseInputError(_("The deadline must be in the future."), field="due_at")
    with acting(case, actor, action, expected_version) as step:
        message = steps.text(message, "message", required=True)
        if action == "remind":
            step.case.remind()
        else:
            step.case.supervise()
        directive = CaseDirective.objects.create(
            case=step.case, kind=kind, issued_by=actor, message=message, due_at=due_at,
            created_at=now,
        )  # fmt: skip
        step.payload = {"directive": directive.pk, "message": message, "due_at": due_at}
    return directive


def case_comment(
    *,
    case: Case | int,
    actor,
    text: str,
    photos: Sequence[UploadedFile] = (),
    expected_version: int | None = None,
) -> Case:
    """A note (and photos) on the case's record by someone working on it."""
    prepared = prepare_photos(photos, field="photos", required=False)
    with acting(case, actor, "comment", expected_version) as step:
        note = steps.text(text, "text", required=True)
        step.case.comment()
        step.payload = {"text": note}
        step.photos = prepared
    return step.case
