"""Who may take which action, where: a role x transition x scope grid.

``GRID`` lists every action of ``cases.policy.ACTION_ROLES`` once, with the
status it is tried from and the actors allowed to take it there. Every
(action, actor) pair is then tried through the service:

* an allowed actor succeeds: the row moves as expected, its version goes up
  by one and one ``CaseEvent`` with that actor and role is appended;
* any other actor is refused, with ``CaseNotFound`` when the case is outside
  what they may see and ``ActionForbidden`` when they can see it, and then
  nothing at all changed.

``case_actions`` must agree with the grid for the prepared state.

Scope of the ``world`` users (see tests/cases/conftest.py) for a case in G1:
the subdistrict and city dispatchers, the district supervisor, G1's grid
worker and the admin see it; the handler sees it once it is with 城管 (CGJ);
the citizen sees their own reports; everybody else sees nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.utils import timezone

from cases import services
from cases.errors import ActionForbidden, CaseConflict, CaseNotFound
from cases.models import (
    Case,
    CaseAttachment,
    CaseDirective,
    CaseEvent,
    CaseFollower,
    CaseGroupObjectPermission,
    CaseUserObjectPermission,
    DirectiveKind,
    PendingRequest,
    RejectReason,
    Satisfaction,
    Stage,
    Status,
    Verification,
)
from cases.policy import ACTION_ROLES, ACTIONS
from cases.selectors import case_actions, case_get, cases_visible_to
from grids.models import Level
from organisation.models import Role, RoleMembership
from tests.cases.conftest import case_in, colleague_in_g1, fresh, jpeg, report
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ACTORS = [
    "dispatcher",
    "city_dispatcher",
    "far_dispatcher",
    "handler",
    "other_handler",
    "supervisor",
    "far_supervisor",
    "grid_worker",
    "other_worker",
    "citizen",
    "admin",
]

# The role each actor acts under (the only one they hold that acts on cases;
# the citizen acts as the case's reporter).
ROLE_OF = {
    "dispatcher": "dispatcher",
    "city_dispatcher": "dispatcher",
    "handler": "handler",
    "supervisor": "supervisor",
    "grid_worker": "grid_worker",
    "citizen": "reporter",
}

DISPATCHERS = frozenset({"dispatcher", "city_dispatcher"})
HANDLER = frozenset({"handler"})

# Who sees a case in G1, by the scope rules alone.
SEE_G1 = frozenset({"dispatcher", "city_dispatcher", "supervisor", "grid_worker", "admin"})
# The statuses in which the case is with a department (CGJ on the main path).
WITH_DEPARTMENT = frozenset(
    {Status.DISPATCHED, Status.IN_PROGRESS, Status.SUSPENDED, Status.HANDLED, Status.CLOSED}
)


def later() -> dt.datetime:
    return timezone.now() + dt.timedelta(days=2)


# --- What each action does to the row ------------------------------------------------------


def _registered(world, stored, ctx, actor):
    assert stored.routed_department == world.cgj
    assert stored.unrouted is False


def _rejected(world, stored, ctx, actor):
    assert stored.reject_reason == RejectReason.VOID
    assert stored.duplicate_of is None


def _merged(world, stored, ctx, actor):
    original = Case.objects.get(pk=ctx["original"].pk)
    assert stored.reject_reason == RejectReason.DUPLICATE
    assert stored.duplicate_of_id == original.pk
    assert original.status == Status.REGISTERED
    last = original.events.order_by("-id").first()
    assert (last.action, last.actor_id) == ("duplicate_merged", actor.pk)
    # The grid worker who reported the duplicate now follows the original.
    assert original.followers.filter(user=world.grid_worker, via=stored).exists()


def _sent_to_verify(world, stored, ctx, actor):
    assert (stored.stage, stored.light, stored.verification) == (Stage.VERIFY, "green", "")
    assert stored.due_at is not None


def _recalled(world, stored, ctx, actor):
    assert (stored.stage, stored.light, stored.verification) == (Stage.REGISTER, "green", "")


def _verified(world, stored, ctx, actor):
    assert (stored.verification, stored.stage) == (Verification.PASSED, Stage.REGISTER)
    assert stored.attachments.filter(kind="verify", uploaded_by=actor).count() == 1


def _not_verified(world, stored, ctx, actor):
    assert (stored.verification, stored.stage) == (Verification.FAILED, Stage.REGISTER)
    assert stored.events.order_by("-id").first().payload == {"note": "现场未发现井盖缺失"}


def _reopen_declined(world, stored, ctx, actor):
    assert stored.pending_request == PendingRequest.NONE
    assert (stored.satisfaction, stored.closed_at) == (Satisfaction.UNSATISFIED, ctx["closed_at"])


def _dispatched(world, stored, ctx, actor):
    assert stored.department == world.cgj


def _escalated(world, stored, ctx, actor):
    assert stored.command_level == Level.DISTRICT
    assert stored.department is None
    assert stored.events.order_by("-id").first().payload["to_level"] == Level.DISTRICT


def _acknowledged(world, stored, ctx, actor):
    assert stored.department == world.cgj


def _returned(world, stored, ctx, actor):
    assert stored.department is None
    assert stored.return_count == 1


def _extension_requested(world, stored, ctx, actor):
    assert stored.pending_request == PendingRequest.EXTENSION
    assert stored.pending_extension > 0


def _extension_approved(world, stored, ctx, actor):
    assert stored.pending_request == PendingRequest.NONE
    assert stored.pending_extension == 0
    assert stored.extension_count == 1
    assert stored.stage_limit == ctx["stage_limit"] + ctx["pending_extension"]


def _extension_denied(world, stored, ctx, actor):
    assert stored.pending_request == PendingRequest.NONE
    assert stored.pending_extension == 0
    assert stored.extension_count == 0
    assert stored.stage_limit == ctx["stage_limit"]


def _suspension_requested(world, stored, ctx, actor):
    assert stored.pending_request == PendingRequest.SUSPENSION


def _suspended(world, stored, ctx, actor):
    assert stored.pending_request == PendingRequest.NONE
    assert stored.suspended_at is not None


def _suspension_denied(world, stored, ctx, actor):
    assert stored.pending_request == PendingRequest.NONE
    assert stored.suspended_at is None


def _resumed(world, stored, ctx, actor):
    assert stored.suspended_at is None


def _handled(world, stored, ctx, actor):
    assert stored.attachments.filter(kind="handling", uploaded_by=actor).count() == 1


def _closed(world, stored, ctx, actor):
    assert stored.closed_at is not None


def _rework(world, stored, ctx, actor):
    assert stored.rework_count == 1
    assert stored.closed_at is None


def _rated(world, stored, ctx, actor):
    assert stored.satisfaction == Satisfaction.SATISFIED


def _reopened(world, stored, ctx, actor):
    assert stored.closed_at is None
    assert stored.department == world.cgj
    assert stored.rework_count == 1


def _reminded(world, stored, ctx, actor):
    directive = CaseDirective.objects.get(case=stored)
    assert (directive.kind, directive.issued_by_id) == (DirectiveKind.REMINDER, actor.pk)
    assert stored.is_supervised is False


def _supervised(world, stored, ctx, actor):
    directive = CaseDirective.objects.get(case=stored)
    assert (directive.kind, directive.issued_by_id) == (DirectiveKind.SUPERVISION, actor.pk)
    assert stored.is_supervised is True


def _cohandler_added(world, stored, ctx, actor):
    grants = CaseGroupObjectPermission.objects.filter(content_object=stored)
    assert [(g.group_id, g.permission.codename) for g in grants] == [
        (world.szgs.group_id, "cohandle_case")
    ]


def _commented(world, stored, ctx, actor):
    assert stored.events.order_by("-id").first().payload == {"text": "现场已设置围挡"}


# --- Setups beyond case_in -------------------------------------------------------------------


def _with_original(world, case):
    return {"original": case_in(world, Status.REGISTERED)}


def _with_reopen_request(world, case):
    services.case_rate(
        case=case, actor=world.citizen, satisfaction="unsatisfied", comment="井盖还是松的"
    )
    return {"closed_at": case.closed_at}


def _with_pending_extension(world, case):
    case = services.case_request_extension(
        case=case, actor=world.handler, amount=2, reason="等待配件"
    )
    return {"stage_limit": case.stage_limit, "pending_extension": case.pending_extension}


def _with_pending_suspension(world, case):
    services.case_request_suspension(case=case, actor=world.handler, reason="等待材料")
    return {}


@dataclass(frozen=True)
class Row:
    action: str
    status: str  # the status the case is prepared in
    allowed: frozenset[str]
    act: Callable  # (world, case, actor, ctx) -> result of the service
    event: str  # the CaseEvent.action recorded
    to_status: str
    check: Callable  # (world, stored, ctx, actor): the row changed as expected
    setup: Callable | None = None  # (world, case) -> ctx
    by_citizen: bool = False  # the case was reported by world.citizen

    def visible_to(self) -> frozenset[str]:
        seen = set(SEE_G1)
        if self.status in WITH_DEPARTMENT:
            seen.add("handler")
        if self.by_citizen:
            seen.add("citizen")
        return frozenset(seen)


S = services
GRID = [
    Row("register", Status.REPORTED, DISPATCHERS,
        lambda w, c, a, x: S.case_register(case=c, actor=a),
        "registered", Status.REGISTERED, _registered),
    Row("send_to_verify", Status.REPORTED, DISPATCHERS,
        lambda w, c, a, x: S.case_send_to_verify(case=c, actor=a),
        "verification_requested", Status.VERIFYING, _sent_to_verify, by_citizen=True),
    Row("recall_verification", Status.VERIFYING, DISPATCHERS,
        lambda w, c, a, x: S.case_recall_verification(case=c, actor=a, reason="网格员休假"),
        "verification_recalled", Status.REPORTED, _recalled, by_citizen=True),
    Row("reject", Status.REPORTED, DISPATCHERS,
        lambda w, c, a, x: S.case_reject(case=c, actor=a, reason="不属实"),
        "rejected", Status.REJECTED, _rejected),
    Row("merge", Status.REPORTED, DISPATCHERS,
        lambda w, c, a, x: S.case_merge(case=c, actor=a, original=x["original"]),
        "merged", Status.REJECTED, _merged, setup=_with_original),
    Row("dispatch", Status.REGISTERED, DISPATCHERS,
        lambda w, c, a, x: S.case_dispatch(case=c, actor=a),
        "dispatched", Status.DISPATCHED, _dispatched),
    Row("escalate", Status.REGISTERED, DISPATCHERS,
        lambda w, c, a, x: S.case_escalate(case=c, actor=a, reason="涉及多个街道"),
        "escalated", Status.REGISTERED, _escalated),
    Row("acknowledge", Status.DISPATCHED, HANDLER,
        lambda w, c, a, x: S.case_acknowledge(case=c, actor=a),
        "acknowledged", Status.IN_PROGRESS, _acknowledged),
    Row("return", Status.DISPATCHED, HANDLER,
        lambda w, c, a, x: S.case_return(case=c, actor=a, reason="不属于本部门"),
        "returned", Status.RETURNED, _returned),
    Row("request_extension", Status.IN_PROGRESS, HANDLER,
        lambda w, c, a, x: S.case_request_extension(
            case=c, actor=a, amount=2, reason="等待配件"),
        "extension_requested", Status.IN_PROGRESS, _extension_requested),
    Row("approve_extension", Status.IN_PROGRESS, DISPATCHERS,
        lambda w, c, a, x: S.case_decide_extension(case=c, actor=a, approve=True),
        "extension_approved", Status.IN_PROGRESS, _extension_approved,
        setup=_with_pending_extension),
    Row("deny_extension", Status.IN_PROGRESS, DISPATCHERS,
        lambda w, c, a, x: S.case_decide_extension(case=c, actor=a, approve=False),
        "extension_denied", Status.IN_PROGRESS, _extension_denied,
        setup=_with_pending_extension),
    Row("request_suspension", Status.IN_PROGRESS, HANDLER,
        lambda w, c, a, x: S.case_request_suspension(case=c, actor=a, reason="等待材料"),
        "suspension_requested", Status.IN_PROGRESS, _suspension_requested),
    Row("approve_suspension", Status.IN_PROGRESS, DISPATCHERS,
        lambda w, c, a, x: S.case_approve_suspension(case=c, actor=a),
        "suspended", Status.SUSPENDED, _suspended, setup=_with_pending_suspension),
    Row("deny_suspension", Status.IN_PROGRESS, DISPATCHERS,
        lambda w, c, a, x: S.case_deny_suspension(case=c, actor=a, reason="材料已到"),
        "suspension_denied", Status.IN_PROGRESS, _suspension_denied,
        setup=_with_pending_suspension),
    Row("resume", Status.SUSPENDED, DISPATCHERS | HANDLER,
        lambda w, c, a, x: S.case_resume(case=c, actor=a),
        "resumed", Status.IN_PROGRESS, _resumed),
    Row("report_back", Status.IN_PROGRESS, HANDLER,
        lambda w, c, a, x: S.case_report_back(
            case=c, actor=a, note="已更换井盖", photos=[jpeg()]),
        "handled", Status.HANDLED, _handled),
    Row("verify_pass", Status.VERIFYING, frozenset({"grid_worker"}),
        lambda w, c, a, x: S.case_verify(case=c, actor=a, passed=True, photos=[jpeg()]),
        "verified", Status.REPORTED, _verified, by_citizen=True),
    Row("verify_fail", Status.VERIFYING, frozenset({"grid_worker"}),
        lambda w, c, a, x: S.case_verify(case=c, actor=a, passed=False, note="现场未发现井盖缺失"),
        "verification_failed", Status.REPORTED, _not_verified, by_citizen=True),
    Row("inspect_pass", Status.HANDLED, DISPATCHERS | {"grid_worker"},
        lambda w, c, a, x: S.case_inspect(case=c, actor=a, passed=True),
        "closed", Status.CLOSED, _closed),
    Row("inspect_fail", Status.HANDLED, DISPATCHERS | {"grid_worker"},
        lambda w, c, a, x: S.case_inspect(case=c, actor=a, passed=False, note="井盖仍松动"),
        "rework", Status.IN_PROGRESS, _rework),
    Row("rate", Status.CLOSED, frozenset({"citizen"}),
        lambda w, c, a, x: S.case_rate(case=c, actor=a, satisfaction="satisfied"),
        "rated", Status.CLOSED, _rated, by_citizen=True),
    Row("reopen", Status.CLOSED, DISPATCHERS | {"citizen"},
        lambda w, c, a, x: S.case_reopen(case=c, actor=a, reason="井盖又丢了"),
        "reopened", Status.IN_PROGRESS, _reopened, by_citizen=True),
    Row("decline_reopen", Status.CLOSED, DISPATCHERS,
        lambda w, c, a, x: S.case_decline_reopen(case=c, actor=a, reason="已按标准修复"),
        "reopen_declined", Status.CLOSED, _reopen_declined, setup=_with_reopen_request,
        by_citizen=True),
    Row("remind", Status.IN_PROGRESS, DISPATCHERS | {"supervisor"},
        lambda w, c, a, x: S.case_issue_directive(
            case=c, actor=a, kind="reminder", message="请尽快处置", due_at=later()),
        "reminded", Status.IN_PROGRESS, _reminded),
    Row("supervise", Status.IN_PROGRESS, frozenset({"supervisor"}),
        lambda w, c, a, x: S.case_issue_directive(
            case=c, actor=a, kind="supervision", message="限期办结", due_at=later()),
        "supervision_ordered", Status.IN_PROGRESS, _supervised),
    Row("add_cohandler", Status.IN_PROGRESS, DISPATCHERS,
        lambda w, c, a, x: S.case_add_cohandler(case=c, actor=a, department=w.szgs),
        "cohandler_added", Status.IN_PROGRESS, _cohandler_added),
    Row("comment", Status.IN_PROGRESS,
        DISPATCHERS | {"handler", "supervisor", "grid_worker"},
        lambda w, c, a, x: S.case_comment(case=c, actor=a, text="现场已设置围挡"),
        "commented", Status.IN_PROGRESS, _commented),
]  # fmt: skip
ROWS = {row.action: row for row in GRID}


def prepare(world, row: Row) -> tuple[Case, dict]:
    kwargs = {"source": "citizen", "reporter": world.citizen} if row.by_citizen else {}
    case = case_in(world, row.status, **kwargs)
    ctx = row.setup(world, case) if row.setup else {}
    case = Case.objects.get(pk=case.pk)
    assert case.status == row.status
    return case, ctx


def snapshot(case: Case) -> dict:
    """Everything a refused action must leave as it was."""
    stored = Case.objects.get(pk=case.pk)
    return {
        "status": stored.status,
        "version": stored.version,
        "command_level": stored.command_level,
        "department": stored.department_id,
        "pending_request": stored.pending_request,
        "satisfaction": stored.satisfaction,
        "verification": stored.verification,
        "is_supervised": stored.is_supervised,
        "updated_at": stored.updated_at,
        "events": CaseEvent.objects.count(),
        "directives": CaseDirective.objects.count(),
        "attachments": CaseAttachment.objects.count(),
        "followers": CaseFollower.objects.count(),
        "group_grants": CaseGroupObjectPermission.objects.count(),
        "user_grants": CaseUserObjectPermission.objects.count(),
    }


def assert_refused(act, case: Case, error: type) -> None:
    before = snapshot(case)
    with pytest.raises(error) as raised:
        act()
    assert raised.type is error, f"expected {error.__name__}, got {raised.type.__name__}"
    assert snapshot(case) == before


def test_the_grid_covers_every_action():
    assert [row.action for row in GRID] == list(ACTIONS)


def test_the_grid_agrees_with_the_roles_of_each_action():
    """A cheap cross-check of the table itself: every allowed actor holds one
    of the action's roles (or is the reporter)."""
    for row in GRID:
        roles = {ROLE_OF[name] for name in row.allowed}
        assert roles <= {str(r) for r in ACTION_ROLES[row.action]}, row.action


