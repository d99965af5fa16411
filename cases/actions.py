"""The workflow actions, each described once.

An action is something a person does to a case (register it, dispatch it,
report it handled...). ``ACTIONS`` lists every one with

- ``transition``: the method of ``Case`` (django-fsm-2) it applies;
- ``roles``: who may take it, in order of preference (the first that applies
  is recorded on the event; ``cases.policy`` decides whether one applies);
- ``input``: the API serializer of what it takes (a dotted path: serializers
  import the models, which this module must not);
- ``service``: the service function that does it, and ``fixed``/``renamed``,
  how the validated input becomes that function's keyword arguments;
- ``event``: the ``CaseEvent.action`` it records;
- ``summary``: one line for the API document and for forms.

The policy reads the roles, ``cases.api.views.CaseViewSet`` has one endpoint
per action (``action_endpoint``, POST ``/api/v1/cases/{id}/<url_path>/``),
the OpenAPI document describes each from this table, and the services take
the event name from it. Adding an action starts here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from django.utils.module_loading import import_string

from organisation.models import Role

from .models import DirectiveKind

REPORTER = "reporter"  # a pseudo-role: the citizen who reported the case
COHANDLER = "cohandler"  # a member of a co-handling department, or a named person

_SERIALIZERS = "cases.api.serializers"


def _nothing() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class WorkflowAction:
    name: str
    transition: str
    roles: tuple[str, ...]
    input: str
    service: str
    event: str
    summary: str
    fixed: Mapping[str, Any] = field(default_factory=_nothing)
    renamed: Mapping[str, str] = field(default_factory=_nothing)

    @property
    def url_path(self) -> str:
        return self.name.replace("_", "-")

    @property
    def input_class(self) -> type:
        return import_string(self.input)

    @property
    def service_function(self):
        return import_string(self.service)

    def arguments(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The service's keyword arguments for this validated ``data``."""
        return {self.renamed.get(k, k): v for k, v in data.items()} | dict(self.fixed)

    def run(self, *, case, actor, data: Mapping[str, Any]):
        """Take the action with the input its serializer validated."""
        return self.service_function(case=case, actor=actor, **self.arguments(data))


def _action(
    name: str,
    *,
    roles: tuple[str, ...],
    input: str,
    service: str,
    event: str,
    summary: str,
    transition: str | None = None,
    fixed: Mapping[str, Any] | None = None,
    renamed: Mapping[str, str] | None = None,
) -> WorkflowAction:
    return WorkflowAction(
        name=name,
        transition=transition or name,
        roles=roles,
        input=f"{_SERIALIZERS}.{input}",
        service=f"cases.services.{service}",
        event=event,
        summary=summary,
        fixed=MappingProxyType(dict(fixed or {})),
        renamed=MappingProxyType(dict(renamed or {})),
    )


D, H, S, G = Role.DISPATCHER, Role.HANDLER, Role.SUPERVISOR, Role.GRID_WORKER

