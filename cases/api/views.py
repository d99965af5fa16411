"""REST API for cases. Views are thin: they parse input, call one selector or
service, and render; every rule lives in the services."""

from __future__ import annotations

from contextlib import nullcontext

from django.db.models import prefetch_related_objects
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from core.api_errors import FormParser, JSONParser, MultiPartParser
from core.dbrouting import replica_reads

from .. import services
from ..actions import workflow_action
from ..models import FINAL_STATUSES, Case
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


ACTION_DESCRIPTION = """%(summary)s.

Answers 200 once the action has committed: the case in full while you still
see it so; otherwise (a return takes the case from your department, an
escalation above your command level from you; a citizen sees only the public
view of their own case) its id, number, new status and version, with
``visible`` saying whether GET still shows you the case."""


def action_endpoint(name: str):
    """The endpoint of the workflow action ``name`` (``cases.actions``):
    POST /api/v1/cases/{id}/<its url path>/ with its input serializer, calling
    its service, documented from the registry. ``CaseViewSet`` calls this once
    per action, as ``action_<name> = action_endpoint("<name>")``."""
    workflow = workflow_action(name)
    input_serializer = workflow.input_class

    def view(self, request, pk=None):
        data = dict(valid_input(input_serializer, request))
        if data.get("expected_version") is None:
            data.pop("expected_version", None)
        workflow.run(case=int(pk), actor=request.user, data=data)
        # The action has committed: its answer is its outcome, even when the
        # case has left the actor's sight.
        case, outcome = case_after_action(request.user, int(pk))
        if case is not None and case.in_full:
            return Response(self._detail(case))
        return Response(s.ActionOutcomeSerializer.of(outcome, visible=case is not None))

    view.__name__ = f"action_{name}"
    view.__doc__ = workflow.summary
    # @action replaces the function's kwargs, so the schema goes on after it.
    view = action(detail=True, methods=["post"], url_path=workflow.url_path)(view)
    return extend_schema(
        request=input_serializer,
        responses=ACTION_RESULT,
        summary=workflow.summary,
        description=ACTION_DESCRIPTION % {"summary": workflow.summary},
    )(view)


def file_report(request, data) -> Case:
    """File the signed-in user's report from its checked input
    (``CaseCreateSerializer``): the API and the field app's report page
    (field/reporting.py) both file through here, with the request's
    idempotency key."""
    data = dict(data)
    key = idempotency_key(request, data.pop("client_uuid", None))
    return services.case_report(reporter=request.user, idempotency_key=key, **data)


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
        # Closed and rejected cases no longer change: their list may lag and
        # be read from a replica (core/dbrouting.py).
        statuses = set(request.query_params.getlist("status"))
        settled = bool(statuses) and statuses <= set(FINAL_STATUSES)
        with replica_reads() if settled else nullcontext():
            page = self.paginate_queryset(s.CaseListSerializer.rows(queryset, request.user))
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
        filed = file_report(request, valid_input(s.CaseCreateSerializer, request))
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

    # The workflow actions, one endpoint each, in the order of ``cases.actions``
    # (tests/cases/test_actions.py holds the two lists to each other).
    action_register = action_endpoint("register")
    action_send_to_verify = action_endpoint("send_to_verify")
    action_recall_verification = action_endpoint("recall_verification")
    action_reject = action_endpoint("reject")
    action_merge = action_endpoint("merge")
    action_dispatch = action_endpoint("dispatch")
    action_escalate = action_endpoint("escalate")
    action_acknowledge = action_endpoint("acknowledge")
    action_return = action_endpoint("return")
    action_request_extension = action_endpoint("request_extension")
    action_approve_extension = action_endpoint("approve_extension")
    action_deny_extension = action_endpoint("deny_extension")
    action_request_suspension = action_endpoint("request_suspension")
    action_approve_suspension = action_endpoint("approve_suspension")
    action_deny_suspension = action_endpoint("deny_suspension")
    action_resume = action_endpoint("resume")
    action_report_back = action_endpoint("report_back")
    action_verify_pass = action_endpoint("verify_pass")
    action_verify_fail = action_endpoint("verify_fail")
    action_inspect_pass = action_endpoint("inspect_pass")
    action_inspect_fail = action_endpoint("inspect_fail")
    action_rate = action_endpoint("rate")
    action_reopen = action_endpoint("reopen")
    action_decline_reopen = action_endpoint("decline_reopen")
    action_remind = action_endpoint("remind")
    action_supervise = action_endpoint("supervise")
    action_add_cohandler = action_endpoint("add_cohandler")
    action_comment = action_endpoint("comment")

    def _detail(self, case: Case, *, loaded: bool = False) -> dict:
        """The case's detail. ``loaded``: a case the user has just reported,
        as the service left it, with its events and photos."""
        if not loaded:
            prefetch_related_objects([case], *s.CaseDetailSerializer.PREFETCH)
        return s.CaseDetailSerializer(case, context=self.get_serializer_context()).data
