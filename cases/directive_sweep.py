"""The deadline sweep's last step: reminders and supervision orders
(``CaseDirective``) still open past their own deadline are marked overdue
(``overdue_at``, found through their own partial index), with one
``directive_overdue`` event each. The case itself is not changed.

Like the lights (cases.sweep), in batches, each one transaction that locks
its rows with ``FOR UPDATE SKIP LOCKED``: a marked directive no longer
matches, and each event's key names its directive, so a second run or a
second sweep at once records nothing twice.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from .bulk_events import CASE_FIELDS, record_events
from .models import CaseDirective, CaseEvent


def directives_sweep_batch(*, now: dt.datetime, batch: int) -> list[CaseEvent]:
    """Mark up to ``batch`` open directives past their deadline overdue;
    the events recorded, one per directive (fewer than ``batch``: none left)."""
    with transaction.atomic():
        directives = list(
            CaseDirective.objects.filter(
                settled_at__isnull=True, overdue_at__isnull=True, due_at__lte=now
            )
            .order_by("due_at")
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("case")
            .only("id", "kind", "due_at", "issued_by_id", *(f"case__{f}" for f in CASE_FIELDS))[
                :batch
            ]
        )
        if not directives:
            return []
        CaseDirective.objects.filter(pk__in=[d.pk for d in directives]).update(overdue_at=now)
        events = []
        for directive in directives:
            case = directive.case
            events.append(
                CaseEvent(
                    case=case,
                    action="directive_overdue",
                    from_status=case.status,
                    to_status=case.status,
                    payload={
                        "directive": directive.pk,
                        "kind": directive.kind,
                        "due_at": directive.due_at,
                        "issued_by": directive.issued_by_id,
                    },
                    dedupe_key=f"directive_overdue:{directive.pk}",
                    created_at=now,
                )
            )
        record_events(events)
        return events
