"""The events of a batch that no one acted (the deadline sweep, a calendar
change), stored in one statement and published after commit in one go.

An event made here has no actor and keeps its case's status; a unique
``dedupe_key`` per event (the crossing, or the directive, it records) keeps
a second run from storing it twice, and tells the inserted rows apart.
"""

from __future__ import annotations

import json

from django.db import connection

from .audience import audience, involved
from .models import Case, CaseEvent
from .publishing import publish_many_on_commit

# What a batch reads of each case: what its events' audience and live message
# need, and the deadline fields the sweep moves.
DEADLINE_FIELDS = (
    "stage", "stage_seq", "stage_unit", "stage_clock", "stage_started_at", "stage_limit",
    "stage_paused", "yellow_at", "due_at", "light", "suspended_at",
)  # fmt: skip
CASE_FIELDS = (
    "id", "number", "status", "category_id", "urgency", "department_id", "area_path", "grid_id",
    "command_level", "is_supervised", "version", "overdue_count", "reporter_id",
    *DEADLINE_FIELDS,
)  # fmt: skip


def stage_event(case: Case, action: str, now, key: str, **payload) -> CaseEvent:
    """An event about the case's current stage, keyed by ``key`` and the stage."""
    # The audience is set when the batch is written: an escalation moves the
    # case to another command level after its event is made.
    return CaseEvent(
        case=case,
        action=action,
        from_status=case.status,
        to_status=case.status,
        payload=payload,
        dedupe_key=f"{key}:{case.pk}:{case.stage_seq}",
        created_at=now,
    )


def record_events(events: list[CaseEvent]) -> None:
    """Store the events of a batch with their audience, and publish them after commit."""
    people = involved({event.case.pk for event in events})
    for event in events:
        users, departments = people[event.case.pk]
        event.audience = audience(event.case, users=users, departments=departments)
    insert_events(events)
    publish_many_on_commit(events)


# A batch's events in one statement, one array per column (a multi-row
# VALUES of thousands of rows costs more to build and parse than to run).
_INSERT_EVENTS_SQL = """
INSERT INTO cases_caseevent (
    case_id, action, actor_id, actor_role, from_status, to_status, payload, audience,
    dedupe_key, created_at
)
SELECT v.case_id, v.action, NULL, '', v.from_status, v.to_status, v.payload::jsonb,
       string_to_array(v.audience, ' ')::varchar(32)[], v.dedupe_key, v.created_at
FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
            %s::text[], %s::timestamptz[])
     WITH ORDINALITY AS v(case_id, action, from_status, to_status, payload, audience,
                          dedupe_key, created_at, n)
ORDER BY v.n
RETURNING id, dedupe_key
"""


def insert_events(events: list[CaseEvent]) -> None:
    """Insert the events and give each its id: they are told apart by their
    dedupe keys, which every event of a batch has."""
    if any(not e.dedupe_key for e in events):
        raise ValueError("every event of a batch needs its dedupe key")
    encoder = CaseEvent._meta.get_field("payload").encoder
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_EVENTS_SQL,
            [
                [e.case.pk for e in events],
                [e.action for e in events],
                [e.from_status for e in events],
                [e.to_status for e in events],
                [json.dumps(e.payload, cls=encoder) for e in events],
                [" ".join(e.audience) for e in events],
                [e.dedupe_key for e in events],
                [e.created_at for e in events],
            ],
        )
        ids = dict((key, pk) for pk, key in cursor.fetchall())
    for event in events:
        event.pk = ids[event.dedupe_key]
        event._state.adding = False
        event._state.db = connection.alias
