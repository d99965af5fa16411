"""The handling department's actions: acknowledge or return a case, ask for
more time or a suspension, and report it handled."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from .. import deadlines, limits
from ..errors import CaseInputError
from ..models import Case
from .steps import acting, prepare_photos, settle_directives, text


def case_acknowledge(
    *, case: Case | int, actor, reason: str = "", expected_version: int | None = None
) -> Case:
    """Acknowledge (签收) a dispatched case: handling starts. ``reason`` is
    an optional note."""
    with acting(case, actor, "acknowledge", expected_version) as step:
        note = text(reason, "note", required=False)
        step.case.acknowledge()
        deadlines.stage_start(step.case, now=step.now)
        step.payload = {"note": note}
    return step.case


def case_return(
    *, case: Case | int, actor, reason: str, expected_version: int | None = None
) -> Case:
    """Return (退单) a case that is not the department's, saying why."""
    with acting(case, actor, "return", expected_version) as step:
        reason = text(reason, "reason", required=True)
        step.case.return_case()
        deadlines.stage_start(step.case, now=step.now)
        settle_directives(step.case, step.now)
        step.payload = {"reason": reason}
    return step.case


def case_request_extension(
    *,
    case: Case | int,
    actor,
    amount: int,
    reason: str,
    expected_version: int | None = None,
) -> Case:
    """Ask for more time (延期): ``amount`` in the unit of the handling limit."""
    with acting(case, actor, "request_extension", expected_version) as step:
        reason = text(reason, "reason", required=True)
        if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= 1000:
            raise CaseInputError(
                _("The extension must be a whole number from 1 to 1000."), field="amount"
            )
        step.case.request_extension(minutes=deadlines.extension_minutes(step.case, amount))
        step.payload = {"amount": amount, "unit": step.case.stage_unit, "reason": reason}
    return step.case


def case_request_suspension(
    *, case: Case | int, actor, reason: str, expected_version: int | None = None
) -> Case:
    """Ask the command centre to suspend (挂账) the case."""
    with acting(case, actor, "request_suspension", expected_version) as step:
        reason = text(reason, "reason", required=True)
        step.case.request_suspension()
        step.payload = {"reason": reason}
    return step.case


def case_report_back(
    *,
    case: Case | int,
    actor,
    note: str,
    photos: Sequence[UploadedFile],
    reply: str = "",
    expected_version: int | None = None,
) -> Case:
    """Report the case handled (反馈), with at least one photo of the result.
    The ``note`` is internal; the optional ``reply`` is the department's word
    to the reporter, public on the tip's tracking page (``public_reply``)."""
    prepared = prepare_photos(photos, field="photos", required=True)
    with acting(case, actor, "report_back", expected_version) as step:
        note = text(note, "note", required=True)
        reply = text(reply, "reply", required=False, limit=limits.REPLY)
        step.case.report_back()
        deadlines.stage_start(step.case, now=step.now)
        settle_directives(step.case, step.now)
        step.payload = {"note": note, "reply": reply} if reply else {"note": note}
        step.photos = prepared
    return step.case