_ALL = (
    # Command centre: the report becomes a case, or not.
    _action("register", roles=(D,), input="RegisterSerializer", service="case_register",
            event="registered", summary="Register (立案) a report"),
    _action("send_to_verify", roles=(D,), input="NoteSerializer",
            service="case_send_to_verify", event="verification_requested",
            summary="Send a tip to its grid's workers to verify on site (派核实)"),
    _action("recall_verification", roles=(D,), input="ReasonSerializer",
            service="case_recall_verification", event="verification_recalled",
            summary="Take a tip back from verification on site, saying why"),
    _action("reject", roles=(D,), input="ReasonSerializer", service="case_reject",
            event="rejected", summary="Void (作废) a report"),
    _action("merge", transition="merge_into", roles=(D,), input="MergeSerializer",
            service="case_merge", event="merged",
            summary="Merge a report into the case it duplicates"),
    _action("dispatch", roles=(D,), input="DispatchSerializer", service="case_dispatch",
            event="dispatched", summary="Dispatch (派遣) or re-dispatch to a department"),
    _action("escalate", roles=(D,), input="ReasonSerializer", service="case_escalate",
            event="escalated", summary="Escalate to the command level above"),
    # Department, and the command centre's answers to its requests.
    _action("acknowledge", roles=(H,), input="NoteSerializer", service="case_acknowledge",
            event="acknowledged", summary="Acknowledge (签收) a dispatched case",
            renamed={"note": "reason"}),
    _action("return", transition="return_case", roles=(H,), input="ReasonSerializer",
            service="case_return", event="returned", summary="Return (退单) a case"),
    _action("request_extension", roles=(H,), input="ExtensionRequestSerializer",
            service="case_request_extension", event="extension_requested",
            summary="Request an extension (延期)"),
    _action("approve_extension", transition="decide_extension", roles=(D,),
            input="NoteSerializer", service="case_decide_extension",
            event="extension_approved", summary="Approve an extension",
            fixed={"approve": True}),
    _action("deny_extension", transition="decide_extension", roles=(D,),
            input="NoteSerializer", service="case_decide_extension",
            event="extension_denied", summary="Deny an extension", fixed={"approve": False}),
    _action("request_suspension", roles=(H,), input="ReasonSerializer",
            service="case_request_suspension", event="suspension_requested",
            summary="Request a suspension (挂账)"),
    _action("approve_suspension", roles=(D,), input="NoteSerializer",
            service="case_approve_suspension", event="suspended",
            summary="Approve a suspension"),
    _action("deny_suspension", roles=(D,), input="NoteSerializer",
            service="case_deny_suspension", event="suspension_denied",
            summary="Deny a suspension", renamed={"note": "reason"}),
    _action("resume", roles=(D, H), input="NoteSerializer", service="case_resume",
            event="resumed", summary="Resume a suspended case"),
    _action("report_back", roles=(H,), input="ReportBackSerializer",
            service="case_report_back", event="handled",
            summary="Report the case handled (反馈), with photos"),
    # Verification (核实) and inspection (核查) on site, and the reporter's word after.
    _action("verify_pass", roles=(G,), input="InspectSerializer", service="case_verify",
            event="verified", summary="Verified on site (核实): the problem is there",
            fixed={"passed": True}),
    _action("verify_fail", roles=(G,), input="InspectSerializer", service="case_verify",
            event="verification_failed",
            summary="Not verified on site: not found or not as described",
            fixed={"passed": False}),
    _action("inspect_pass", roles=(G, D), input="InspectSerializer", service="case_inspect",
            event="closed", summary="Inspection passed (核查通过): close the case",
            fixed={"passed": True}),
    _action("inspect_fail", roles=(G, D), input="InspectSerializer", service="case_inspect",
            event="rework", summary="Inspection failed: rework", fixed={"passed": False}),
    _action("rate", roles=(REPORTER,), input="RateSerializer", service="case_rate",
            event="rated", summary="Rate the outcome"),
    _action("reopen", roles=(REPORTER, D), input="ReasonSerializer", service="case_reopen",
            event="reopened", summary="Reopen (重办) a closed case"),
    _action("decline_reopen", roles=(D,), input="ReasonSerializer",
            service="case_decline_reopen", event="reopen_declined",
            summary="Decline the reporter's request to reopen"),
    # Oversight, and everyone's notes.
    _action("remind", roles=(S, D), input="DirectiveInputSerializer",
            service="case_issue_directive", event="reminded",
            summary="Send a reminder (催办)", fixed={"kind": DirectiveKind.REMINDER}),
    _action("supervise", roles=(S,), input="DirectiveInputSerializer",
            service="case_issue_directive", event="supervision_ordered",
            summary="Issue a supervision order (督办)", fixed={"kind": DirectiveKind.SUPERVISION}),
    _action("add_cohandler", roles=(D,), input="CohandlerSerializer",
            service="case_add_cohandler", event="cohandler_added",
            summary="Add a co-handling department (协办) or a named person"),
    _action("comment", roles=(D, H, COHANDLER, S, G), input="CommentSerializer",
            service="case_comment", event="commented", summary="Add a note and photos"),
)  # fmt: skip

ACTIONS: Mapping[str, WorkflowAction] = MappingProxyType({a.name: a for a in _ALL})


def workflow_action(name: str) -> WorkflowAction:
    return ACTIONS[name]
