"""Inspection on site (核查), and what follows a closed case: the reporter's
rating and a reopening."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from .. import deadlines
from ..errors import CaseInputError
from ..models import Case, Satisfaction, Stage
from ..policy import TipHolder
from .steps import INSPECTION, acting, on_site_check, settle_directives, text

# The stage whose limit the answer to a reopen request is due within.
REOPEN_ANSWER_STAGE = Stage.REGISTER


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
    with on_site_check(INSPECTION, case, actor, passed, note, photos, expected_version) as step:
        if passed:
            settle_directives(step.case, step.now)
    return step.case


def case_rate(
    *,
    case: Case | int,
    actor,
    satisfaction: str,
    comment: str = "",
    expected_version: int | None = None,
) -> Case:
    """The reporter's rating of a closed case (回访), within the days a
    closed case may be reopened (``CASES_REOPEN_DAYS``). "Not satisfied"
    needs a reason in ``comment`` and asks the command centre to reopen the
    case: the event is then ``reopen_requested`` (with the rating), and the
    case waits with a pending reopen request until a dispatcher reopens it
    (``case_reopen``) or declines (``case_decline_reopen``)."""
    if satisfaction not in Satisfaction.values:
        raise CaseInputError(
            _("Rate the outcome as one of: %(values)s.")
            % {"values": ", ".join(Satisfaction.values)},
            field="satisfaction",
        )
    unsatisfied = satisfaction == Satisfaction.UNSATISFIED
    with acting(case, actor, "rate", expected_version) as step:
        comment = text(comment, "comment", required=unsatisfied)
        step.case.rate(satisfaction=satisfaction)
        step.payload = {"satisfaction": satisfaction, "comment": comment}
        if unsatisfied:
            step.event = "reopen_requested"
            # The command centre answers it as it registers a new report: in
            # that stage's time, lit by the sweep (REOPEN_ANSWER_STAGE).
            deadlines.stage_start(step.case, now=step.now, stage=REOPEN_ANSWER_STAGE)
    return step.case


def case_rate_by_token(*, token: str, satisfaction: str, comment: str = "") -> Case:
    """``case_rate`` by whoever holds the tip's tracking token (a citizen
    without an account): the same rules, window and reopen request. An
    unknown token is ``CaseNotFound``."""
    from ..selectors import tip_by_token

    tip = tip_by_token(token)
    return case_rate(
        case=tip.pk, actor=TipHolder(tip.pk), satisfaction=satisfaction, comment=comment
    )


def case_decline_reopen(
    *, case: Case | int, actor, reason: str, expected_version: int | None = None
) -> Case:
    """Decline the reporter's request to reopen a closed case, saying why;
    the case stays closed with its rating."""
    with acting(case, actor, "decline_reopen", expected_version) as step:
        reason = text(reason, "reason", required=True)
        step.case.decline_reopen()
        deadlines.stage_start(step.case, now=step.now)  # closed: no deadline left
        step.payload = {"reason": reason}
    return step.case


def case_reopen(
    *, case: Case | int, actor, reason: str, expected_version: int | None = None
) -> Case:
    """Reopen (重办) a closed case within the allowed days, or after them on
    the reporter's request still pending: back to its department."""
    with acting(case, actor, "reopen", expected_version) as step:
        reason = text(reason, "reason", required=True)
        step.case.reopen()
        deadlines.stage_start(step.case, now=step.now)
        step.payload = {"reason": reason}
    return step.case
