"""The one way case events leave the process.

Services call ``publish_on_commit`` with each event they record:

* ``case_event_recorded`` is sent at once, inside the action's transaction,
  with the event: receivers write what must commit or roll back with the
  action (the notification inbox);
* (``publish_many_on_commit`` does the same for many events at once, the
  deadline sweep's batches, and sends them after commit in one
  ``case_events_committed``);
* the message (``event_message``, documented in docs/events.md) is built
  inside the transaction, from the case as that transaction leaves it, and
  ``case_event_committed`` is sent only once the transaction commits, with
  the message, the event's audience (``cases.audience``) and the live
  connection that caused it (``origin``), so that client can be spared its
  own echo. A rolled-back action publishes nothing. Receivers of
  ``case_event_committed`` (the live push) run after commit; an error in one is
  logged and never reaches the action that caused it, which has already
  happened.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction
from django.dispatch import Signal

from .models import CaseEvent

logger = logging.getLogger(__name__)

MESSAGE_VERSION = 1
MESSAGE_TYPE = "case.event"

# Sent inside the transaction with ``event`` (a saved CaseEvent).
case_event_recorded = Signal()
# Sent once per committed event with ``message`` (a dict, see event_message),
# ``groups`` (the audience) and ``origin`` (a live connection id, or "").
case_event_committed = Signal()
# Sent once per committed batch of events published together
# (``publish_many_on_commit``, the deadline sweep's batches) with ``messages``,
# a list of (message, groups, origin): the same messages as
# ``case_event_committed`` carries, for receivers to send in one go.
case_events_committed = Signal()
# Sent by the deadline sweep once a run has committed its batches, with
# ``result`` (cases.sweep.SweepResult): people hear of a run's events in one
# digest (notifications), not one notification per event.
sweep_finished = Signal()

# The live connection whose request is being served (see
# notifications.middleware): its own events are not pushed back to it.
_origin: ContextVar[str] = ContextVar("publishing_origin", default="")


@contextmanager
def origin(connection_id: str):
    token = _origin.set(connection_id)
    try:
        yield
    finally:
        _origin.reset(token)


def event_message(event: CaseEvent) -> dict:
    case = event.case
    return {
        "type": MESSAGE_TYPE,
        "version": MESSAGE_VERSION,
        "id": event.id,
        "action": event.action,
        "at": event.created_at.isoformat(),
        "actor_id": event.actor_id,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "case_id": case.pk,
        "case_number": case.number,
        "case_version": case.version,
        "status": case.status,
        "light": case.light,
        "due_at": case.due_at.isoformat() if case.due_at else None,
        "department_id": case.department_id,
        "command_level": case.command_level,
        "grid_id": case.grid_id,
        "area_path": case.area_path,
    }


def publish(message: dict, groups: list[str], origin: str = "") -> None:
    for receiver, result in case_event_committed.send_robust(
        sender=CaseEvent, message=message, groups=groups, origin=origin
    ):
        if isinstance(result, Exception):
            logger.error(
                "publishing case event %s through %r failed: %r",
                message["id"],
                receiver,
                result,
                exc_info=result,
            )


def publish_many(messages: list[tuple[dict, list[str], str]]) -> None:
    for receiver, result in case_events_committed.send_robust(sender=CaseEvent, messages=messages):
        if isinstance(result, Exception):
            logger.error(
                "publishing %s case events through %r failed: %r",
                len(messages),
                receiver,
                result,
                exc_info=result,
            )


def publish_many_on_commit(events: list[CaseEvent]) -> None:
    """``publish_on_commit`` for many events of one transaction: recorded one
    by one, but sent after commit in one go (``case_events_committed``)."""
    source = _origin.get()
    messages = [(event_message(event), list(event.audience), source) for event in events]
    transaction.on_commit(lambda: publish_many(messages))
    for event in events:
        case_event_recorded.send(sender=CaseEvent, event=event)


def publish_on_commit(event: CaseEvent) -> None:
    message = event_message(event)
    groups = list(event.audience)
    source = _origin.get()
    # Registered first, so the event goes out before what its receivers
    # queue after commit (the inbox pushes).
    transaction.on_commit(lambda: publish(message, groups, source))
    case_event_recorded.send(sender=CaseEvent, event=event)
