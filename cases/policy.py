"""Who may see a case and who may act on it.

Seeing is decided in the query (``visible_q``), so lists and lookups are
filtered in the database:

    admin         every case
    dispatcher    cases in the command centre's area subtree
    supervisor    cases in the supervised area subtree
    handler       cases currently with their department
    grid worker   cases in the grids assigned to them today, and their own reports
    anyone        cases they reported or follow; cases granted to them or to
                  their department through django-guardian (a named person,
                  ``view_case``; a co-handling department, ``cohandle_case``)

A case is seen in full (``full_view_q``) through a role or a grant; seen
only as its reporter or a follower, it is shown as its public view.

Acting is decided per case by ``role_for``: the first of the action's roles
the user holds in scope. A dispatcher acts only on cases whose command level
is theirs or below (an escalated case belongs to the centre above). Admins
configure; they do not work cases.
"""

from __future__ import annotations

import contextlib
import functools
import operator
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from core.db import fetchone_prepared
from organisation.models import Role, RoleMembership

from .actions import ACTIONS as WORKFLOW
from .actions import COHANDLER, REPORTER
from .models import Case, CaseFollower, CaseGroupObjectPermission, CaseUserObjectPermission

# What each action may be taken as, and the transition behind it, as the
# registry of workflow actions (``cases.actions``) declares them.
ACTION_ROLES: dict[str, tuple[str, ...]] = {a.name: a.roles for a in WORKFLOW.values()}
TRANSITION_OF_ACTION: dict[str, str] = {a.name: a.transition for a in WORKFLOW.values()}
ACTIONS = tuple(WORKFLOW)


@dataclass(frozen=True)
class TipHolder:
    """Whoever holds a tip's tracking token: its reporter, who may have no
    account. It sees that one case and acts on it as its ``REPORTER``; its
    events record no account as the actor."""

    case_id: int
    is_authenticated = False
    pk = None


@dataclass(frozen=True)
class Scope:
    user_id: int | None
    is_admin: bool = False
    dispatcher_areas: tuple[tuple[str, int], ...] = ()  # (path, level)
    supervisor_paths: tuple[str, ...] = ()
    department_ids: frozenset[int] = frozenset()
    grid_ids: frozenset[int] = frozenset()
    group_ids: frozenset[int] = frozenset()
    # Cases followed, or granted through guardian: few per person, so they
    # are read once and put in the filter as literals, which keeps every
    # branch of the OR on an index.
    extra_case_ids: frozenset[int] = frozenset()
    granted_case_ids: frozenset[int] = frozenset()  # the guardian grants among them
    cohandled_case_ids: frozenset[int] = frozenset()  # the ``cohandle_case`` grants among them


def works_on_cases(scope: Scope) -> bool:
    """Staff of the loop (any role but citizen), as opposed to a citizen account."""
    return bool(
        scope.is_admin
        or scope.dispatcher_areas
        or scope.supervisor_paths
        or scope.department_ids
        or scope.grid_ids
    )


def scope_of(user) -> Scope:
    """The user's roles and their scopes, read once per user object, in one query."""
    if user is None or not user.is_authenticated:
        return Scope(user_id=None)
    cached = getattr(user, "_case_scope", None)
    if cached is not None:
        return cached
    group_ids, extra, granted, cohandled, memberships, grid_ids = fetchone_prepared(
        _scope_sql(),
        {"user": user.pk, "day": timezone.localdate(), "codenames": list(GRANT_CODENAMES)},
    )
    roles = {role for role, _path, _level, _department in memberships}
    scope = Scope(
        user_id=user.pk,
        is_admin=user.is_superuser or Role.ADMIN in roles,
        dispatcher_areas=tuple(
            (path, level) for role, path, level, _d in memberships if role == Role.DISPATCHER
        ),
        supervisor_paths=tuple(
            path for role, path, _level, _d in memberships if role == Role.SUPERVISOR
        ),
        department_ids=frozenset(
            department for role, _p, _l, department in memberships if role == Role.HANDLER
        ),
        grid_ids=frozenset(grid_ids) if Role.GRID_WORKER in roles else frozenset(),
        group_ids=frozenset(group_ids),
        extra_case_ids=frozenset(extra),
        granted_case_ids=frozenset(granted),
        cohandled_case_ids=frozenset(cohandled),
    )
    user._case_scope = scope
    return scope


GRANT_CODENAMES = ("view_case", "cohandle_case")


@functools.cache
def _scope_sql() -> str:
    """Every part of a user's scope in one prepared statement: each request
    needs it, and five ORM queries cost more than the rest of a small request. The grid
    assignments in force are ``grids.selectors.assigned_on``; tests hold the
    two to the same answer."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    from grids.models import Area, GridAssignment

    groups = get_user_model().groups.through._meta.db_table
    permission = Permission._meta.db_table
    by_user = CaseUserObjectPermission._meta.db_table
    by_group = CaseGroupObjectPermission._meta.db_table
    return f"""
        WITH user_groups AS (SELECT group_id FROM {groups} WHERE user_id = %(user)s),
        grants AS (
            SELECT o.content_object_id AS case_id, p.codename
              FROM {by_user} o JOIN {permission} p ON p.id = o.permission_id
             WHERE o.user_id = %(user)s AND p.codename = ANY(%(codenames)s)
            UNION ALL
            SELECT o.content_object_id, p.codename
              FROM {by_group} o JOIN {permission} p ON p.id = o.permission_id
             WHERE o.group_id IN (SELECT group_id FROM user_groups)
               AND p.codename = ANY(%(codenames)s)
        )
        SELECT
            ARRAY(SELECT group_id FROM user_groups),
            ARRAY(SELECT case_id FROM grants
                  UNION SELECT case_id FROM {CaseFollower._meta.db_table}
                         WHERE user_id = %(user)s),
            ARRAY(SELECT DISTINCT case_id FROM grants),
            ARRAY(SELECT case_id FROM grants WHERE codename = 'cohandle_case'),
            (SELECT coalesce(json_agg(json_build_array(m.role, a.path, a.level, m.department_id)),
                             '[]'::json)
               FROM {RoleMembership._meta.db_table} m
               LEFT JOIN {Area._meta.db_table} a ON a.id = m.area_id
              WHERE m.user_id = %(user)s),
            ARRAY(SELECT DISTINCT grid_id FROM {GridAssignment._meta.db_table}
                   WHERE user_id = %(user)s AND start_date <= %(day)s
                     AND (end_date IS NULL OR end_date >= %(day)s))
    """


def forget_scope(user) -> None:
    """Drop the cached scope after the user's roles changed."""
    # Through the attribute, not __dict__: a live connection's user is a
    # lazy object (Channels' session sign-in) that keeps it on the user inside.
    with contextlib.suppress(AttributeError):
        del user._case_scope


