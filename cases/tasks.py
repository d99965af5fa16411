"""Celery tasks of the case workflow."""

from __future__ import annotations

import logging

from celery import shared_task

from . import holidays, photo_orphans, photos, sweep

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def sla_sweep() -> dict:
    """Run every minute by beat; safe to run twice or on two workers at once
    (a run that starts while another is going stops at once)."""
    result = sweep.sla_sweep()
    summary = {
        "yellow": result.yellow,
        "red": result.red,
        "escalated": result.escalated,
        "supervised": result.supervised,
        "directives_overdue": result.directives_overdue,
        "skipped": result.skipped,
    }
    if result.yellow or result.red or result.directives_overdue:
        logger.info("deadline sweep: %s", summary)
    return summary


@shared_task(ignore_result=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def make_thumbnails(attachment_ids: list[int]) -> int:
    """Make the thumbnails of new photos (queued after the commit that stored them)."""
    return photos.make_missing_thumbnails(ids=attachment_ids)


@shared_task(ignore_result=True)
def thumbnail_catch_up() -> int:
    """Periodic: thumbnails whose task was lost (a broker outage at commit)."""
    made = photos.make_missing_thumbnails(older_than_seconds=60)
    if made:
        logger.info("made %s missing thumbnails", made)
    return made


@shared_task(ignore_result=True)
def photo_orphan_cleanup() -> int:
    """Daily: delete photo files no case refers to (see cases.photo_orphans)."""
    return len(photo_orphans.remove_orphan_photos())


@shared_task(ignore_result=True)
def calendar_load() -> dict:
    """Every six hours: store each year from its best source, so that a year the State
    Council published (and an upgraded package has) replaces its provisional
    days, and the open deadlines in it move."""
    loaded = holidays.calendar_load()
    if loaded:
        logger.info("working calendar loaded: %s", loaded)
    return {str(year): source for year, source in loaded.items()}
