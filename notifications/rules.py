"""Who is notified of which case event, on which channels: the whole policy.

    kind         event actions                  to                          channels
    dispatch     dispatched, redispatched       handlers                    inbox
    return       returned                       command_centre              inbox
    rework       rework, reopened               holders                     inbox
    reminder     reminded                       holders                     inbox
    supervision  supervision_ordered            holders                     inbox
    yellow       sla_yellow                     holders                     inbox
    red          sla_red                        holders, supervisors        inbox
    escalation   escalated                      command_centre              inbox
    directive_late directive_overdue            holders, issuer             inbox
    verify       verification_requested         grid_workers                inbox
    reopen_request reopen_requested             command_centre              inbox
    closure      closed                         reporter, followers         inbox
                                                contacts                    email, sms
    tip_status   registered, rejected, merged,  citizen_reporter,           inbox
                 dispatched, handled            citizen_followers
                                                contacts                    email, sms

Audiences, resolved on the case as the action leaves it:

    handlers           handlers (RoleMembership) of the case's department
    command_centre     dispatchers of the command centre in charge: the area
                       at the case's command level on its area path
    supervisors        supervisors whose area is on the case's path (their
                       subtree contains the case)
    grid_workers       grid workers assigned to the case's grid today
    holders            whoever must act next: the command centre while the
                       case is reported, registered or returned; its
                       grid_workers and the command centre while it is
                       being verified; the
                       department's handlers while dispatched, in progress or
                       suspended; its grid_workers while it waits for
                       inspection (handled)
    reporter           the account that reported the case
    followers          accounts following the case (reporters of duplicates
                       merged into it)
    citizen_reporter   the reporter's account, when the case is a citizen's tip
    citizen_followers  followers whose own report was a citizen's tip
    contacts           the email address and phone number left with the report
                       and by each follower (citizens without an account)
    issuer             who issued the reminder or supervision order (none when
                       the sweep issued it)

Digests. What the deadline sweep causes (yellow, red, escalated,
supervision_ordered and directive_overdue with no actor) is not notified
event by event: after each run, every person it reaches gets one
notification per kind and channel, counting the events of the run that
reached them (``digests.plan_digest``), with the recipients of all the run's cases
found in a few set-based queries (notifications.digests). A digest reaches
staff audiences and the issuer only; the same actions by a person are
notified one by one.

Nobody is told of their own action: the actor is left out (and, when the
actor reported the case, the report's contact details too). A person reached
twice by one event (two rules, or two audiences) gets one notification per
channel, of the first rule that reached them.

Email and SMS to an account go to the user's own email address and phone;
to ``contacts`` they go to the details left with the report. Citizens only
ever get public-safe text (notifications.rendering).

``settings.NOTIFICATIONS_CHANNELS`` changes the channels of a kind and
audience without touching this table, e.g. SMS to departments on red::

    NOTIFICATIONS_CHANNELS = {"red": {"holders": ["inbox", "sms"]}}

(an empty list turns that audience off; an audience the kind does not have
is added).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.signals import setting_changed
from django.core.validators import validate_email
from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone

from cases.models import CaseFollower, Source, Status
from grids import codes
from grids.models import GridAssignment
from grids.selectors import assigned_on
from organisation.models import Role, RoleMembership, User

from .models import Channel, Kind

INBOX, EMAIL, SMS = Channel.INBOX, Channel.EMAIL, Channel.SMS


class To(StrEnum):
    HANDLERS = "handlers"
    COMMAND_CENTRE = "command_centre"
    SUPERVISORS = "supervisors"
    GRID_WORKERS = "grid_workers"
    HOLDERS = "holders"
    REPORTER = "reporter"
    FOLLOWERS = "followers"
    CITIZEN_REPORTER = "citizen_reporter"
    CITIZEN_FOLLOWERS = "citizen_followers"
    CONTACTS = "contacts"
    ISSUER = "issuer"


@dataclass(frozen=True)
class Rule:
    kind: str
    actions: frozenset[str]
    to: Mapping[To, tuple[str, ...]]  # audience -> channels
    # When the sweep causes it (no actor): told in the run's digest.
    digest: bool = False


def _rule(
    kind: str, actions: set[str], to: dict[To, tuple[str, ...]], *, digest: bool = False
) -> Rule:
    return Rule(kind, frozenset(actions), to, digest)


# The audiences a digest can reach (it is about many cases, not one report).
DIGEST_AUDIENCES = frozenset(
    {To.HANDLERS, To.COMMAND_CENTRE, To.SUPERVISORS, To.GRID_WORKERS, To.HOLDERS, To.ISSUER}
)


RULES: tuple[Rule, ...] = (
    _rule(Kind.DISPATCH, {"dispatched", "redispatched"}, {To.HANDLERS: (INBOX,)}),
    _rule(Kind.RETURN, {"returned"}, {To.COMMAND_CENTRE: (INBOX,)}),
    _rule(Kind.REWORK, {"rework", "reopened"}, {To.HOLDERS: (INBOX,)}),
    _rule(Kind.REMINDER, {"reminded"}, {To.HOLDERS: (INBOX,)}),
    _rule(Kind.SUPERVISION, {"supervision_ordered"}, {To.HOLDERS: (INBOX,)}, digest=True),
    _rule(Kind.YELLOW, {"sla_yellow"}, {To.HOLDERS: (INBOX,)}, digest=True),
    _rule(Kind.RED, {"sla_red"}, {To.HOLDERS: (INBOX,), To.SUPERVISORS: (INBOX,)}, digest=True),
    _rule(Kind.ESCALATION, {"escalated"}, {To.COMMAND_CENTRE: (INBOX,)}, digest=True),
    _rule(
        Kind.DIRECTIVE_LATE,
        {"directive_overdue"},
        {To.HOLDERS: (INBOX,), To.ISSUER: (INBOX,)},
        digest=True,
    ),
    _rule(Kind.VERIFY, {"verification_requested"}, {To.GRID_WORKERS: (INBOX,)}),
    _rule(Kind.REOPEN_REQUEST, {"reopen_requested"}, {To.COMMAND_CENTRE: (INBOX,)}),
    _rule(
        Kind.CLOSURE,
        {"closed"},
        {To.REPORTER: (INBOX,), To.FOLLOWERS: (INBOX,), To.CONTACTS: (EMAIL, SMS)},
    ),
    _rule(
        Kind.TIP_STATUS,
        {"registered", "rejected", "merged", "dispatched", "handled"},
        {
            To.CITIZEN_REPORTER: (INBOX,),
            To.CITIZEN_FOLLOWERS: (INBOX,),
            To.CONTACTS: (EMAIL, SMS),
        },
    ),
)

# The kinds whose text citizens read: it is rendered from public-safe facts only.
PUBLIC_KINDS = frozenset({Kind.CLOSURE, Kind.TIP_STATUS})

# Who acts next on a case in each status (the ``holders`` audience). A tip
# out for verification is the grid workers' to check and the command
# centre's to take back (recall_verification): both hear of it running late.
_HOLDERS_BY_STATUS = {
    Status.REPORTED: (To.COMMAND_CENTRE,),
    Status.VERIFYING: (To.GRID_WORKERS, To.COMMAND_CENTRE),
    Status.REGISTERED: (To.COMMAND_CENTRE,),
    Status.RETURNED: (To.COMMAND_CENTRE,),
    Status.DISPATCHED: (To.HANDLERS,),
    Status.IN_PROGRESS: (To.HANDLERS,),
    Status.SUSPENDED: (To.HANDLERS,),
    Status.HANDLED: (To.GRID_WORKERS,),
}


# --- The table in force ------------------------------------------------------------


@cache
def rules() -> tuple[Rule, ...]:
    """RULES with ``settings.NOTIFICATIONS_CHANNELS`` applied."""
    overrides = getattr(settings, "NOTIFICATIONS_CHANNELS", None) or {}
    if not isinstance(overrides, Mapping):
        raise ImproperlyConfigured("NOTIFICATIONS_CHANNELS: kind -> audience -> [channels]")
    by_kind = {rule.kind: rule for rule in RULES}
    for kind, audiences in overrides.items():
        if kind not in by_kind:
            raise ImproperlyConfigured(f"NOTIFICATIONS_CHANNELS: unknown kind {kind!r}")
        if not isinstance(audiences, Mapping):
            raise ImproperlyConfigured(f"NOTIFICATIONS_CHANNELS[{kind!r}]: audience -> [channels]")
        to = dict(by_kind[kind].to)
        for audience, channels in audiences.items():
            if audience not in To.__members__.values():
                raise ImproperlyConfigured(f"NOTIFICATIONS_CHANNELS: no audience {audience!r}")
            bad = [c for c in channels if c not in Channel.values]
            if bad or isinstance(channels, str):
                raise ImproperlyConfigured(f"NOTIFICATIONS_CHANNELS: unknown channels {bad}")
            if To(audience) == To.CONTACTS and INBOX in channels:
                raise ImproperlyConfigured("NOTIFICATIONS_CHANNELS: contacts have no inbox")
            if by_kind[kind].digest and To(audience) not in DIGEST_AUDIENCES and channels:
                raise ImproperlyConfigured(
                    f"NOTIFICATIONS_CHANNELS[{kind!r}]: the sweep's digests do not reach "
                    f"{audience!r}"
                )
            to[To(audience)] = tuple(dict.fromkeys(channels))
        by_kind[kind] = Rule(kind, by_kind[kind].actions, to, by_kind[kind].digest)
    return tuple(by_kind[rule.kind] for rule in RULES)


@cache
def _rules_by_action() -> dict[str, tuple[Rule, ...]]:
    result: dict[str, list[Rule]] = {}
    for rule in rules():
        if any(rule.to.values()):
            for action in rule.actions:
                result.setdefault(action, []).append(rule)
    return {action: tuple(found) for action, found in result.items()}


def rules_for(action: str) -> tuple[Rule, ...]:
    return _rules_by_action().get(action, ())


@cache
def digest_actions() -> frozenset[str]:
    """The actions told in the sweep's digests when no one acted."""
    return frozenset(action for rule in rules() if rule.digest for action in rule.actions)


