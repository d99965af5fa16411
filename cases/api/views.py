"""REST API for cases. Views are thin: they parse input, call one selector or
service, and render; every rule lives in the services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import prefetch_related_objects
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from governance.api_errors import FormParser, JSONParser, MultiPartParser

from .. import services
from ..errors import CaseInputError
from ..models import Case, DirectiveKind
from ..selectors import (
    case_actions,
    case_after_action,
    case_get,
    cases_visible_to,
)
from . import serializers as s
from .filters import CaseFilter
from .inputs import valid_input
from .submission import HEADER, idempotency_key, replay_headers
from .tips import TipStatusSerializer

# A case as its reader may see it: in full (a role in scope, or a grant), or
# the public view a reporter or follower gets (``policy.full_view_q``).
CASE_VIEW = PolymorphicProxySerializer(
    component_name="CaseView",
    serializers=[s.CaseDetailSerializer, TipStatusSerializer],
    resource_type_field_name=None,
)
# What an action answers: the case in full while the actor still sees it so,
# else the outcome (``ActionOutcomeSerializer``).
ACTION_RESULT = PolymorphicProxySerializer(
    component_name="CaseActionResult",
    serializers=[s.CaseDetailSerializer, s.ActionOutcomeSerializer],
    resource_type_field_name=None,
)


class CaseCursorPagination(CursorPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    ordering = ("-created_at", "-id")

    def get_ordering(self, request, queryset, view):
        # The list's ``ordering`` filter (CaseFilter) orders the queryset.
        return queryset.query.order_by or self.ordering


@dataclass(frozen=True)
class Endpoint:
    """One workflow action as an endpoint: its input and the service it calls."""

    name: str
    input: type[serializers.Serializer]
    call: Any  # (case_id, user, validated data, versioned kwargs) -> None
    summary: str


def _cohandler(case, user, data, kw):
    person = None
    if data.get("user") is not None:
        person = get_user_model().objects.filter(pk=data["user"], is_active=True).first()
        if person is None:
            raise CaseInputError(_("No such person."), field="user")
    services.case_add_cohandler(
        case=case, actor=user, department=data.get("department"), user=person, **kw
    )


ENDPOINTS = [
    Endpoint("register", s.RegisterSerializer, lambda c, u, d, kw: services.case_register(
        case=c, actor=u, category=d["category"], urgency=d["urgency"], note=d["note"], **kw),
        "Register (立案) a report"),
    Endpoint("reject", s.ReasonSerializer, lambda c, u, d, kw: services.case_reject(
        case=c, actor=u, reason=d["reason"], **kw), "Void (作废) a report"),
    Endpoint("merge", s.MergeSerializer, lambda c, u, d, kw: services.case_merge(
        case=c, actor=u, original=d["original"], note=d["note"], **kw),
        "Merge a report into the case it duplicates"),
    Endpoint("dispatch", s.DispatchSerializer, lambda c, u, d, kw: services.case_dispatch(
        case=c, actor=u, department=d["department"], note=d["note"], **kw),
        "Dispatch (派遣) or re-dispatch to a department"),
    Endpoint("escalate", s.ReasonSerializer, lambda c, u, d, kw: services.case_escalate(
        case=c, actor=u, reason=d["reason"], **kw), "Escalate to the command level above"),
    Endpoint("acknowledge", s.NoteSerializer, lambda c, u, d, kw: services.case_acknowledge(
        case=c, actor=u, reason=d["note"], **kw), "Acknowledge (签收) a dispatched case"),
    Endpoint("return", s.ReasonSerializer, lambda c, u, d, kw: services.case_return(
        case=c, actor=u, reason=d["reason"], **kw), "Return (退单) a case"),
    Endpoint("request_extension", s.ExtensionRequestSerializer,
        lambda c, u, d, kw: services.case_request_extension(
            case=c, actor=u, amount=d["amount"], reason=d["reason"], **kw),
        "Request an extension (延期)"),
    Endpoint("approve_extension", s.NoteSerializer,
        lambda c, u, d, kw: services.case_decide_extension(
            case=c, actor=u, approve=True, note=d["note"], **kw), "Approve an extension"),
    Endpoint("deny_extension", s.NoteSerializer,
        lambda c, u, d, kw: services.case_decide_extension(
            case=c, actor=u, approve=False, note=d["note"], **kw), "Deny an extension"),
    Endpoint("request_suspension", s.ReasonSerializer,
        lambda c, u, d, kw: services.case_request_suspension(
            case=c, actor=u, reason=d["reason"], **kw), "Request a suspension (挂账)"),
    Endpoint("approve_suspension", s.NoteSerializer,
        lambda c, u, d, kw: services.case_approve_suspension(
            case=c, actor=u, note=d["note"], **kw), "Approve a suspension"),
    Endpoint("deny_suspension", s.NoteSerializer,
        lambda c, u, d, kw: services.case_deny_suspension(
            case=c, actor=u, reason=d["note"], **kw), "Deny a suspension"),
    Endpoint("resume", s.NoteSerializer, lambda c, u, d, kw: services.case_resume(
        case=c, actor=u, note=d["note"], **kw), "Resume a suspended case"),
    Endpoint("report_back", s.ReportBackSerializer, lambda c, u, d, kw: services.case_report_back(
        case=c, actor=u, note=d["note"], photos=d["photos"], **kw),
        "Report the case handled (反馈), with photos"),
    Endpoint("inspect_pass", s.InspectSerializer, lambda c, u, d, kw: services.case_inspect(
        case=c, actor=u, passed=True, note=d["note"], photos=d["photos"], **kw),
        "Inspection passed (核查通过): close the case"),
    Endpoint("inspect_fail", s.InspectSerializer, lambda c, u, d, kw: services.case_inspect(
        case=c, actor=u, passed=False, note=d["note"], photos=d["photos"], **kw),
        "Inspection failed: rework"),
    Endpoint("rate", s.RateSerializer, lambda c, u, d, kw: services.case_rate(
        case=c, actor=u, satisfaction=d["satisfaction"], comment=d["comment"], **kw),
        "Rate the outcome"),
    Endpoint("reopen", s.ReasonSerializer, lambda c, u, d, kw: services.case_reopen(
        case=c, actor=u, reason=d["reason"], **kw), "Reopen (重办) a closed case"),
    Endpoint("remind", s.DirectiveInputSerializer,
        lambda c, u, d, kw: services.case_issue_directive(
            case=c, actor=u, kind=DirectiveKind.REMINDER, message=d["message"],
            due_at=d["due_at"], **kw), "Send a reminder (催办)"),
    Endpoint("supervise", s.DirectiveInputSerializer,
        lambda c, u, d, kw: services.case_issue_directive(
            case=c, actor=u, kind=DirectiveKind.SUPERVISION, message=d["message"],
            due_at=d["due_at"], **kw), "Issue a supervision order (督办)"),
    Endpoint("add_cohandler", s.CohandlerSerializer, _cohandler,
        "Add a co-handling department (协办) or a named person"),
    Endpoint("comment", s.CommentSerializer, lambda c, u, d, kw: services.case_comment(
        case=c, actor=u, text=d["text"], photos=d["photos"], **kw),
        "Add a note and photos"),
]  # fmt: skip


class CaseViewSet(viewsets.GenericViewSet):
    """Cases the signed-in user may see (others do not exist for them: 404)."""

    serializer_class = s.CaseListSerializer
    queryset = Case.objects.none()  # for the schema (integer ids); see get_queryset
    pagination_class = CaseCursorPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = CaseFilter
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        return cases_visible_to(self.request.user)

    @extend_schema(responses=s.CaseListSerializer(many=True))
    def list(self, request):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(s.CaseListSerializer.rows(queryset))
        return self.get_paginated_response(s.CaseListSerializer.represent(page))

    @extend_schema(responses=CASE_VIEW)
    def retrieve(self, request, pk=None):
        """The case in full for staff who see it through a role or a grant;
        for its reporter or a follower, its public view (the tip status)."""
        case = case_get(request.user, pk)
        if not case.in_full:
            return Response(TipStatusSerializer(case, context={"request": request}).data)
        return Response(self._detail(case))

    @extend_schema(
        request={
            "application/json": s.CaseCreateSerializer,
            "multipart/form-data": s.CaseCreateSerializer,
        },
        parameters=[OpenApiParameter(HEADER, str, OpenApiParameter.HEADER, required=False)],
        responses={201: s.CaseDetailSerializer, 200: s.CaseDetailSerializer},
    )
    def create(self, request):
        """Report a case. With an Idempotency-Key header (or ``client_uuid``), a
        retry returns the case the first attempt filed (200) instead of a new one."""
        data = dict(valid_input(s.CaseCreateSerializer, request))
        key = idempotency_key(request, data.pop("client_uuid", None))
        filed = services.case_report(reporter=request.user, idempotency_key=key, **data)
        if filed.replayed:  # read again: it may have moved on since
            body = self._detail(case_get(request.user, filed.pk))
        else:
            filed.open_directives = []  # a new case has none
            body = self._detail(filed, loaded=True)
        return Response(
            body,
            status=status.HTTP_200_OK if filed.replayed else status.HTTP_201_CREATED,
            headers=replay_headers(filed),
        )

    @extend_schema(responses=s.ActionsSerializer)
    @action(detail=True, methods=["get"], url_path="actions")
    def available_actions(self, request, pk=None):
        """The actions the signed-in user may take on this case now."""
        return Response({"actions": case_actions(request.user, case_get(request.user, pk))})

    def _detail(self, case: Case, *, loaded: bool = False) -> dict:
        """The case's detail. ``loaded``: a case the user has just reported,
        as the service left it, with its events and photos."""
        if not loaded:
            prefetch_related_objects([case], *s.CaseDetailSerializer.PREFETCH)
        return s.CaseDetailSerializer(case, context=self.get_serializer_context()).data


ACTION_DESCRIPTION = """%(summary)s.

