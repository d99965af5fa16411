"""Checking photos attached to cases: by their content, not their name."""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from .errors import CaseInputError

ACCEPTED_FORMATS = {"JPEG", "PNG"}


def check_photo(photo: UploadedFile, *, field: str = "photos") -> None:
    """Raise CaseInputError unless ``photo`` is a whole JPEG or PNG within the limits."""
    limit = settings.CASES_PHOTO_MAX_BYTES
    if photo.size is not None and photo.size > limit:
        raise CaseInputError(
            _("%(name)s is larger than %(limit)s MB.")
            % {"name": photo.name, "limit": limit // (1024 * 1024)},
            field=field,
            code="photo_too_large",
        )
    try:
        photo.seek(0)
        with Image.open(photo) as image:
            fmt = image.format
            if image.width * image.height > settings.CASES_PHOTO_MAX_PIXELS:
                raise CaseInputError(
                    _("%(name)s has too many pixels.") % {"name": photo.name},
                    field=field,
                    code="photo_too_many_pixels",
                )
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise CaseInputError(
            _("%(name)s is not a readable JPEG or PNG photo.") % {"name": photo.name},
            field=field,
            code="photo_invalid",
        ) from exc
    finally:
        photo.seek(0)
    if fmt not in ACCEPTED_FORMATS:
        raise CaseInputError(
            _("%(name)s is a %(format)s image; photos must be JPEG or PNG.")
            % {"name": photo.name, "format": fmt},
            field=field,
            code="photo_format",
        )