@cache
def digest_kinds() -> frozenset[str]:
    """The kinds of notification the sweep's digests are."""
    return frozenset(rule.kind for rule in rules() if rule.digest)


def in_digest(event) -> bool:
    """Whether ``event`` is told in a digest of the sweep, not on its own."""
    return event.actor_id is None and event.action in digest_actions()


def notified_one_by_one(event) -> bool:
    """Whether ``event`` causes notifications of its own (``plan``)."""
    return bool(rules_for(event.action)) and not in_digest(event)


@receiver(setting_changed)
def _forget_rules(setting, **kwargs):
    if setting == "NOTIFICATIONS_CHANNELS":
        rules.cache_clear()
        _rules_by_action.cache_clear()
        digest_actions.cache_clear()
        digest_kinds.cache_clear()


# --- Resolving one event -----------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    """One notification to store."""

    kind: str
    channel: str
    recipient_id: int | None
    address: str = ""


_PHONE = re.compile(r"^\+?[0-9]{5,20}$")


def clean_phone(value: str) -> str:
    """The number an SMS can go to (spaces and dashes dropped), or ""."""
    number = re.sub(r"[\s-]", "", value or "")
    return number if _PHONE.fullmatch(number) else ""


def clean_email(value: str) -> str:
    value = (value or "").strip()
    if not value:
        return ""
    try:
        validate_email(value)
    except ValidationError:
        return ""
    return value


