"""The one way case events leave the process.

Services call ``publish_on_commit`` with each event they record. The message
is built inside the transaction, from the case as that transaction leaves
it, and sent only once the transaction commits: a rolled-back action publishes
nothing. Receivers of ``case_event_committed`` (live updates, notifications)
run after commit; an error in one is logged and never reaches the action
that caused it, which has already happened.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.dispatch import Signal

from .models import CaseEvent

logger = logging.getLogger(__name__)

MESSAGE_VERSION = 1

# Sent once per committed event with ``message`` (a dict, see event_message).
case_event_committed = Signal()


def event_message(event: CaseEvent) -> dict:
    case = event.case
    return {
        "version": MESSAGE_VERSION,
        "event_id": event.id,
        "action": event.action,
        "case_id": case.pk,
        "case_number": case.number,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "actor_id": event.actor_id,
        "at": event.created_at.isoformat(),
        "status": case.status,
        "light": case.light,
        "department_id": case.department_id,
        "area_path": case.area_path,
        "grid_id": case.grid_id,
        "command_level": case.command_level,
    }


def publish(message: dict) -> None:
    for receiver, result in case_event_committed.send_robust(sender=CaseEvent, message=message):
        if isinstance(result, Exception):
            logger.error(
                "publishing case event %s through %r failed: %r",
                message["event_id"],
                receiver,
                result,
                exc_info=result,
            )


def publish_on_commit(event: CaseEvent) -> None:
    message = event_message(event)
    transaction.on_commit(lambda: publish(message))