@pytest.mark.parametrize(
    ("action", "actor_name"),
    [(row.action, name) for row in GRID for name in ACTORS],
    ids=[f"{row.action}-{name}" for row in GRID for name in ACTORS],
)
def test_role_transition_scope_grid(world, action, actor_name):
    row = ROWS[action]
    case, ctx = prepare(world, row)
    actor = fresh(world.users[actor_name])
    visible = actor_name in row.visible_to()

    assert cases_visible_to(actor).filter(pk=case.pk).exists() == visible
    listed = case_actions(actor, case)

    if actor_name in row.allowed:
        assert action in listed
        last_event = CaseEvent.objects.filter(case=case).order_by("-id").first()
        row.act(world, case, actor, ctx)

        stored = Case.objects.get(pk=case.pk)
        assert stored.status == row.to_status
        assert stored.version == case.version + 1
        new = list(CaseEvent.objects.filter(case=case, id__gt=last_event.id).order_by("id"))
        assert [(e.action, e.actor_id, e.actor_role, e.from_status, e.to_status) for e in new] == [
            (row.event, actor.pk, ROLE_OF[actor_name], row.status, row.to_status)
        ]
        row.check(world, stored, ctx, actor)
    else:
        assert action not in listed
        error = ActionForbidden if visible else CaseNotFound
        assert_refused(lambda: row.act(world, case, actor, ctx), case, error)