def plan(event) -> list[Planned]:
    """The notifications ``event`` causes. Reads the case as the event's
    action left it (``event.case``); a few queries at most, none when no rule
    applies to the action."""
    found = rules_for(event.action)
    if not found or in_digest(event):
        return []
    case = event.case
    actor = event.actor_id
    wanted = {audience for rule in found for audience, channels in rule.to.items() if channels}
    people, followers = _people(case, wanted)
    if To.ISSUER in wanted and (event.payload or {}).get("issued_by"):
        people[To.ISSUER].add(event.payload["issued_by"])
    for members in people.values():
        members.discard(actor)
    contacts = _contacts(case, actor, followers) if To.CONTACTS in wanted else []

    reach_accounts = any(
        channel != INBOX
        for rule in found
        for audience, channels in rule.to.items()
        if audience != To.CONTACTS
        for channel in channels
    )
    everyone = set().union(*(people[a] for a in wanted if a != To.CONTACTS))
    details = user_details(everyone) if reach_accounts and everyone else {}

    planned: list[Planned] = []
    seen: set[tuple[str, object]] = set()

    def add(item: Planned) -> None:
        key = (item.channel, item.recipient_id or item.address.lower())
        if key not in seen:
            seen.add(key)
            planned.append(item)

    for rule in found:
        for audience, channels in rule.to.items():
            for channel in channels:
                if audience == To.CONTACTS:
                    for contact in contacts:
                        if address := address_for(channel, contact):
                            add(Planned(rule.kind, channel, None, address))
                    continue
                for pk in sorted(people[audience]):
                    if channel == INBOX:
                        add(Planned(rule.kind, channel, pk))
                    elif address := address_for(channel, details.get(pk, {})):
                        add(Planned(rule.kind, channel, pk, address))
    return planned


