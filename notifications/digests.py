"""The sweep's digests: who hears of a run of the deadline sweep, and how
often. After each run, every person its events reach gets one notification
per kind and channel, counting the events that reached them; the audiences
come from the same rules as an event's own notifications
(notifications.rules: ``digest=True`` rules, staff audiences and the
issuer), with the people of all the run's cases found in a few set-based
queries (``StaffAudiences``)."""

from __future__ import annotations

from dataclasses import dataclass

from cases.models import Case

from .rules import (
    CASE_FIELDS,
    INBOX,
    StaffAudiences,
    address_for,
    digest_actions,
    rules_for,
    user_details,
)


@dataclass(frozen=True)
class Swept:
    """One event of the sweep, as a digest reads it."""

    case_id: int
    action: str
    issued_by: int | None = None


@dataclass(frozen=True)
class PlannedDigest:
    """One digest to store: ``count`` events of ``kind`` reached the recipient."""

    kind: str
    channel: str
    recipient_id: int
    count: int
    address: str = ""


def plan_digest(events: list[Swept]) -> list[PlannedDigest]:
    """The digests a run of the sweep causes: per person, kind and channel,
    how many of ``events`` reached them (each event counted once per person,
    whichever audiences reached them). Reads the cases as they are now, and
    the people of all of them in one query per audience."""
    counts: dict[tuple[str, str, int], int] = {}
    cases = _cases({event.case_id for event in events})
    found = {action: [r for r in rules_for(action) if r.digest] for action in digest_actions()}
    wanted = {a for rules_ in found.values() for r in rules_ for a, ch in r.to.items() if ch}
    people = StaffAudiences(cases.values(), wanted)
    for event in events:
        case = cases.get(event.case_id)
        if case is None:
            continue
        for rule in found.get(event.action, ()):
            reached: dict[str, set[int]] = {}
            for audience, channels in rule.to.items():
                if not channels:
                    continue
                members = people.of(audience, case, event.issued_by)
                for channel in channels:
                    reached.setdefault(channel, set()).update(members)
            for channel, members in reached.items():
                for pk in members:
                    key = (rule.kind, channel, pk)
                    counts[key] = counts.get(key, 0) + 1
    outgoing = {pk for (_kind, channel, pk) in counts if channel != INBOX}
    details = user_details(outgoing) if outgoing else {}
    planned = []
    for (kind, channel, pk), count in sorted(counts.items()):
        if channel == INBOX:
            planned.append(PlannedDigest(kind, channel, pk, count))
        elif address := address_for(channel, details.get(pk, {})):
            planned.append(PlannedDigest(kind, channel, pk, count, address))
    return planned


def _cases(ids: set[int]) -> dict[int, dict]:
    rows = Case.objects.filter(pk__in=sorted(ids)).values(*CASE_FIELDS)
    return {row["id"]: row for row in rows}
