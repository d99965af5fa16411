"""The photo pipeline through the API and the services: accepted by content
(JPEG, PNG, HEIC), the camera's GPS and time read and kept for staff, stored
upright without any metadata, refused whole (nothing stored) when any photo is
bad, files removed when the action fails after writing them, thumbnails made
after commit (and later when queuing fails), and the photo hints endpoint."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError
from django.test import override_settings
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from cases import services, tasks
from cases.errors import CaseInputError
from cases.models import AttachmentKind, Case, CaseAttachment, CaseEvent, Source, Status
from cases.photos import THUMBNAIL_EDGE, prepare_photo
from cases.services import steps
from tests.api.helpers import Stored, client_for, error
from tests.api.images import (
    BLUE,
    GPS_IN_G1,
    GPS_OUTSIDE,
    RED,
    TAKEN_LOCAL,
    assert_no_metadata,
    camera_exif,
    encode,
    noise,
    phone_photo,
    plain_jpeg,
    png_bomb,
    served,
    stored_path,
    two_tone,
    upload,
)
from tests.cases.conftest import G1, IN_G1, case_in, jpeg

pytestmark = pytest.mark.django_db

CASES = "/api/v1/cases/"
HINTS = "/api/v1/photos/hints/"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def file_case(world, photos, **fields):
    """A grid worker's report through the API (multipart)."""
    data = {"category": "BJ0101", "description": "井盖缺失", "photos": photos}
    data.setdefault("lng", IN_G1[0])
    data.setdefault("lat", IN_G1[1])
    data.update(fields)
    data = {k: v for k, v in data.items() if v is not None}
    return client_for(world.grid_worker).post(CASES, data, format="multipart")


