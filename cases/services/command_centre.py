"""The command centre's actions: register or void a report, merge a
duplicate, dispatch, escalate, answer a department's requests, resume, and
bring in co-handlers."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm

from organisation.models import Department

from .. import deadlines
from ..categories import route_for
from ..errors import ActionForbidden, CaseInputError
from ..models import Case, CaseFollower, Category, RejectReason, Status, Urgency
from ..policy import forget_scope, role_for, visible_q
from .steps import acting, boolean, pk_of, record, settle_directives, text


def case_register(
    *,
    case: Case | int,
    actor,
    category: Category | None = None,
    urgency: str | None = None,
    note: str = "",
    expected_version: int | None = None,
) -> Case:
    """Register (立案) a report: it becomes a case to dispatch. The category may
    be set or corrected here; the route is resolved and open cases nearby of
    the same category are recorded as duplicate candidates."""
    from ..selectors import duplicate_candidates

    with acting(case, actor, "register", expected_version) as step:
        case = step.case
        if category is not None:
            if not category.is_active:
                raise CaseInputError(_("This category is no longer in use."), field="category")
            case.category = category
        if case.category is None:
            raise CaseInputError(
                _("Choose a category before registering the case."), field="category"
            )
        if urgency is not None:
            if urgency not in Urgency.values:
                raise CaseInputError(
                    _("Unknown urgency “%(u)s”.") % {"u": urgency}, field="urgency"
                )
            case.urgency = urgency
        note = text(note, "note", required=False)
        department = route_for(category=case.category, ancestor_ids=case.ancestor_ids)
        case.routed_department = department
        case.unrouted = department is None
        case.register()
        deadlines.stage_start(case, now=step.now)
        step.payload = {
            "category": case.category.code,
            "urgency": case.urgency,
            "routed_department": getattr(department, "code", None),
            "unrouted": case.unrouted,
            "duplicate_candidates": [c.pk for c in duplicate_candidates(case)],
            "note": note,
        }
    return case


def case_reject(
    *, case: Case | int, actor, reason: str, expected_version: int | None = None
) -> Case:
    """Void (作废) a report that is not a case, saying why."""
    with acting(case, actor, "reject", expected_version) as step:
        reason = text(reason, "reason", required=True)
        step.case.reject()
        deadlines.stage_start(step.case, now=step.now)
        settle_directives(step.case, step.now)
        step.payload = {"kind": RejectReason.VOID, "reason": reason}
    return step.case


def case_merge(
    *,
    case: Case | int,
    actor,
    original: Case | int,
    note: str = "",
    expected_version: int | None = None,
) -> Case:
    """Close a report as a duplicate of ``original`` (an open case). Its reporter
    follows the original from now on."""
    case_pk, original_pk = pk_of(case), pk_of(original, field="original")
    if original_pk == case_pk:
        raise CaseInputError(_("A case cannot duplicate itself."), field="original")
    # Both rows, locked in id order: two merges of A into B and B into A
    # at once wait for each other instead of deadlocking.
    with acting(case_pk, actor, "merge", expected_version, also=[original_pk]) as step:
        case = step.case
        original = Case.objects.filter(visible_q(actor), pk=original_pk).first()  # locked
        if original is None:
            raise CaseInputError(_("No such open case to merge into."), field="original")
        if role_for(actor, original, "merge") is None:
            raise ActionForbidden(
                _("Case %(number)s is not with your command centre.") % {"number": original.number}
            )
        if not original.is_open or original.duplicate_of_id is not None:
            raise CaseInputError(
                _("Case %(number)s is not open; merge into an open case.")
                % {"number": original.number},
                field="original",
            )
        note = text(note, "note", required=False)
        case.merge_into(original=original)
        deadlines.stage_start(case, now=step.now)
        settle_directives(case, step.now)
        step.payload = {"kind": RejectReason.DUPLICATE, "original": original.number, "note": note}
        step.record()
        if (case.reporter_id or case.reporter_phone or case.reporter_email) and (
            case.reporter_id is None
            or not original.followers.filter(user_id=case.reporter_id).exists()
        ):
            CaseFollower.objects.create(
                case=original,
                user_id=case.reporter_id,
                name=case.reporter_name,
                phone=case.reporter_phone,
                email=case.reporter_email,
                via=case,
            )
        record(
            original, actor=actor, role=step.role, action="duplicate_merged",
            from_status=original.status, payload={"duplicate": case.number},
        )  # fmt: skip
    return case


def case_dispatch(
    *,
    case: Case | int,
    actor,
    department: Department | None = None,
    note: str = "",
    expected_version: int | None = None,
) -> Case:
    """Dispatch (派遣) to a department: the one named, else the routed one.
    From ``returned`` this is a re-dispatch."""
    with acting(case, actor, "dispatch", expected_version) as step:
        case = step.case
        department = department or case.routed_department
        if department is None:
            raise CaseInputError(
                _("No routing rule covers this case: choose a department."),
                field="department",
                code="unrouted",
            )
        if not department.is_active:
            raise CaseInputError(
                _("%(d)s is not an active department.") % {"d": department}, field="department"
            )
        if department.jurisdiction_id not in case.ancestor_ids:
            raise CaseInputError(
                _("The case is outside the jurisdiction of %(d)s.") % {"d": department},
                field="department",
            )
        if step.from_status == Status.RETURNED:
            step.event = "redispatched"
        case.dispatch(department=department)
        deadlines.stage_start(case, now=step.now)
        step.payload = {"department": department.code, "note": text(note, "note", required=False)}
    return case


def case_escalate(
    *, case: Case | int, actor, reason: str, expected_version: int | None = None
) -> Case:
    """Hand the case up to the command centre one level above."""
    with acting(case, actor, "escalate", expected_version) as step:
        reason = text(reason, "reason", required=True)
        from_level = step.case.command_level
        step.case.escalate()
        deadlines.stage_start(step.case, now=step.now)
        step.payload = {
            "from_level": from_level,
            "to_level": step.case.command_level,
            "reason": reason,
        }
    return step.case


def case_decide_extension(
    *,
    case: Case | int,
    actor,
    approve: bool,
    note: str = "",
    expected_version: int | None = None,
) -> Case:
    """Approve (the handling deadline moves) or deny an extension request."""
    action = "approve_extension" if boolean(approve, "approve") else "deny_extension"
    with acting(case, actor, action, expected_version) as step:
        note = text(note, "note", required=False)
        minutes = step.case.pending_extension
        step.case.decide_extension(approve=approve)
        if approve:
            deadlines.stage_replace(step.case, now=step.now)
        step.payload = {
            "minutes": minutes,
            "due_at": step.case.due_at if approve else None,
            "note": note,
        }
    return step.case


def case_approve_suspension(
    *, case: Case | int, actor, note: str = "", expected_version: int | None = None
) -> Case:
    """Suspend (挂账) the case: its handling clock stops until it is resumed."""
    with acting(case, actor, "approve_suspension", expected_version) as step:
        note = text(note, "note", required=False)
        step.case.approve_suspension()
        deadlines.stage_pause(step.case, now=step.now)
        step.payload = {"note": note}
    return step.case


def case_deny_suspension(
    *, case: Case | int, actor, reason: str = "", expected_version: int | None = None
) -> Case:
    """Refuse a department's request to suspend the case; its clock runs on."""
    with acting(case, actor, "deny_suspension", expected_version) as step:
        note = text(reason, "note", required=False)
        step.case.deny_suspension()
        step.payload = {"note": note}
    return step.case