Answers 200 once the action has committed: the case in full while you still
see it so; otherwise (a return takes the case from your department, an
escalation above your command level from you; a citizen sees only the public
view of their own case) its id, number, new status and version, with
``visible`` saying whether GET still shows you the case."""


def _endpoint_view(endpoint: Endpoint):
    def view(self, request, pk=None):
        data = dict(valid_input(endpoint.input, request))
        versioned = {}
        if data.get("expected_version") is not None:
            versioned["expected_version"] = data.pop("expected_version")
        endpoint.call(int(pk), request.user, data, versioned)
        # The action has committed: its answer is its outcome, even when the
        # case has left the actor's sight.
        case, outcome = case_after_action(request.user, int(pk))
        if case is not None and case.in_full:
            return Response(self._detail(case))
        return Response(s.ActionOutcomeSerializer.of(outcome, visible=case is not None))

    view.__name__ = f"action_{endpoint.name}"
    view.__doc__ = str(endpoint.summary)
    # @action replaces the function's kwargs, so the schema goes on after it.
    view = action(detail=True, methods=["post"], url_path=endpoint.name.replace("_", "-"))(view)
    return extend_schema(
        request=endpoint.input,
        responses=ACTION_RESULT,
        summary=str(endpoint.summary),
        description=ACTION_DESCRIPTION % {"summary": endpoint.summary},
    )(view)


for _endpoint in ENDPOINTS:
    setattr(CaseViewSet, f"action_{_endpoint.name}", _endpoint_view(_endpoint))