def assert_red_on_top(image: Image.Image):
    """Turned upright by orientation 6: the photo's left (red) half is on top."""
    width, height = image.size
    top = image.convert("RGB").getpixel((width // 2, height // 8))
    bottom = image.convert("RGB").getpixel((width // 2, height - 1 - height // 8))
    assert all(abs(a - b) < 40 for a, b in zip(top, RED, strict=True)), top
    assert all(abs(a - b) < 40 for a, b in zip(bottom, BLUE, strict=True)), bottom


# --- Accepted by content, stored upright without metadata --------------------------------


@pytest.mark.parametrize(
    ("fmt", "stored_format", "extension"),
    [("JPEG", "JPEG", ".jpg"), ("PNG", "PNG", ".png"), ("HEIF", "JPEG", ".jpg")],
)
def test_a_phone_photo_is_stored_upright_without_metadata(world, fmt, stored_format, extension):
    response = file_case(world, [phone_photo(fmt)])

    assert response.status_code == 201, response.content
    (photo,) = response.json()["photos"]
    attachment = CaseAttachment.objects.get()
    assert attachment.file.name.endswith(extension)
    stored = assert_no_metadata(stored_path(attachment.file.name))
    assert stored.format == stored_format
    # 80 x 40 with orientation 6 is a 40 x 80 portrait once upright.
    assert stored.size == (40, 80)
    assert_red_on_top(stored)
    assert (attachment.width, attachment.height) == (40, 80)
    assert attachment.source_format == fmt
    assert attachment.kind == AttachmentKind.REPORT
    assert len(attachment.sha256) == 64
    # The camera's GPS and time are kept on the attachment for staff.
    assert attachment.taken_at == dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=SHANGHAI)
    assert attachment.taken_location.x == pytest.approx(GPS_IN_G1[0], abs=1e-6)
    assert attachment.taken_location.y == pytest.approx(GPS_IN_G1[1], abs=1e-6)
    assert photo["source_format"] == fmt
    assert (photo["width"], photo["height"]) == (40, 80)
    assert photo["taken_at"] == TAKEN_LOCAL
    assert photo["taken_location"] == {
        "lng": pytest.approx(GPS_IN_G1[0], abs=1e-6),
        "lat": pytest.approx(GPS_IN_G1[1], abs=1e-6),
    }
    assert photo["url"] == f"http://testserver/api/v1/photos/{attachment.pk}/original/"
    stored_bytes = stored_path(attachment.file.name).read_bytes()
    assert served(client_for(world.grid_worker), photo["url"]) == stored_bytes


def test_the_staff_detail_shows_where_and_when_the_photo_was_taken(world):
    case_id = file_case(world, [phone_photo("HEIF")]).json()["id"]

    detail = client_for(world.dispatcher).get(f"{CASES}{case_id}/").json()

    (photo,) = detail["photos"]
    assert photo["taken_at"] == TAKEN_LOCAL
    assert photo["taken_location"]["lng"] == pytest.approx(GPS_IN_G1[0], abs=1e-6)
    assert photo["taken_location"]["lat"] == pytest.approx(GPS_IN_G1[1], abs=1e-6)
    assert photo["source_format"] == "HEIF"
    assert served(client_for(world.dispatcher), photo["url"])[:2] == b"\xff\xd8"  # a JPEG
    (reported,) = detail["events"]
    assert [p["id"] for p in reported["photos"]] == [photo["id"]]


def test_the_camera_time_offset_is_respected(world):
    response = file_case(world, [phone_photo("JPEG", offset="+02:00")])

    assert response.status_code == 201, response.content
    # 07:08:09 at +02:00 is 13:08:09 in Shanghai.
    assert response.json()["photos"][0]["taken_at"] == "2024-05-06T13:08:09+08:00"


def test_a_photo_without_exif_has_no_time_or_place(world):
    response = file_case(world, [plain_jpeg()])

    assert response.status_code == 201, response.content
    (photo,) = response.json()["photos"]
    assert photo["taken_at"] is None and photo["taken_location"] is None
    assert (photo["width"], photo["height"]) == (64, 48)


def test_a_png_named_jpg_is_taken_for_what_it_is(world):
    data = encode(two_tone(), "PNG")
    response = file_case(world, [upload(data, "holiday.jpg", "image/jpeg")])

    assert response.status_code == 201, response.content
    attachment = CaseAttachment.objects.get()
    assert attachment.source_format == "PNG"
    assert attachment.file.name.endswith(".png")
    # Stored under a random name: the upload's name can say who or when.
    assert "holiday" not in attachment.file.name
    assert Image.open(stored_path(attachment.file.name)).format == "PNG"
    # No orientation given: stored as it was.
    assert (attachment.width, attachment.height) == (80, 40)


def test_a_jpeg_from_a_phone_with_a_second_picture_is_a_jpeg(world):
    """Many phones write MPO: a JPEG with a second picture (depth map, HDR gain
    map) after the first. Every viewer shows it as the JPEG it is; Pillow names
    its format "MPO"."""
    data = encode(two_tone(), "MPO", save_all=True, append_images=[two_tone()], exif=camera_exif())
    assert data[:3] == b"\xff\xd8\xff"  # a JPEG by content

    response = file_case(world, [upload(data, "IMG_0002.jpg")])

    assert response.status_code == 201, response.content
    attachment = CaseAttachment.objects.get()
    stored = assert_no_metadata(stored_path(attachment.file.name))
    assert stored.format == "JPEG" and stored.size == (40, 80)


def test_a_jpeg_comment_is_not_stored(world):
    """The module promises no comments: a JPEG COM segment (cameras and editors
    write serial numbers and owner names there) must not survive re-encoding."""
    data = encode(two_tone(), "JPEG", comment=b"Owner: Zhang San, serial SN-0042")

    response = file_case(world, [upload(data)])

    assert response.status_code == 201, response.content
    path = stored_path(CaseAttachment.objects.get().file.name)
    assert b"Zhang San" not in path.read_bytes()
    assert "comment" not in Image.open(path).info


# --- Refused, and nothing stored -------------------------------------------------------


def _truncated(fmt: str) -> bytes:
    data = encode(noise(), fmt)
    return data[: len(data) // 2]


REFUSED = {
    "text named photo.jpg": (lambda: b"just some text, not a photo\n" * 20, "photo_invalid"),
    "pdf named photo.jpg": (lambda: b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "photo_invalid"),
    "truncated JPEG": (lambda: _truncated("JPEG"), "photo_invalid"),
    "truncated PNG": (lambda: _truncated("PNG"), "photo_invalid"),
    "truncated HEIC": (lambda: _truncated("HEIF"), "photo_invalid"),
    "GIF": (lambda: encode(noise((40, 30)), "GIF"), "photo_format"),
    "BMP": (lambda: encode(noise((40, 30)), "BMP"), "photo_format"),
    "TIFF": (lambda: encode(noise((40, 30)), "TIFF"), "photo_format"),
    "WebP": (lambda: encode(noise((40, 30)), "WEBP"), "photo_format"),
    # 400 million pixels in a few kilobytes: refused for its header.
    "PNG bomb 20000x20000": (lambda: png_bomb(20000, 20000), "photo_too_many_pixels"),
    # 64 million pixels: below Pillow's own alarm, above the project's 50 million.
    "PNG of 8000x8000": (lambda: png_bomb(8000, 8000), "photo_too_many_pixels"),
}


@pytest.mark.parametrize("kind", list(REFUSED))
def test_a_bad_photo_is_refused_naming_the_field_and_nothing_is_stored(world, kind):
    make, code = REFUSED[kind]
    data = make()
    if kind.startswith("PNG"):
        assert len(data) < 200_000  # the bomb itself is small
    before = Stored()

    response = file_case(world, [plain_jpeg("good.jpg"), upload(data, "photo.jpg")])

    body = error(response, 400, code)
    assert list(body["fields"]) == ["photos"]
    assert "photo.jpg" in body["fields"]["photos"][0]
    before.assert_unchanged()


def test_the_bomb_is_refused_by_the_service_before_decoding(world):
    with pytest.raises(CaseInputError) as refused:
        prepare_photo(upload(png_bomb(20000, 20000), "bomb.png"), field="photos")
    assert refused.value.code == "photo_too_many_pixels"
    assert refused.value.field == "photos"
    assert "50 million" in refused.value.message


@override_settings(CASES_PHOTO_MAX_BYTES=4000)
def test_a_file_over_the_size_limit_is_refused(world):
    big = upload(encode(noise((120, 90)), "JPEG", quality=95), "huge.jpg")
    assert big.size > 4000
    before = Stored()

    body = error(file_case(world, [big]), 400, "photo_too_large")

    assert "huge.jpg" in body["fields"]["photos"][0]
    before.assert_unchanged()


@override_settings(CASES_PHOTO_MAX_BYTES=4000)
def test_a_file_of_unknown_size_is_measured_by_reading(world):
    data = encode(noise((120, 90)), "JPEG", quality=95)
    big = upload(data, "huge.jpg")
    big.size = None  # a stream that does not say how long it is

    with pytest.raises(CaseInputError) as refused:
        prepare_photo(big)
    assert refused.value.code == "photo_too_large"


@override_settings(CASES_PHOTO_MAX_PIXELS=1000)
def test_a_photo_over_the_pixel_limit_is_refused(world):
    before = Stored()

    body = error(file_case(world, [plain_jpeg(size=(64, 48))]), 400, "photo_too_many_pixels")

    assert "photos" in body["fields"]
    before.assert_unchanged()


def test_at_most_nine_photos(world):
    before = Stored()

    body = error(file_case(world, [plain_jpeg(f"p{i}.jpg") for i in range(10)]), 400, "invalid")

    assert list(body["fields"]) == ["photos"]
    before.assert_unchanged()
    response = file_case(world, [plain_jpeg(f"p{i}.jpg") for i in range(9)])
    assert response.status_code == 201, response.content
    assert len(response.json()["photos"]) == 9
    assert len(before.new_files()) == 9


def test_the_service_refuses_ten_photos_itself(world):
    before = Stored()
    with pytest.raises(CaseInputError) as refused:
        services.case_report(
            reporter=world.grid_worker,
            source=Source.GRID_WORKER,
            description="x",
            lng=IN_G1[0],
            lat=IN_G1[1],
            photos=[plain_jpeg(f"p{i}.jpg") for i in range(10)],
        )
    assert refused.value.code == "too_many_photos" and refused.value.field == "photos"
    before.assert_unchanged()


# --- A failure after the files were written removes them --------------------------------


@pytest.fixture
def attach_then_fail(monkeypatch):
    """Call it to make ``steps.attach`` store the photos, then fail the action in its
    transaction; it returns the names of the files that were written."""

    def arm() -> list[str]:
        original = steps.attach
        written = []

        def failing(case, event, photos, kind, actor):
            attachments = original(case, event, photos, kind, actor)
            written.extend(a.file.name for a in attachments)
            if attachments:
                raise RuntimeError("the disk is fine, the next step is not")
            return attachments

        monkeypatch.setattr(steps, "attach", failing)
        return written

    return arm


def test_a_report_failing_after_its_photos_were_written_leaves_no_file(world, attach_then_fail):
    written = attach_then_fail()
    before = Stored()

    with pytest.raises(RuntimeError):
        services.case_report(
            reporter=world.grid_worker,
            source=Source.GRID_WORKER,
            description="x",
            lng=IN_G1[0],
            lat=IN_G1[1],
            photos=[plain_jpeg("a.jpg"), phone_photo("HEIF")],
        )

    assert len(written) == 2  # they were written ...
    before.assert_unchanged()  # ... and removed with the rolled-back case


def _report_back(world, case, photos):
    return services.case_report_back(case=case, actor=world.handler, note="修好了", photos=photos)


def _inspect(world, case, photos):
    return services.case_inspect(
        case=case, actor=world.grid_worker, passed=False, note="还没修好", photos=photos
    )


def _comment(world, case, photos):
    return services.case_comment(case=case, actor=world.supervisor, text="看看", photos=photos)


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (Status.IN_PROGRESS, _report_back),
        (Status.HANDLED, _inspect),
        (Status.IN_PROGRESS, _comment),
    ],
    ids=["report_back", "inspect", "comment"],
)
def test_an_action_failing_after_its_photos_were_written_leaves_no_file(
    world, attach_then_fail, status, action
):
    case = case_in(world, status)
    version = Case.objects.get(pk=case.pk).version
    written = attach_then_fail()
    before = Stored()

    with pytest.raises(RuntimeError):
        action(world, case.pk, [phone_photo("JPEG"), phone_photo("PNG")])

    assert len(written) == 2
    before.assert_unchanged()
    stored = Case.objects.get(pk=case.pk)
    assert stored.status == status and stored.version == version


def test_a_database_error_on_the_second_photo_removes_the_first(world, monkeypatch):
    original = CaseAttachment.save
    calls = []

    def save(self, *args, **kwargs):
        calls.append(self.file.name)
        if len(calls) == 2:
            raise DatabaseError("connection lost")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(CaseAttachment, "save", save)
    before = Stored()

    with pytest.raises(DatabaseError):
        file_case(world, [plain_jpeg("a.jpg"), plain_jpeg("b.jpg")])

    assert len(calls) == 2 and all(calls)  # both files were on disk by then
    before.assert_unchanged()


@pytest.mark.parametrize(
    ("status", "action", "kind"),
    [
        (Status.IN_PROGRESS, _report_back, AttachmentKind.HANDLING),
        (Status.HANDLED, _inspect, AttachmentKind.INSPECTION),
        (Status.IN_PROGRESS, _comment, AttachmentKind.HANDLING),
    ],
    ids=["report_back", "inspect", "comment"],
)
def test_photos_of_other_actions_are_stored_without_metadata(world, status, action, kind):
    case = case_in(world, status)
    known = set(CaseAttachment.objects.values_list("pk", flat=True))

    action(world, case.pk, [phone_photo("HEIF")])

    (attachment,) = CaseAttachment.objects.exclude(pk__in=known)
    assert attachment.kind == kind and attachment.source_format == "HEIF"
    assert attachment.event.case_id == case.pk
    assert attachment.taken_at == dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=SHANGHAI)
    stored = assert_no_metadata(stored_path(attachment.file.name))
    assert stored.format == "JPEG" and stored.size == (40, 80)
    assert_red_on_top(stored)


def test_a_bad_photo_refuses_the_report_back_and_changes_nothing(world):
    case = case_in(world, Status.IN_PROGRESS)
    before = Stored()
    url = f"{CASES}{case.pk}/report-back/"
    bad = SimpleUploadedFile("fixed.jpg", b"not a photo at all")

    response = client_for(world.handler).post(
        url, {"note": "修好了", "photos": [plain_jpeg(), bad]}, format="multipart"
    )

    body = error(response, 400, "photo_invalid")
    assert "fixed.jpg" in body["fields"]["photos"][0]
    before.assert_unchanged()
    assert Case.objects.get(pk=case.pk).status == Status.IN_PROGRESS


# --- Thumbnails --------------------------------------------------------------------------


def test_the_thumbnail_is_made_after_commit(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = file_case(world, [phone_photo("JPEG", size=(1000, 600))])
    assert response.status_code == 201, response.content
    assert len(callbacks) >= 1
    # The response was rendered before the commit: no thumbnail yet.
    assert response.json()["photos"][0]["thumbnail_url"] is None

    attachment = CaseAttachment.objects.get()
    assert attachment.thumbnail.name.startswith("cases/thumbs/")
    thumb = Image.open(stored_path(attachment.thumbnail.name))
    assert thumb.format == "JPEG"
    # Upright 600 x 1000 scaled to at most 320 on its long side.
    assert thumb.size == (192, THUMBNAIL_EDGE)
    assert_red_on_top(thumb)
    assert_no_metadata(stored_path(attachment.thumbnail.name))
    detail = client_for(world.grid_worker).get(f"{CASES}{attachment.case_id}/").json()
    assert detail["photos"][0]["thumbnail_url"] == (
        f"http://testserver/api/v1/photos/{attachment.pk}/thumbnail/"
    )
    thumb_bytes = stored_path(attachment.thumbnail.name).read_bytes()
    assert served(client_for(world.grid_worker), detail["photos"][0]["thumbnail_url"]) == (
        thumb_bytes
    )


def test_no_thumbnail_when_the_report_is_rolled_back(
    world, attach_then_fail, django_capture_on_commit_callbacks
):
    attach_then_fail()
    before = Stored()
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        services.case_report(
            reporter=world.grid_worker,
            source=Source.GRID_WORKER,
            description="x",
            lng=IN_G1[0],
            lat=IN_G1[1],
            photos=[plain_jpeg()],
        )
    assert callbacks == []
    before.assert_unchanged()


def test_a_broker_outage_does_not_fail_the_report_and_the_catch_up_makes_it(
    world, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.make_thumbnails, "delay", broker_down)

    with (
        caplog.at_level(logging.ERROR, logger="cases.services"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = file_case(world, [plain_jpeg(size=(800, 400))])

    assert response.status_code == 201, response.content
    assert "could not queue thumbnails" in caplog.text
    attachment = CaseAttachment.objects.get()
    assert attachment.thumbnail.name == ""
    detail = client_for(world.grid_worker).get(f"{CASES}{attachment.case_id}/").json()
    assert detail["photos"][0]["thumbnail_url"] is None

    # Photos younger than a minute may still have a task on its way.
    assert tasks.thumbnail_catch_up() == 0
    CaseAttachment.objects.filter(pk=attachment.pk).update(
        created_at=timezone.now() - dt.timedelta(seconds=90)
    )
    assert tasks.thumbnail_catch_up() == 1

    attachment.refresh_from_db()
    thumb = Image.open(stored_path(attachment.thumbnail.name))
    assert thumb.format == "JPEG" and thumb.size == (THUMBNAIL_EDGE, 160)
    detail = client_for(world.grid_worker).get(f"{CASES}{attachment.case_id}/").json()
    assert detail["photos"][0]["thumbnail_url"].endswith(f"/photos/{attachment.pk}/thumbnail/")
    # Done once: a second run finds nothing to do.
    files = Stored().files
    assert tasks.thumbnail_catch_up() == 0
    assert Stored().files == files


def test_the_thumbnail_task_keeps_the_first_thumbnail(world):
    case = case_in(world, Status.REPORTED, photos=[plain_jpeg(size=(400, 400))])
    (attachment,) = case.attachments.all()

    assert tasks.make_thumbnails([attachment.pk]) == 1
    attachment.refresh_from_db()
    first = attachment.thumbnail.name
    files = Stored().files
    assert tasks.make_thumbnails([attachment.pk]) == 0

    attachment.refresh_from_db()
    assert attachment.thumbnail.name == first
    assert Stored().files == files
    assert Image.open(stored_path(first)).size == (THUMBNAIL_EDGE, THUMBNAIL_EDGE)


def test_the_catch_up_skips_a_photo_whose_file_is_gone(world, caplog):
    case = case_in(world, Status.REPORTED, photos=[plain_jpeg(), plain_jpeg("b.jpg")])
    gone, kept = case.attachments.order_by("pk")
    stored_path(gone.file.name).unlink()
    CaseAttachment.objects.update(created_at=timezone.now() - dt.timedelta(minutes=5))

    with caplog.at_level(logging.WARNING, logger="cases.photos"):
        assert tasks.thumbnail_catch_up() == 1

    gone.refresh_from_db()
    kept.refresh_from_db()
    assert gone.thumbnail.name == "" and kept.thumbnail.name != ""
    assert f"photo {gone.pk} has no file" in caplog.text


def test_an_unreadable_stored_photo_does_not_stop_the_catch_up(world, caplog):
    """One damaged file (a partial write, a storage hiccup that persisted) must
    not keep every later photo without a thumbnail: the catch-up runs every ten
    minutes over the photos in id order."""
    case = case_in(world, Status.REPORTED, photos=[plain_jpeg("a.jpg"), plain_jpeg("b.jpg")])
    damaged, fine = case.attachments.order_by("pk")
    path = stored_path(damaged.file.name)
    path.write_bytes(path.read_bytes()[:300])  # a JPEG header, then nothing
    CaseAttachment.objects.update(created_at=timezone.now() - dt.timedelta(minutes=5))

    made = tasks.thumbnail_catch_up()

    assert made == 1
    fine.refresh_from_db()
    damaged.refresh_from_db()
    assert fine.thumbnail.name != "" and damaged.thumbnail.name == ""


# --- The location from the photo ---------------------------------------------------------


def test_a_report_without_a_point_is_placed_by_the_photo_gps(world):
    response = file_case(world, [phone_photo("HEIF")], lng=None, lat=None)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["grid"] == G1
    assert body["location"]["lng"] == pytest.approx(GPS_IN_G1[0], abs=1e-6)
    assert body["location"]["lat"] == pytest.approx(GPS_IN_G1[1], abs=1e-6)


def test_the_first_photo_with_a_position_places_the_report(world):
    photos = [plain_jpeg("no-gps.jpg"), phone_photo("JPEG", gps=(119.905, 31.735))]

    response = file_case(world, photos, lng=None, lat=None)

    assert response.status_code == 201, response.content
    location = response.json()["location"]
    assert location["lng"] == pytest.approx(119.905, abs=1e-6)
    assert location["lat"] == pytest.approx(31.735, abs=1e-6)


def test_a_point_given_wins_over_the_photo_gps(world):
    response = file_case(world, [phone_photo("JPEG")], lng=119.905, lat=31.735)

    assert response.status_code == 201, response.content
    location = response.json()["location"]
    assert (location["lng"], location["lat"]) == (pytest.approx(119.905), pytest.approx(31.735))
    # The camera's position is still kept on the photo.
    assert response.json()["photos"][0]["taken_location"]["lng"] == pytest.approx(GPS_IN_G1[0])


@pytest.mark.parametrize(
    "photos",
    [lambda: [], lambda: [plain_jpeg()], lambda: [phone_photo("JPEG", gps=None)]],
    ids=["no photo", "no exif", "exif without gps"],
)
def test_no_point_and_no_gps_is_location_required(world, photos):
    before = Stored()

    body = error(file_case(world, photos(), lng=None, lat=None), 400, "location_required")

    assert list(body["fields"]) == ["location"]
    before.assert_unchanged()


def test_a_photo_gps_outside_the_city_is_outside_jurisdiction(world):
    before = Stored()

    response = file_case(world, [phone_photo("JPEG", gps=GPS_OUTSIDE)], lng=None, lat=None)

    body = error(response, 400, "outside_jurisdiction")
    assert "location" in body["fields"]
    before.assert_unchanged()


@pytest.mark.parametrize(
    ("given", "missing"), [({"lng": IN_G1[0], "lat": None}, "lat"), ({"lng": None}, "lng")]
)
def test_half_a_point_is_refused(world, given, missing):
    before = Stored()

    body = error(file_case(world, [phone_photo("JPEG")], **given), 400, "invalid")

    assert list(body["fields"]) == [missing]
    before.assert_unchanged()


def test_the_service_places_a_report_by_its_photo(world):
    case = services.case_report(
        reporter=world.grid_worker,
        source=Source.GRID_WORKER,
        description="x",
        lng=None,
        lat=None,
        photos=[phone_photo("PNG")],
    )
    assert case.grid.code == G1
    assert case.location.x == pytest.approx(GPS_IN_G1[0], abs=1e-6)
    assert CaseEvent.objects.get(case=case).payload["grid"] == G1


# --- Photo hints -------------------------------------------------------------------------


def hints(photo, client=None):
    return (client or APIClient()).post(HINTS, {"photo": photo}, format="multipart")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "HEIF"])
def test_hints_for_a_photo_taken_in_a_grid(world, fmt):
    before = Stored()

    response = hints(phone_photo(fmt))

    assert response.status_code == 200, response.content
    grid = world.city.grids[G1]
    assert response.json() == {
        "location": {
            "lng": pytest.approx(GPS_IN_G1[0], abs=1e-6),
            "lat": pytest.approx(GPS_IN_G1[1], abs=1e-6),
        },
        "taken_at": TAKEN_LOCAL,
        "grid": {"id": grid.pk, "code": G1, "name": grid.name},
    }
    before.assert_unchanged()


@pytest.mark.parametrize(
    "gps", [GPS_OUTSIDE, (119.95, 31.71), (-58.38, -34.6)], ids=["beijing", "gap", "south-west"]
)
def test_hints_outside_every_grid_have_no_grid(world, gps):
    response = hints(phone_photo("JPEG", gps=gps))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["grid"] is None
    assert body["location"]["lng"] == pytest.approx(gps[0], abs=1e-6)
    assert body["location"]["lat"] == pytest.approx(gps[1], abs=1e-6)
    assert body["taken_at"] == TAKEN_LOCAL


def test_hints_ignore_a_null_island_position(world):
    body = hints(phone_photo("JPEG", gps=(0.0, 0.0))).json()
    assert body["location"] is None and body["grid"] is None
    assert body["taken_at"] == TAKEN_LOCAL


def test_hints_of_a_photo_without_exif_are_empty(world):
    response = hints(plain_jpeg())

    assert response.status_code == 200, response.content
    assert response.json() == {"location": None, "taken_at": None, "grid": None}


@pytest.mark.parametrize(
    ("photo", "code"),
    [
        (lambda: SimpleUploadedFile("photo.jpg", b"hello, not an image"), "photo_invalid"),
        (lambda: upload(encode(noise((30, 20)), "GIF"), "anim.gif"), "photo_format"),
    ],
    ids=["text", "gif"],
)
def test_hints_refuse_what_is_not_a_photo(world, photo, code):
    body = error(hints(photo()), 400, code)
    assert list(body["fields"]) == ["photo"]


def test_hints_read_the_header_only(world):
    """Hints come from the EXIF header; the pixels are not decoded (a truncated
    file still gives its camera data, and a large photo costs no decoding)."""
    response = hints(upload(_truncated("JPEG")))
    assert response.status_code == 200, response.content


def test_hints_need_a_photo(world):
    body = error(APIClient().post(HINTS, {}, format="multipart"), 400, "invalid")
    assert list(body["fields"]) == ["photo"]


def test_hints_for_signed_in_staff_too(world):
    response = hints(phone_photo("JPEG"), client=client_for(world.grid_worker))
    assert response.status_code == 200
    assert response.json()["grid"]["code"] == G1


@override_settings(CASES_PHOTO_MAX_BYTES=4000)
def test_hints_keep_the_size_limit(world):
    big = upload(encode(noise((120, 90)), "JPEG", quality=95), "big.jpg")
    body = error(hints(big), 400, "photo_too_large")
    assert "photo" in body["fields"]


def test_the_old_helper_still_works_with_the_pipeline(world):
    """tests.cases.conftest.jpeg (a plain small JPEG) goes through unchanged."""
    case = case_in(world, Status.REPORTED, photos=[jpeg()])
    (attachment,) = case.attachments.all()
    assert (attachment.width, attachment.height) == (64, 48)
    assert attachment.source_format == "JPEG" and attachment.taken_at is None
