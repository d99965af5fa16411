"""Photo files that no row refers to, deleted once they are a day old.

A photo is written to storage inside the transaction that records it (its
checks and re-encoding must refuse the request before anything commits, and
the row must name a file that exists). An action that fails deletes what it
wrote (``services.steps.files_removed_on_failure``); what is left by an enclosing
transaction that rolled back, or by a process that died before commit, is
found here: files under the photo folders that neither ``file`` nor
``thumbnail`` of any attachment names, older than PHOTOS_ORPHAN_MIN_AGE
(far longer than any transaction lasts). Works with any storage that lists
(``listdir``) and dates (``get_modified_time``) its files: the file system and
S3-compatible buckets.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import Q
from django.utils import timezone

from .models import CaseAttachment

logger = logging.getLogger(__name__)

BATCH = 500


def photo_root() -> str:
    """The folder every photo and thumbnail is stored under ("cases")."""
    return CaseAttachment._meta.get_field("file").upload_to.split("/", 1)[0]


def _stored_names(storage, folder: str) -> Iterator[str]:
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in sorted(files):
        yield f"{folder}/{name}"
    for sub in sorted(folders):
        yield from _stored_names(storage, f"{folder}/{sub}")


def _batches(names: Iterator[str]) -> Iterator[list[str]]:
    batch = []
    for name in names:
        batch.append(name)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def remove_orphan_photos(*, now: dt.datetime | None = None, storage=None) -> list[str]:
    """Delete photo files older than PHOTOS_ORPHAN_MIN_AGE that no attachment
    names; return their names."""
    storage = storage or default_storage
    cutoff = (now or timezone.now()) - dt.timedelta(seconds=settings.PHOTOS_ORPHAN_MIN_AGE)
    removed = []
    for batch in _batches(_stored_names(storage, photo_root())):
        referenced = set()
        for file, thumbnail in CaseAttachment.objects.filter(
            Q(file__in=batch) | Q(thumbnail__in=batch)
        ).values_list("file", "thumbnail"):
            referenced.update((file, thumbnail))
        for name in batch:
            if name in referenced:
                continue
            try:
                if storage.get_modified_time(name) >= cutoff:
                    continue  # perhaps a transaction still open: its row may yet commit
                storage.delete(name)
            except FileNotFoundError:
                continue
            removed.append(name)
    if removed:
        logger.info("deleted %s photo files no case refers to", len(removed))
    return removed
