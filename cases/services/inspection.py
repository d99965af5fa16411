"""Inspection on site (核查), and what follows a closed case: the reporter's
rating and a reopening."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from .. import deadlines
from ..errors import CaseInputError
from ..models import AttachmentKind, Case, Satisfaction
from .steps import acting, boolean, prepare_photos, settle_directives, text


def case_inspect(
    *,
    case: Case | int,
    actor,
    passed: bool,
    note: str = "",
    photos: Sequence[UploadedFile] = (),
    expected_version: int | None = None,
) -> Case:
    """Inspect (核查) on site: pass closes the case; fail sends it back to the
    department for rework, saying what is still wrong."""
    action = "inspect_pass" if boolean(passed, "passed") else "inspect_fail"
    prepared = prepare_photos(photos, field="photos", required=False)
    with acting(case, actor, action, expected_version) as step:
        note = text(note, "note", required=not passed)
        if passed:
            step.case.inspect_pass()
        else:
            step.case.inspect_fail()
        deadlines.stage_start(step.case, now=step.now)
        if passed:
            settle_directives(step.case, step.now)
        step.payload = {"note": note}
        step.photos, step.photo_kind = prepared, AttachmentKind.INSPECTION
    return step.case


def case_rate(
    *,
    case: Case | int,
    actor,
    satisfaction: str,
    comment: str = "",
    expected_version: int | None = None,
) -> Case:
    """The reporter's rating of a closed case."""
    if satisfaction not in Satisfaction.values:
        raise CaseInputError(
            _("Rate the outcome as one of: %(values)s.")
            % {"values": ", ".join(Satisfaction.values)},
            field="satisfaction",
        )
    with acting(case, actor, "rate", expected_version) as step:
        comment = text(comment, "comment", required=False)
        step.case.rate(satisfaction=satisfaction)
        step.payload = {"satisfaction": satisfaction, "comment": comment}
    return step.case


def case_reopen(
    *, case: Case | int, actor, reason: str, expected_version: int | None = None
) -> Case:
    """Reopen (重办) a closed case within the allowed days: back to its department."""
    with acting(case, actor, "reopen", expected_version) as step:
        reason = text(reason, "reason", required=True)
        step.case.reopen()
        deadlines.stage_start(step.case, now=step.now)
        step.payload = {"reason": reason}
    return step.case