# --- Escalation: the command level decides which centre acts ---------------------------------


@pytest.fixture
def district_dispatcher(world):
    user = UserFactory(username="district_dispatcher")
    RoleMembership.objects.create(user=user, role=Role.DISPATCHER, area=world.city.district)
    return user


def escalate_to_district(world) -> Case:
    case = case_in(world, Status.REGISTERED)
    assert case.command_level == Level.SUBDISTRICT
    services.case_escalate(case=case, actor=world.dispatcher, reason="涉及多个街道")
    return Case.objects.get(pk=case.pk)


def test_after_escalation_the_subdistrict_centre_sees_but_no_longer_acts(world):
    case = escalate_to_district(world)
    assert (case.status, case.command_level) == (Status.REGISTERED, Level.DISTRICT)
    event = case.events.order_by("-id").first()
    assert event.action == "escalated"
    assert (event.payload["from_level"], event.payload["to_level"]) == (3, 2)

    sub = fresh(world.dispatcher)
    assert case_get(sub, case.pk) == case  # still visible
    assert not {"dispatch", "escalate", "add_cohandler"} & set(case_actions(sub, case))
    assert_refused(lambda: services.case_dispatch(case=case, actor=sub), case, ActionForbidden)
    assert_refused(
        lambda: services.case_escalate(case=case, actor=sub, reason="再上报"),
        case,
        ActionForbidden,
    )
    assert_refused(
        lambda: services.case_add_cohandler(case=case, actor=sub, department=world.szgs),
        case,
        ActionForbidden,
    )


