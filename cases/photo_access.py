"""Who may fetch a stored case photo, and the URLs that lead to it.

Stored files are never served by their storage name: every photo URL names
the attachment and the variant (``/api/v1/photos/<id>/original/`` or
``…/thumbnail/``), and the view behind it (``cases.api.photo_files``) asks
``photo_file`` here whether the caller may have it:

* staff of the loop who may see the case (``cases_visible_to``): every photo;
* a citizen who may see the case (the reporter, a follower): its public photos;
* anyone: the public photos of a case the public Open311 feed shows as filed
  (``open311.publication.published_as_filed``: a hotline or grid-worker
  case is published without its photos), and a public photo whose URL
  carries a link signed for it (the tip-status view signs the photos it shows
  to the holder of a tracking token, who has no account);
* everyone else: 404, as for a photo that does not exist.

Public photos are the ones the tip-status view shows (``selectors.PUBLIC_PHOTO``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.db.models import BooleanField, ExpressionWrapper
from django.urls import reverse
from django.utils.translation import gettext as _

from .errors import CaseError
from .models import Case, CaseAttachment
from .open311.publication import published_as_filed
from .policy import scope_of, works_on_cases
from .selectors import PUBLIC_PHOTO, cases_visible_to

# The URL's variant, and the attachment field holding its file.
VARIANTS = {"original": "file", "thumbnail": "thumbnail"}

_LINK_SALT = "cases.photo-link"


class PhotoNotFound(CaseError):
    """No such photo, or not for this caller (who may not know it exists)."""

    code = "not_found"
    status = 404

    def __init__(self):
        super().__init__(_("No such photo."))


@dataclass(frozen=True)
class PhotoFile:
    """The stored file a caller may have; ``public`` when anyone may (so
    shared caches may keep it)."""

    name: str
    public: bool


def photo_url(request, pk: int, variant: str, *, signed: bool = False) -> str:
    """The absolute URL of a photo's ``variant``; ``signed`` adds a link that
    lets anyone fetch it for ``PHOTOS_URL_MAX_AGE`` seconds (public photos only)."""
    url = reverse("photo-file", kwargs={"pk": pk, "variant": variant})
    if signed:
        value = _link_value(pk, variant)
        link = signing.TimestampSigner(salt=_LINK_SALT).sign(value)[len(value) + 1 :]
        url = f"{url}?link={link}"
    return request.build_absolute_uri(url)


def attachment_url(request, attachment: CaseAttachment, variant: str, *, signed=False):
    """``photo_url`` for an attachment, or None when it has no such file yet
    (a thumbnail is made just after the upload)."""
    if not getattr(attachment, VARIANTS[variant]):
        return None
    return photo_url(request, attachment.pk, variant, signed=signed)


def _link_value(pk: int, variant: str) -> str:
    return f"{pk}.{variant}"


def _link_valid(pk: int, variant: str, link: str) -> bool:
    if not link or not isinstance(link, str):
        return False
    try:
        signing.TimestampSigner(salt=_LINK_SALT).unsign(
            f"{_link_value(pk, variant)}:{link}", max_age=settings.PHOTOS_URL_MAX_AGE
        )
    except signing.BadSignature:  # SignatureExpired is one
        return False
    return True


def photo_file(user, pk: int, variant: str, *, link: str = "") -> PhotoFile:
    """The stored file of photo ``pk``'s ``variant`` if ``user`` (or the signed
    ``link``) may have it; PhotoNotFound otherwise."""
    field = VARIANTS.get(variant)
    if field is None:
        raise PhotoNotFound()
    row = (
        CaseAttachment.objects.filter(pk=pk)
        .annotate(public=ExpressionWrapper(PUBLIC_PHOTO, output_field=BooleanField()))
        .values("case_id", field, "public")
        .first()
    )
    if row is None or not row[field]:
        raise PhotoNotFound()
    name, case_id, public = row[field], row["case_id"], bool(row["public"])
    if public and published_as_filed(Case.objects.filter(pk=case_id)).exists():
        return PhotoFile(name=name, public=True)
    if public and _link_valid(pk, variant, link):
        return PhotoFile(name=name, public=False)
    staff = works_on_cases(scope_of(user))
    if (public or staff) and cases_visible_to(user).filter(pk=case_id).exists():
        return PhotoFile(name=name, public=False)
    raise PhotoNotFound()
