"""Photo files no row refers to (written by a transaction that rolled back)
are deleted once a day old; referenced files and fresh files are kept."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.db import transaction
from django.utils import timezone

from cases import services, tasks
from cases.models import CaseAttachment
from cases.photo_orphans import remove_orphan_photos
from cases.photos import make_missing_thumbnails
from tests.api.images import media_files
from tests.cases.conftest import jpeg, report

pytestmark = pytest.mark.django_db

LATER = dt.timedelta(days=1, minutes=1)


class RolledBack(Exception):
    pass


@pytest.fixture(autouse=True)
def _own_media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def report_rolled_back(world) -> set[str]:
    """A report with a photo inside a transaction that then rolls back; the
    files it left behind."""
    before, rows = media_files(), CaseAttachment.objects.count()
    with pytest.raises(RolledBack), transaction.atomic():
        report(world, photos=[jpeg()])
        raise RolledBack
    assert CaseAttachment.objects.count() == rows
    return media_files() - before


def test_a_rolled_back_photo_is_removed_once_a_day_old(world):
    left = report_rolled_back(world)
    assert len(left) == 1  # written inside the transaction, which knew nothing of it

    # Younger than a day: perhaps a transaction still open, so kept.
    assert remove_orphan_photos() == []
    assert media_files() == left

    assert remove_orphan_photos(now=timezone.now() + LATER) == sorted(left)
    assert media_files() == set()


def test_referenced_photos_and_thumbnails_are_never_removed(world):
    case = report(world, photos=[jpeg(), jpeg()])
    services.case_comment(case=case.pk, actor=world.dispatcher, text="note", photos=[jpeg()])
    make_missing_thumbnails()
    kept = media_files()
    assert len(kept) == 6  # three photos, three thumbnails
    orphans = report_rolled_back(world)

    removed = remove_orphan_photos(now=timezone.now() + dt.timedelta(days=400))

    assert removed == sorted(orphans)
    assert media_files() == kept
    names = set(CaseAttachment.objects.values_list("file", flat=True))
    names |= set(CaseAttachment.objects.values_list("thumbnail", flat=True))
    assert names == kept


def test_the_daily_task_removes_old_orphans_only(world, settings):
    old = report_rolled_back(world)
    a_day_ago = (timezone.now() - LATER).timestamp()
    for name in old:
        os.utime(os.path.join(settings.MEDIA_ROOT, name), (a_day_ago, a_day_ago))
    fresh = report_rolled_back(world)

    assert tasks.photo_orphan_cleanup() == 1

    assert media_files() == fresh


def test_nothing_stored_yet_is_nothing_to_do(world):
    assert remove_orphan_photos(now=timezone.now() + LATER) == []