@pytest.mark.parametrize("centre", ["district_dispatcher", "city_dispatcher"])
def test_after_escalation_the_centre_above_dispatches(world, district_dispatcher, centre):
    case = escalate_to_district(world)
    actor = fresh(district_dispatcher if centre == "district_dispatcher" else world.city_dispatcher)
    assert {"dispatch", "escalate"} <= set(case_actions(actor, case))
    services.case_dispatch(case=case, actor=actor)
    stored = Case.objects.get(pk=case.pk)
    assert (stored.status, stored.department) == (Status.DISPATCHED, world.cgj)
    event = stored.events.order_by("-id").first()
    assert (event.action, event.actor, event.actor_role) == ("dispatched", actor, "dispatcher")


def test_escalation_to_the_city_and_no_further(world, district_dispatcher):
    case = escalate_to_district(world)
    district = fresh(district_dispatcher)
    services.case_escalate(case=case, actor=district, reason="需市级协调")
    case = Case.objects.get(pk=case.pk)
    assert case.command_level == Level.CITY
    event = case.events.order_by("-id").first()
    assert (event.actor, event.actor_role, event.payload["to_level"]) == (
        district,
        "dispatcher",
        Level.CITY,
    )

    # The district centre is now below the case's command level, too.
    assert "dispatch" not in case_actions(fresh(district), case)
    assert_refused(
        lambda: services.case_dispatch(case=case, actor=fresh(district)), case, ActionForbidden
    )

    city = fresh(world.city_dispatcher)
    assert "escalate" not in case_actions(city, case)  # the condition fails
    assert "dispatch" in case_actions(city, case)
    with pytest.raises(CaseConflict) as raised:
        services.case_escalate(case=case, actor=city, reason="再上报")
    assert raised.type is CaseConflict
    assert str(Case.can_escalate.reason) in raised.value.message
    assert_refused(
        lambda: services.case_escalate(case=case, actor=city, reason="再上报"), case, CaseConflict
    )
    services.case_dispatch(case=case, actor=city)
    assert Case.objects.get(pk=case.pk).status == Status.DISPATCHED