def address_for(channel: str, contact: Mapping[str, str]) -> str:
    if channel == EMAIL:
        return clean_email(contact.get("email", ""))
    return clean_phone(contact.get("phone", ""))


# (user id, email, phone, source of the report it came through)
Follower = tuple[int | None, str, str, str | None]


def _people(case, wanted: set[To]) -> tuple[dict[To, set[int]], list[Follower]]:
    """User ids per audience, and the case's followers when asked for: one
    query for the staff roles, one for grid workers or followers if needed."""
    people: dict[To, set[int]] = {audience: set() for audience in To}
    row = _case_row(case)
    staff = StaffAudiences([row], wanted)
    for audience in wanted & STAFF_AUDIENCES:
        people[audience] = set(staff.of(audience, row))

    if wanted & {To.REPORTER, To.CITIZEN_REPORTER} and case.reporter_id:
        people[To.REPORTER].add(case.reporter_id)
        if case.source == Source.CITIZEN:
            people[To.CITIZEN_REPORTER].add(case.reporter_id)
    followers: list[Follower] = []
    if wanted & {To.FOLLOWERS, To.CITIZEN_FOLLOWERS, To.CONTACTS}:
        followers = _followers(case.pk)
        for user_id, _email, _phone, via_source in followers:
            if user_id is not None:
                people[To.FOLLOWERS].add(user_id)
                if via_source == Source.CITIZEN:
                    people[To.CITIZEN_FOLLOWERS].add(user_id)
    return people, followers


def _followers(case_id: int) -> list[Follower]:
    return list(
        CaseFollower.objects.filter(case_id=case_id)
        .filter(Q(user__isnull=True) | Q(user__is_active=True))
        .values_list("user_id", "email", "phone", "via__source")
    )


def _contacts(case, actor: int | None, followers: list[Follower]) -> list[dict[str, str]]:
    """The contact details citizens left: the report's (unless its reporter
    is the actor) and each follower's."""
    contacts = []
    if not (actor and actor == case.reporter_id):
        contacts.append({"email": case.reporter_email, "phone": case.reporter_phone})
    for user_id, email, phone, _source in followers:
        if user_id is None or user_id != actor:
            contacts.append({"email": email, "phone": phone})
    return contacts


def user_details(user_ids: set[int]) -> dict[int, dict[str, str]]:
    return {
        pk: {"email": email, "phone": phone}
        for pk, email, phone in User.objects.filter(pk__in=user_ids).values_list(
            "pk", "email", "phone"
        )
    }


