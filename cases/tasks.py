"""Celery tasks of the case workflow."""

from __future__ import annotations

import logging

from celery import shared_task

from . import sweep

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def sla_sweep() -> dict:
    """Run every minute by beat; safe to run twice or on two workers at once."""
    result = sweep.sla_sweep()
    summary = {
        "yellow": result.yellow,
        "red": result.red,
        "escalated": result.escalated,
        "supervised": result.supervised,
    }
    if result.yellow or result.red:
        logger.info("deadline sweep: %s", summary)
    return summary