# --- A self-handled case is inspected by someone else ----------------------------------------


def self_handled_case(world) -> Case:
    case = report(world, self_handled=True, handling_photos=[jpeg()])
    case = Case.objects.get(pk=case.pk)
    assert (case.status, case.self_handled, case.reporter) == (
        Status.HANDLED,
        True,
        world.grid_worker,
    )
    return case


@pytest.mark.parametrize("passed", [True, False])
def test_a_self_handled_case_is_not_inspected_by_its_reporter(world, passed):
    case = self_handled_case(world)
    worker = fresh(world.grid_worker)
    assert case_get(worker, case.pk) == case
    listed = case_actions(worker, case)
    assert "inspect_pass" not in listed and "inspect_fail" not in listed
    assert "comment" in listed
    assert_refused(
        lambda: services.case_inspect(case=case, actor=worker, passed=passed, note="自查"),
        case,
        ActionForbidden,
    )


def test_a_self_handled_case_is_inspected_by_a_dispatcher(world):
    case = self_handled_case(world)
    dispatcher = fresh(world.dispatcher)
    assert {"inspect_pass", "inspect_fail"} <= set(case_actions(dispatcher, case))
    services.case_inspect(case=case, actor=dispatcher, passed=True)
    stored = Case.objects.get(pk=case.pk)
    assert stored.status == Status.CLOSED and stored.closed_at is not None
    event = stored.events.order_by("-id").first()
    assert (event.action, event.actor, event.actor_role) == ("closed", dispatcher, "dispatcher")