# What the staff audiences are resolved from, for one case or many.
CASE_FIELDS = ("id", "status", "department_id", "command_level", "area_path", "grid_id")
STAFF_AUDIENCES = frozenset(
    {To.HANDLERS, To.COMMAND_CENTRE, To.SUPERVISORS, To.GRID_WORKERS, To.HOLDERS}
)


def _case_row(case) -> dict:
    return {name: getattr(case, "pk" if name == "id" else name) for name in CASE_FIELDS}


class StaffAudiences:
    """The staff audiences of some cases (one event's, or a whole sweep
    run's), read in one query for the roles and one for grid workers, then
    looked up per case."""

    def __init__(self, cases, wanted: set[To]):
        cases = list(cases)
        holders = (
            {to for c in cases for to in _HOLDERS_BY_STATUS.get(c["status"], ())}
            if To.HOLDERS in wanted
            else set()
        )
        staff = wanted | holders
        self.handlers: dict[int, set[int]] = {}
        self.dispatchers: dict[int, set[int]] = {}
        self.supervisors: dict[int, set[int]] = {}
        self.grid_workers: dict[int, set[int]] = {}
        self._under: dict[str, set[int]] = {}
        departments = {c["department_id"] for c in cases if c["department_id"]}
        centres = {self._centre(c) for c in cases} - {None}
        areas = {pk for c in cases for pk in codes.path_ids(c["area_path"])}
        q = Q()
        if To.HANDLERS in staff and departments:
            q |= Q(role=Role.HANDLER, department_id__in=sorted(departments))
        if To.COMMAND_CENTRE in staff and centres:
            q |= Q(role=Role.DISPATCHER, area_id__in=sorted(centres))
        if To.SUPERVISORS in staff and areas:
            q |= Q(role=Role.SUPERVISOR, area_id__in=sorted(areas))
        if q:
            rows = RoleMembership.objects.filter(q, user__is_active=True).values_list(
                "role", "department_id", "area_id", "user_id"
            )
            for role, department_id, area_id, user_id in rows:
                if role == Role.HANDLER:
                    self.handlers.setdefault(department_id, set()).add(user_id)
                elif role == Role.DISPATCHER:
                    self.dispatchers.setdefault(area_id, set()).add(user_id)
                else:
                    self.supervisors.setdefault(area_id, set()).add(user_id)
        if To.GRID_WORKERS in staff:
            grids = sorted({c["grid_id"] for c in cases})
            for grid_id, user_id in GridAssignment.objects.filter(
                assigned_on(timezone.localdate()),
                grid_id__in=grids,
                user__is_active=True,
                user__roles__role=Role.GRID_WORKER,
            ).values_list("grid_id", "user_id"):
                self.grid_workers.setdefault(grid_id, set()).add(user_id)

    @staticmethod
    def _centre(case: dict) -> int | None:
        path = codes.path_ids(case["area_path"])
        level = case["command_level"]
        return path[level - 1] if 0 < level <= len(path) else None

    def of(self, audience: To, case: dict, issued_by: int | None = None) -> set[int]:
        if audience == To.HOLDERS:
            holders = _HOLDERS_BY_STATUS.get(case["status"], ())
            return set().union(*(self.of(to, case, issued_by) for to in holders))
        if audience == To.HANDLERS:
            return self.handlers.get(case["department_id"], set())
        if audience == To.COMMAND_CENTRE:
            return self.dispatchers.get(self._centre(case), set())
        if audience == To.GRID_WORKERS:
            return self.grid_workers.get(case["grid_id"], set())
        if audience == To.SUPERVISORS:
            path = case["area_path"]
            if path not in self._under:
                self._under[path] = set().union(
                    *(self.supervisors.get(pk, ()) for pk in codes.path_ids(path))
                )
            return self._under[path]
        if audience == To.ISSUER:
            return {issued_by} if issued_by else set()
        return set()
