"""The photo pipeline: check an upload by its content, read what the camera
recorded, and store a copy without any metadata.

* Accepted: JPEG, PNG, and HEIC/HEIF (what phones take), whatever the file's
  name or declared type says. Size and pixel count are limited before the
  pixels are decoded, so a decompression bomb is refused for its header.
* Read before stripping: the camera's GPS position and time (EXIF), offered as
  a location suggestion and kept on the attachment for staff.
* Stored: the pixels only, re-encoded (HEIC becomes JPEG, which every browser
  shows), turned upright by the EXIF orientation, with no EXIF, XMP, ICC
  comments or text chunks. Nothing stored carries the phone's GPS or serial.
* Thumbnails are made after commit by a Celery task (``cases.tasks``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import logging
import secrets
import struct
import warnings
from dataclasses import dataclass
from pathlib import PurePath

import pillow_heif
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import CaseInputError

pillow_heif.register_heif_opener()

logger = logging.getLogger(__name__)

# MPO is a JPEG with further pictures after the first (depth map, HDR gain
# map), as many phones save; the first picture is the photo.
ACCEPTED_FORMATS = {"JPEG", "MPO", "PNG", "HEIF"}
# Stored as: PNG stays PNG (screenshots, drawings); everything else is JPEG.
STORED_AS = {"PNG": ("PNG", "png")}
JPEG_QUALITY = 88
THUMBNAIL_EDGE = 320

EARLIEST_PHOTO = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

_GPS_IFD = 0x8825
_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 36867
_OFFSET_TIME_ORIGINAL = 36881
_DATETIME = 306


@dataclass(frozen=True)
class Hints:
    """What the camera recorded: where (WGS-84) and when, when it did."""

    lng: float | None = None
    lat: float | None = None
    taken_at: dt.datetime | None = None

    @property
    def has_location(self) -> bool:
        return self.lng is not None and self.lat is not None


@dataclass(frozen=True)
class PreparedPhoto:
    """An upload checked and re-encoded, ready to store."""

    name: str
    content: bytes
    stored_format: str
    source_format: str
    width: int
    height: int
    sha256: str
    hints: Hints

    def as_file(self) -> ContentFile:
        return ContentFile(self.content, name=self.name)


def _refuse(message: str, field: str, code: str):
    return CaseInputError(message, field=field, code=code)


# What decoders raise on damaged input: Pillow mostly OSError, pillow-heif's
# libheif EOFError or RuntimeError ("security limit exceeded").
_DECODE_ERRORS = (
    OSError, EOFError, RuntimeError, SyntaxError, ValueError, IndexError, struct.error,
)  # fmt: skip
# JPEG cannot hold a side longer than this.
MAX_SIDE = 65_500


def _name(photo) -> str:
    return getattr(photo, "name", "") or _("photo")


def _unreadable(photo, field: str) -> CaseInputError:
    return _refuse(
        _("%(name)s is not a readable JPEG, PNG or HEIC photo.") % {"name": _name(photo)},
        field,
        "photo_invalid",
    )


def _open(photo, field: str, *, decode: bool = True) -> tuple[Image.Image, bytes]:
    limit = settings.CASES_PHOTO_MAX_BYTES
    name = _name(photo)
    size = getattr(photo, "size", None)
    if size is not None and size > limit:
        raise _too_large(name, limit, field)
    photo.seek(0)
    data = photo.read(limit + 1)
    photo.seek(0)
    if len(data) > limit:
        raise _too_large(name, limit, field)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise _too_many_pixels(name, field) from exc
    except Image.DecompressionBombWarning as exc:
        raise _too_many_pixels(name, field) from exc
    except (UnidentifiedImageError, *_DECODE_ERRORS) as exc:
        raise _unreadable(photo, field) from exc
    if image.format not in ACCEPTED_FORMATS:
        raise _refuse(
            _("%(name)s is a %(format)s image; photos must be JPEG, PNG or HEIC.")
            % {"name": name, "format": image.format},
            field,
            "photo_format",
        )
    if image.width * image.height > settings.CASES_PHOTO_MAX_PIXELS or max(image.size) > MAX_SIDE:
        raise _too_many_pixels(name, field)
    if decode:
        try:
            image.load()  # a truncated or corrupt file fails here, before anything is stored
        except (*_DECODE_ERRORS, Image.DecompressionBombError) as exc:
            raise _unreadable(photo, field) from exc
    return image, data


def _too_large(name: str, limit: int, field: str) -> CaseInputError:
    return _refuse(
        _("%(name)s is larger than %(limit)s.") % {"name": name, "limit": filesizeformat(limit)},
        field,
        "photo_too_large",
    )


def _too_many_pixels(name: str, field: str) -> CaseInputError:
    return _refuse(
        _("%(name)s has too many pixels (at most %(limit)s million).")
        % {"name": name, "limit": settings.CASES_PHOTO_MAX_PIXELS // 1_000_000},
        field,
        "photo_too_many_pixels",
    )


def _rational(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        numerator, denominator = value
        return float(numerator) / float(denominator)


def _degrees(dms, ref) -> float | None:
    try:
        d, m, s = (_rational(v) for v in dms)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60 + s / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "ignore")
    if str(ref).strip().upper() in ("S", "W"):
        value = -value
    return value


def read_hints(image: Image.Image) -> Hints:
    """The camera's GPS position and time from EXIF, where present and sane."""
    try:
        exif = image.getexif()
    except Exception:
        return Hints()
    lng = lat = None
    try:
        gps = exif.get_ifd(_GPS_IFD)
    except Exception:
        gps = {}
    if gps and 2 in gps and 4 in gps:
        lat = _degrees(gps[2], gps.get(1, "N"))
        lng = _degrees(gps[4], gps.get(3, "E"))
        if (
            lat is None
            or lng is None
            or not (-90 <= lat <= 90 and -180 <= lng <= 180)
            or (lat == 0 and lng == 0)
        ):
            lng = lat = None
    return Hints(lng=lng, lat=lat, taken_at=_taken_at(exif))