def test_a_self_handled_case_is_inspected_by_another_worker_of_the_grid(world):
    case = self_handled_case(world)
    colleague = fresh(colleague_in_g1(world))
    assert "inspect_fail" in case_actions(colleague, case)
    services.case_inspect(case=case, actor=colleague, passed=False, note="未清理干净")
    stored = Case.objects.get(pk=case.pk)
    # No department handled it: rework goes back to the command centre to dispatch.
    assert (stored.status, stored.rework_count) == (Status.REGISTERED, 1)
    event = stored.events.order_by("-id").first()
    assert (event.action, event.actor, event.actor_role) == ("rework", colleague, "grid_worker")


# --- Co-handling: a department or a named person -----------------------------------------------


def _assert_cohandler_may_see_and_comment_only(world, case: Case, person) -> None:
    person = fresh(person)
    assert case_get(person, case.pk) == case
    assert case_actions(person, case) == ["comment"]

    services.case_comment(case=case, actor=person, text="市政管线已排查")
    stored = Case.objects.get(pk=case.pk)
    assert (stored.status, stored.version) == (Status.DISPATCHED, case.version + 1)
    event = stored.events.order_by("-id").first()
    assert (event.action, event.actor, event.actor_role) == ("commented", person, "cohandler")
    assert event.payload == {"text": "市政管线已排查"}

    assert_refused(
        lambda: services.case_acknowledge(case=stored, actor=person), stored, ActionForbidden
    )
    assert_refused(
        lambda: services.case_return(case=stored, actor=person, reason="非本部门"),
        stored,
        ActionForbidden,
    )
    # The grant is for this case only.
    other = case_in(world, Status.DISPATCHED)
    assert not cases_visible_to(person).filter(pk=other.pk).exists()
    assert_refused(
        lambda: services.case_comment(case=other, actor=person, text="看看"), other, CaseNotFound
    )
    # The handling department still acts as before.
    services.case_acknowledge(case=stored, actor=fresh(world.handler))
    assert Case.objects.get(pk=case.pk).status == Status.IN_PROGRESS