def case_resume(
    *, case: Case | int, actor, note: str = "", expected_version: int | None = None
) -> Case:
    """Resume a suspended case: its clock runs again from where it stopped."""
    with acting(case, actor, "resume", expected_version) as step:
        note = text(note, "note", required=False)
        step.case.resume()
        deadlines.stage_resume(step.case, now=step.now)
        step.payload = {"note": note, "due_at": step.case.due_at}
    return step.case


def case_add_cohandler(
    *,
    case: Case | int,
    actor,
    department: Department | None = None,
    user=None,
    expected_version: int | None = None,
) -> Case:
    """Let a co-handling department (协办), or one named person (a user or
    a user's id), see the case and add notes and photos to it."""
    if (department is None) == (user is None):
        raise CaseInputError(_("Name either a department or a person."), field="department")
    if isinstance(user, int) and not isinstance(user, bool):
        user = get_user_model().objects.filter(pk=user, is_active=True).first()
        if user is None:
            raise CaseInputError(_("No such person."), field="user")
    with acting(case, actor, "add_cohandler", expected_version) as step:
        step.case.add_cohandler()
        if department is not None:
            if department.group is None:
                department.save()
            assign_perm("cases.cohandle_case", department.group, step.case)
        else:
            assign_perm("cases.cohandle_case", user, step.case)
            forget_scope(user)
        step.payload = {
            "department": getattr(department, "code", None),
            "user": getattr(user, "pk", None),
        }
    return step.case
