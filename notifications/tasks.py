"""Celery tasks of the notifications: delivery of emails and SMS."""

from __future__ import annotations

import logging

from celery import shared_task

from . import delivery, services

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def deliver(notification_ids: list[int]) -> dict:
    """Send these emails and SMS (queued once the action that caused them
    committed). Safe to run twice: a sent notification is not sent again."""
    result = delivery.deliver(notification_ids)
    return {"sent": result.sent, "failed": result.failed}


@shared_task(ignore_result=True)
def deliver_catch_up() -> dict:
    """Periodic (beat): emails and SMS whose task was lost or whose delivery
    failed, a bounded number of attempts each."""
    result = delivery.deliver_overdue()
    if result.sent or result.failed:
        logger.info("notification catch-up: %s sent, %s failed", result.sent, result.failed)
    return {"sent": result.sent, "failed": result.failed}


@shared_task(ignore_result=True)
def provisional_calendar_notice() -> int:
    """Daily: from 1 October, tell the administrators once that next year's
    working calendar is only provisional (safe to run again)."""
    return services.notify_provisional_calendar()
