"""Verification on site (核实): is a tip's problem really there?

A citizen's tip or a hotline report has not been seen by staff. The command
centre sends it to the grid workers of the grid its point falls in
(``case_send_to_verify``; or it goes there on its own when
``CASES_VERIFY_TIPS`` is on); one of them goes and looks
(``case_verify``): passed, the problem is there (photos and a note);
failed, not found or not as described (a reason). Either way the report is
back with the command centre, marked with the outcome, to register or void.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from .. import deadlines
from ..errors import CaseConflict
from ..models import Case
from ..selectors import grid_has_worker
from .steps import VERIFICATION, acting, on_site_check, text

# Why a tip is not sent to verification: nobody would go.
NO_GRID_WORKER = _("No grid worker is assigned to this grid; register or void the report here.")


def case_send_to_verify(
    *, case: Case | int, actor, note: str = "", expected_version: int | None = None
) -> Case:
    """Send a reported tip to its grid's workers to verify on site (派核实),
    with the verification deadline of the case's category."""
    with acting(case, actor, "send_to_verify", expected_version) as step:
        note = text(note, "note", required=False)
        if not grid_has_worker(step.case.grid_id):
            raise CaseConflict(NO_GRID_WORKER)
        step.case.send_to_verify()
        deadlines.stage_start(step.case, now=step.now)
        step.payload = {"note": note, "due_at": step.case.due_at}
    return step.case


def case_recall_verification(
    *, case: Case | int, actor, reason: str, expected_version: int | None = None
) -> Case:
    """Take a tip back from verification (no worker can go, it has waited
    too long, or it is plainly a duplicate or void): it is reported again,
    unverified, with a new registration deadline; a reason is required."""
    with acting(case, actor, "recall_verification", expected_version) as step:
        reason = text(reason, "reason", required=True)
        step.case.recall_verification()
        deadlines.stage_start(step.case, now=step.now)
        step.payload = {"reason": reason}
    return step.case


def case_verify(
    *,
    case: Case | int,
    actor,
    passed: bool,
    note: str = "",
    photos: Sequence[UploadedFile] = (),
    expected_version: int | None = None,
) -> Case:
    """Verify on site: ``passed`` when the problem is there as reported (at
    least one photo); otherwise say why (not found, not as described). The
    report goes back to the command centre either way."""
    with on_site_check(VERIFICATION, case, actor, passed, note, photos, expected_version) as step:
        pass
    return step.case
