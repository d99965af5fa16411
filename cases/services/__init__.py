"""Case services: one function per action, the only code that changes a case.

Grouped by who acts:

- ``reporting``: a new case (``case_report``);
- ``command_centre``: register, void, merge, dispatch, escalate, decide on
  extensions and suspensions, resume, add co-handlers;
- ``department``: acknowledge, return, ask for time or a suspension, report
  back;
- ``verification``: send a tip to be verified on site (核实), and verify it;
- ``inspection``: inspect on site, and the reporter's rating and reopening;
- ``oversight``: reminders and supervision orders, and notes.

Every action on an existing case runs the same steps (lock, check, record,
publish) through ``steps.acting``; ``cases.actions`` describes each action
(its roles, transition, input and event). Pass ``expected_version`` (the
``version`` the actor saw) to refuse the action when anything at all changed
on the case since.

Import the functions from here (``from cases import services``;
``services.case_dispatch``): the modules are how the code is kept, not part
of the interface.
"""

from .command_centre import (
    case_add_cohandler,
    case_approve_suspension,
    case_decide_extension,
    case_deny_suspension,
    case_dispatch,
    case_escalate,
    case_merge,
    case_register,
    case_reject,
    case_resume,
)
from .department import (
    case_acknowledge,
    case_report_back,
    case_request_extension,
    case_request_suspension,
    case_return,
)
from .inspection import (
    case_decline_reopen,
    case_inspect,
    case_rate,
    case_rate_by_token,
    case_reopen,
)
from .oversight import case_comment, case_issue_directive
from .reporting import _Submission, case_report, report_refusals
from .verification import case_recall_verification, case_send_to_verify, case_verify

__all__ = [
    "_Submission",
    "case_acknowledge",
    "case_add_cohandler",
    "case_approve_suspension",
    "case_comment",
    "case_decide_extension",
    "case_decline_reopen",
    "case_deny_suspension",
    "case_dispatch",
    "case_escalate",
    "case_inspect",
    "case_issue_directive",
    "case_merge",
    "case_rate",
    "case_rate_by_token",
    "case_recall_verification",
    "case_register",
    "case_reject",
    "case_reopen",
    "case_report",
    "case_report_back",
    "case_request_extension",
    "case_request_suspension",
    "case_resume",
    "case_return",
    "case_send_to_verify",
    "case_verify",
    "report_refusals",
]