def _taken_at(exif) -> dt.datetime | None:
    try:
        sub = exif.get_ifd(_EXIF_IFD)
    except Exception:
        sub = {}
    raw = sub.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    if not isinstance(raw, str):
        return None
    try:
        naive = dt.datetime.strptime(raw.strip("\x00 ").strip(), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    moment = None
    offset = sub.get(_OFFSET_TIME_ORIGINAL)
    if isinstance(offset, str):
        with contextlib.suppress(ValueError):
            moment = dt.datetime.fromisoformat(f"{naive.isoformat()}{offset.strip()}")
    # Without an offset the camera's clock is taken to be local time.
    try:
        moment = moment or timezone.make_aware(naive)
        utc = moment.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        return None
    # A camera clock that was never set says 0001 or 2080: no hint.
    if not EARLIEST_PHOTO <= utc <= timezone.now() + dt.timedelta(days=2):
        return None
    return moment


def prepare_photo(photo, *, field: str = "photos") -> PreparedPhoto:
    """Check ``photo`` (an uploaded file) and re-encode it without metadata.

    Raises CaseInputError naming ``field`` when it is not a whole JPEG, PNG or
    HEIC image within the size and pixel limits."""
    image, data = _open(photo, field)
    source_format = "JPEG" if image.format == "MPO" else image.format
    hints = read_hints(image)
    try:
        upright = ImageOps.exif_transpose(image)
    except Exception:
        upright = image
    stored_format, extension = STORED_AS.get(source_format, ("JPEG", "jpg"))
    out = io.BytesIO()
    try:
        if stored_format == "JPEG":
            if upright.mode not in ("RGB", "L"):
                upright = upright.convert("RGB")
            # comment=b"": Pillow otherwise copies the upload's COM segment (owner, serial).
            upright.save(out, format="JPEG", quality=JPEG_QUALITY, comment=b"", icc_profile=None)
        else:
            upright.save(out, format="PNG", icc_profile=None)
    except _DECODE_ERRORS as exc:
        raise _unreadable(photo, field) from exc
    # A random name: the upload's own name can say who or when.
    stem = secrets.token_hex(12)
    return PreparedPhoto(
        name=f"{stem}.{extension}",
        content=out.getvalue(),
        stored_format=stored_format,
        source_format=source_format,
        width=upright.width,
        height=upright.height,
        sha256=hashlib.sha256(data).hexdigest(),
        hints=hints,
    )


def make_thumbnail(source_name: str, *, storage=None) -> bytes:
    """A JPEG at most THUMBNAIL_EDGE pixels on its long side, from a stored photo."""
    storage = storage or default_storage
    with storage.open(source_name, "rb") as handle, Image.open(handle) as image:
        image.draft("RGB", (THUMBNAIL_EDGE, THUMBNAIL_EDGE))
        thumb = image.convert("RGB")
        thumb.thumbnail((THUMBNAIL_EDGE, THUMBNAIL_EDGE))
        out = io.BytesIO()
        thumb.save(out, format="JPEG", quality=80)
    return out.getvalue()


def make_missing_thumbnails(
    *, ids: list[int] | None = None, older_than_seconds: int | None = None, limit: int = 500
) -> int:
    """Make and store thumbnails for photos that have none; return how many."""
    from .models import CaseAttachment

    pending = CaseAttachment.objects.filter(thumbnail="").exclude(file="")
    if ids is not None:
        pending = pending.filter(pk__in=ids)
    if older_than_seconds is not None:
        cutoff = timezone.now() - dt.timedelta(seconds=older_than_seconds)
        pending = pending.filter(created_at__lt=cutoff)
    made = 0
    for pk, name in pending.order_by("pk").values_list("pk", "file")[:limit]:
        try:
            content = make_thumbnail(name)
        except FileNotFoundError:
            logger.warning("photo %s has no file %s; no thumbnail", pk, name)
            continue
        except (UnidentifiedImageError, *_DECODE_ERRORS):
            # Left without a thumbnail; the next catch-up tries again.
            logger.exception("photo %s (%s) cannot be read for a thumbnail", pk, name)
            continue
        stem = PurePath(name).stem
        attachment = CaseAttachment(pk=pk)
        attachment.thumbnail.save(f"{stem}-thumb.jpg", ContentFile(content), save=False)
        # Only where still missing: two workers on one photo keep the first.
        if CaseAttachment.objects.filter(pk=pk, thumbnail="").update(
            thumbnail=attachment.thumbnail.name
        ):
            made += 1
        else:
            default_storage.delete(attachment.thumbnail.name)
    return made


def hints_for_upload(photo, *, field: str = "photo") -> Hints:
    """Check an upload and read its camera position and time, storing nothing."""
    image, _data = _open(photo, field, decode=False)  # EXIF is in the header
    with image:
        return read_hints(image)
