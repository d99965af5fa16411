"""Who hears of a case event: the names of the live groups it goes to.

Every group name in the system comes from here, for the publisher, the
WebSocket consumer that lets a client join a group, and the events API that
replays what a user's groups were sent:

    dept.<id>    a department's queue: the case's department, and the one it
                 just left (a re-dispatch or a return empties a queue too),
                 and the departments co-handling the case (协办)
    area.<id>    every area on the case's path, from the city down to its grid:
                 the command centres above the case and the grid's workers
    case.<id>    the case itself (someone who has it open)
    user.<id>    the people involved: the reporter, followers and people granted
                 the case by name; also each user's own notifications

An event's audience is stored on it (``CaseEvent.audience``) when it is
recorded, so "events since N" for a user is exactly what the user's groups
were sent live.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from grids import codes

DEPARTMENT = "dept"
AREA = "area"
CASE = "case"
USER = "user"
KINDS = (DEPARTMENT, AREA, CASE, USER)


def group_name(kind: str, pk: int) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown group kind {kind!r}")
    return f"{kind}.{int(pk)}"


def parse_group(name: str) -> tuple[str, int] | None:
    """(kind, id) for a well-formed group name, else None."""
    kind, _dot, pk = name.partition(".")
    if kind not in KINDS or not pk.isascii() or not pk.isdigit() or len(pk) > 18:
        return None
    return kind, int(pk)


def department_group(pk: int) -> str:
    return group_name(DEPARTMENT, pk)


def area_group(pk: int) -> str:
    return group_name(AREA, pk)


def case_group(pk: int) -> str:
    return group_name(CASE, pk)


def user_group(pk: int) -> str:
    return group_name(USER, pk)


def involved(case_ids: Iterable[int]) -> dict[int, tuple[set[int], set[int]]]:
    """For each case, (users involved by name, co-handling departments): its
    followers, the people and department groups granted the case. Two
    queries for any number of cases."""
    from organisation.models import Department

    from .models import CaseFollower, CaseGroupObjectPermission, CaseUserObjectPermission
    from .policy import GRANT_CODENAMES

    ids = list(case_ids)
    result: dict[int, tuple[set[int], set[int]]] = defaultdict(lambda: (set(), set()))
    if not ids:
        return result
    users = CaseFollower.objects.filter(case_id__in=ids, user__isnull=False).values_list(
        "case_id", "user_id"
    )
    granted = CaseUserObjectPermission.objects.filter(
        content_object_id__in=ids, permission__codename__in=GRANT_CODENAMES
    ).values_list("content_object_id", "user_id")
    for case_id, user_id in [*users, *granted]:
        result[case_id][0].add(user_id)
    departments = CaseGroupObjectPermission.objects.filter(
        content_object_id__in=ids, permission__codename="cohandle_case"
    ).values_list("content_object_id", "group_id")
    group_ids = {group_id for _case, group_id in departments}
    if group_ids:
        by_group = dict(
            Department.objects.filter(group_id__in=group_ids).values_list("group_id", "pk")
        )
        for case_id, group_id in departments:
            if group_id in by_group:
                result[case_id][1].add(by_group[group_id])
    return result


def audience(case, *, users: Iterable[int] = (), departments: Iterable[int] = ()) -> list[str]:
    """The groups an event on ``case`` (as the action leaves it) goes to."""
    groups = [case_group(case.pk)]
    groups += [area_group(pk) for pk in codes.path_ids(case.area_path)]
    department_ids = {case.department_id, getattr(case, "department_at_load", None)}
    department_ids.update(departments)
    groups += [department_group(pk) for pk in sorted(d for d in department_ids if d)]
    user_ids = set(users)
    if case.reporter_id:
        user_ids.add(case.reporter_id)
    groups += [user_group(pk) for pk in sorted(user_ids)]
    return groups


def standing_groups(user) -> list[str] | None:
    """The groups ``user`` follows by their roles: their own, their
    departments, their command centre and supervised areas, their grids
    today. None for an admin, who may follow everything."""
    from .policy import scope_of

    scope = scope_of(user)
    if scope.user_id is None:
        return []
    if scope.is_admin:
        return None
    areas = {codes.path_ids(path)[-1] for path, _level in scope.dispatcher_areas}
    areas.update(codes.path_ids(path)[-1] for path in scope.supervisor_paths)
    areas.update(scope.grid_ids)
    return [
        user_group(scope.user_id),
        *(department_group(pk) for pk in sorted(scope.department_ids)),
        *(area_group(pk) for pk in sorted(areas)),
    ]


def may_join(user, group: str, *, refresh: bool = False) -> bool:
    """Whether ``user`` may follow ``group`` (a well-formed name): the same
    answer for a group that does not exist as for one that is not theirs.

    The user's scope is the one cached on the user object, read once per
    request. ``refresh`` reads their roles and grids afresh, for a user
    object that outlives a request (a live connection: grids are assigned by
    the day, roles change)."""
    return not refused(user, [group], refresh=refresh)


def refused(user, groups: list[str], *, refresh: bool = False) -> list[str]:
    """Those of ``groups`` that ``user`` may not follow (``may_join`` for
    many): the events API, a live connection's subscriptions, its rechecks
    and its resyncs all ask this. What the scope answers in memory costs
    nothing; the case groups are checked together in one query (the cases
    the user may see now, ``policy.visible_q``), and so are area groups
    outside the user's grids."""
    from grids.models import Area

    from .models import Case
    from .policy import forget_scope, scope_of, visible_q

    if user is None or not user.is_authenticated:
        return list(groups)
    if refresh:
        forget_scope(user)
    scope = scope_of(user)
    answers: dict[str, bool] = {}
    cases: dict[int, str] = {}
    areas: dict[int, str] = {}
    for group in groups:
        parsed = parse_group(group)
        answer = False if parsed is None else may_join_in(scope, group)
        if answer is not None:
            answers[group] = answer
        elif parsed[0] == CASE:
            cases[parsed[1]] = group
        else:
            areas[parsed[1]] = group
    if cases:
        visible = Case.objects.filter(visible_q(user), pk__in=cases).order_by()
        seen = set(visible.values_list("pk", flat=True))
        answers.update({group: pk in seen for pk, group in cases.items()})
    if areas:
        paths = dict(Area.objects.filter(pk__in=areas).values_list("pk", "path"))
        allowed = _area_paths(scope)
        answers.update(
            {
                group: pk in paths and any(paths[pk].startswith(p) for p in allowed)
                for pk, group in areas.items()
            }
        )
    return [group for group in groups if not answers[group]]


def may_join_in(scope, group: str) -> bool | None:
    """``may_join`` answered from a scope held in memory, with no query
    (a live connection's subscriptions); None when only the database can
    answer: a case group, or an area group outside the user's grids when
    they hold roles over areas (whether it lies under those areas)."""
    parsed = parse_group(group)
    if parsed is None or scope.user_id is None:
        return False
    kind, pk = parsed
    if kind == USER:
        return pk == scope.user_id
    if kind == CASE:
        return None
    if scope.is_admin:
        return True
    if kind == DEPARTMENT:
        return pk in scope.department_ids
    if pk in scope.grid_ids:
        return True
    return None if _area_paths(scope) else False


def _area_paths(scope) -> list[str]:
    """The paths of the areas the user's command centre and supervisor roles cover."""
    return [path for path, _level in scope.dispatcher_areas] + list(scope.supervisor_paths)