def visible_q(user) -> Q:
    """The cases ``user`` may see, as a filter on Case: no joins and no
    subqueries, so each branch of the OR uses its index and the filter also
    works with FOR UPDATE."""
    if isinstance(user, TipHolder):
        return Q(pk=user.case_id)
    return _cases_seen(user, in_full=False)


def full_view_q(user) -> Q:
    """The cases ``user`` sees in full, through a role in scope or a grant:
    those among ``visible_q`` not seen only as their reporter or a follower.
    A case seen only that way is shown as its public view (the citizen's
    tip status): no staff notes, no staff names, no internal photos."""
    return _cases_seen(user, in_full=True)


def _cases_seen(user, *, in_full: bool) -> Q:
    scope = scope_of(user)
    if scope.user_id is None:
        return Q(pk__in=[])
    if scope.is_admin:
        return Q()
    if in_full:
        return _any(*_role_branches(scope), _ids(scope.granted_case_ids))
    return _any(
        Q(reporter_id=scope.user_id),
        *_role_branches(scope),
        _ids(scope.extra_case_ids),  # followed (a merged duplicate's reporter) or granted
    )


def _ids(case_ids: frozenset[int]) -> Q | None:
    return Q(pk__in=sorted(case_ids)) if case_ids else None


def _role_branches(scope: Scope) -> list[Q]:
    """The cases a user sees through the scope of each role they hold."""
    branches = [
        Q(area_path__startswith=path)
        for path in sorted(
            {p for p, _level in scope.dispatcher_areas} | set(scope.supervisor_paths)
        )
    ]
    if scope.department_ids:
        branches.append(Q(department_id__in=scope.department_ids))
    if scope.grid_ids:
        branches.append(Q(grid_id__in=scope.grid_ids))
    return branches


def _any(*branches: Q | None) -> Q:
    """The OR of ``branches`` (None ones left out); no case when there are none."""
    present = [q for q in branches if q is not None]
    return functools.reduce(operator.or_, present) if present else Q(pk__in=[])


def sees(
    scope: Scope,
    *,
    case_id: int,
    area_path: str,
    department_id: int | None,
    grid_id: int | None,
    reporter_id: int | None = None,
) -> bool:
    """``visible_q`` for one case's fields in memory, with no query: a live
    connection checks each event of a case it follows against it. Tests hold
    the two to the same answer."""
    if scope.user_id is None:
        return False
    if scope.is_admin:
        return True
    paths = [p for p, _level in scope.dispatcher_areas] + list(scope.supervisor_paths)
    return (
        (reporter_id is not None and reporter_id == scope.user_id)
        or any(area_path.startswith(path) for path in paths)
        or (department_id is not None and department_id in scope.department_ids)
        or (grid_id is not None and grid_id in scope.grid_ids)
        or case_id in scope.extra_case_ids
    )


def _dispatcher_acts(scope: Scope, case: Case) -> bool:
    return any(
        case.area_path.startswith(path) and level <= case.command_level
        for path, level in scope.dispatcher_areas
    )


ROLE_APPLIES = {
    Role.DISPATCHER: _dispatcher_acts,
    Role.SUPERVISOR: lambda s, c: any(c.area_path.startswith(p) for p in s.supervisor_paths),
    Role.HANDLER: lambda s, c: c.department_id is not None and c.department_id in s.department_ids,
    Role.GRID_WORKER: lambda s, c: c.grid_id in s.grid_ids,
    # Staff who file a hotline or sensor report, or their own patrol finding,
    # are not its reporter for rating or reopening: only citizens are.
    REPORTER: lambda s, c: (
        s.user_id is not None and c.reporter_id == s.user_id and c.source == "citizen"
    ),
    COHANDLER: lambda s, c: c.pk in s.cohandled_case_ids,
}


def role_for(user, case: Case, action: str) -> str | None:
    """The role under which ``user`` may take ``action`` on ``case``, or None.
    (Whether the case's state allows the action is the state machine's part.)"""
    if isinstance(user, TipHolder):
        holds = case.pk == user.case_id and case.source == "citizen"
        return REPORTER if holds and REPORTER in ACTION_ROLES[action] else None
    scope = scope_of(user)
    if scope.user_id is None:
        return None
    if (
        action in ("inspect_pass", "inspect_fail")
        and case.self_handled
        and case.reporter_id == scope.user_id
    ):
        return None  # a self-handled case is inspected by someone else
    for role in ACTION_ROLES[action]:
        if ROLE_APPLIES[role](scope, case):
            return str(role)
    return None