def test_a_cohandling_department_sees_and_comments_but_does_not_acknowledge(world):
    case = case_in(world, Status.DISPATCHED)
    other_handler = fresh(world.other_handler)
    assert_refused(
        lambda: services.case_comment(case=case, actor=other_handler, text="看看"),
        case,
        CaseNotFound,
    )

    services.case_add_cohandler(case=case, actor=world.dispatcher, department=world.szgs)
    case = Case.objects.get(pk=case.pk)
    assert case.status == Status.DISPATCHED
    event = case.events.order_by("-id").first()
    assert (event.action, event.actor, event.actor_role) == (
        "cohandler_added",
        world.dispatcher,
        "dispatcher",
    )
    assert event.payload["department"] == "SZGS"
    assert CaseGroupObjectPermission.objects.filter(
        content_object=case, group=world.szgs.group, permission__codename="cohandle_case"
    ).exists()

    _assert_cohandler_may_see_and_comment_only(world, case, world.other_handler)


def test_a_named_person_grant_works_the_same_way(world):
    case = case_in(world, Status.DISPATCHED)
    person = fresh(world.other_worker)  # a grid worker of G4: a G1 case is out of scope
    assert_refused(
        lambda: services.case_comment(case=case, actor=person, text="看看"), case, CaseNotFound
    )

    services.case_add_cohandler(case=case, actor=world.city_dispatcher, user=world.other_worker)
    case = Case.objects.get(pk=case.pk)
    event = case.events.order_by("-id").first()
    assert (event.action, event.actor, event.payload["user"]) == (
        "cohandler_added",
        world.city_dispatcher,
        world.other_worker.pk,
    )
    assert CaseUserObjectPermission.objects.filter(
        content_object=case, user=world.other_worker, permission__codename="cohandle_case"
    ).exists()

    _assert_cohandler_may_see_and_comment_only(world, case, world.other_worker)


@pytest.mark.parametrize(
    ("actor_name", "error"),
    [
        ("handler", ActionForbidden),
        ("supervisor", ActionForbidden),
        ("grid_worker", ActionForbidden),
        ("admin", ActionForbidden),
        ("other_handler", CaseNotFound),
        ("far_dispatcher", CaseNotFound),
        ("far_supervisor", CaseNotFound),
        ("other_worker", CaseNotFound),
        ("citizen", CaseNotFound),
    ],
)
@pytest.mark.parametrize("grantee", ["department", "user"])
def test_only_a_dispatcher_grants_cohandling(world, actor_name, error, grantee):
    case = case_in(world, Status.DISPATCHED)
    actor = fresh(world.users[actor_name])
    assert "add_cohandler" not in case_actions(actor, case)
    kwargs = {"department": world.szgs} if grantee == "department" else {"user": world.citizen}
    assert_refused(
        lambda: services.case_add_cohandler(case=case, actor=actor, **kwargs), case, error
    )
    assert not CaseGroupObjectPermission.objects.filter(content_object=case).exists()
    assert not CaseUserObjectPermission.objects.filter(content_object=case).exists()
    # And the would-be grantee still sees nothing.
    assert not cases_visible_to(fresh(world.citizen)).filter(pk=case.pk).exists()
    assert not cases_visible_to(fresh(world.other_handler)).filter(pk=case.pk).exists()
