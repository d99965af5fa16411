"""Notifications are stored as part of the action that caused them.

``case_event_recorded`` is sent inside the action's transaction, right after
the event is inserted. The notifications are written there too, so they
commit and roll back with the action, but in a savepoint, and any error is
logged and swallowed: an action must never fail because of its
notifications. (Without the savepoint, a failed statement would leave the
whole transaction aborted and the action could not commit.) The savepoint is
only taken for actions some rule applies to.

This runs while the transaction holds the lock that orders event ids by
commit (cases migration 0006), so it stays cheap: a few indexed queries and
one insert per event (notifications.rules.plan).

The deadline sweep's own events are the exception: they are told in one
digest per person once the run is over (``sweep_finished``), in a
transaction of its own, after the run's batches have committed.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.dispatch import receiver

from cases.publishing import case_event_recorded, sweep_finished

from . import rules, services

logger = logging.getLogger(__name__)


@receiver(case_event_recorded, dispatch_uid="notifications.store")
def store_notifications(sender, event, **kwargs) -> None:
    try:
        if not rules.notified_one_by_one(event):
            return
        with transaction.atomic():
            services.notifications_for_event(event)
    except Exception:
        logger.exception(
            "notifications of event %s (%s on case %s) were not stored",
            event.pk,
            event.action,
            event.case_id,
        )


@receiver(sweep_finished, dispatch_uid="notifications.sweep_digest")
def store_sweep_digest(sender, result, **kwargs) -> None:
    try:
        services.sweep_digest()
    except Exception:
        logger.exception("the digests of the deadline sweep were not stored")
