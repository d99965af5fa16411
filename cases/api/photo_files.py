"""Case photos, served only to those who may see them (``cases.photo_access``).

How the bytes leave depends on where they are stored and what is in front:

* file storage, no front server configured: the application streams the file;
* ``PHOTOS_ACCEL_REDIRECT_PREFIX`` set (nginx): the answer carries
  ``X-Accel-Redirect: <prefix><name>`` and nginx sends the file from an
  ``internal`` location;
* ``PHOTOS_SENDFILE`` on (Apache mod_xsendfile, lighttpd): ``X-Sendfile`` with
  the file's path;
* storage without local paths (S3-compatible): a redirect to a URL signed for
  ``PHOTOS_URL_MAX_AGE`` seconds; the bucket itself stays private.

Nothing else may serve MEDIA_ROOT or the bucket publicly.
"""

from __future__ import annotations

import mimetypes
from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse, HttpResponseRedirect
from django.utils.cache import patch_cache_control, patch_vary_headers
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from ..photo_access import VARIANTS, PhotoFile, PhotoNotFound, photo_file


class PhotoFileView(APIView):
    """A case photo (``original``) or its thumbnail (``thumbnail``), for staff
    who may see the case, its reporter (public photos), or anyone (public
    photos of published cases, or with a ``link`` signed by the tip status).
    Anyone else gets 404."""

    permission_classes = [AllowAny]

    def perform_content_negotiation(self, request, force=False):
        # An <img> asks for image/*: errors still answer in JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        parameters=[
            OpenApiParameter("variant", str, OpenApiParameter.PATH, enum=sorted(VARIANTS)),
            OpenApiParameter("link", str, OpenApiParameter.QUERY, required=False),
        ],
        responses={
            (200, "image/jpeg"): OpenApiTypes.BINARY,
            (200, "image/png"): OpenApiTypes.BINARY,
            302: OpenApiResponse(description="To a short-lived signed storage URL."),
            404: OpenApiResponse(description="No such photo, or not for this caller."),
        },
    )
    def get(self, request, pk: int, variant: str):
        link = request.query_params.get("link", "")
        photo = photo_file(request.user, pk, variant, link=link)
        response = _serve(photo)
        if isinstance(response, HttpResponseRedirect):
            patch_cache_control(response, private=True, no_store=True)
        elif photo.public:
            patch_cache_control(response, public=True, max_age=settings.PHOTOS_URL_MAX_AGE)
        else:
            patch_cache_control(response, private=True, max_age=settings.PHOTOS_URL_MAX_AGE)
            patch_vary_headers(response, ["Cookie", "Authorization"])
        return response


def _serve(photo: PhotoFile) -> HttpResponse:
    storage = default_storage
    try:
        path = storage.path(photo.name)
    except NotImplementedError:  # no local files: a signed URL to the object
        return HttpResponseRedirect(_signed_url(storage, photo.name))
    content_type = mimetypes.guess_type(photo.name)[0] or "application/octet-stream"
    prefix = settings.PHOTOS_ACCEL_REDIRECT_PREFIX
    if prefix:
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + quote(photo.name)
        return response
    if settings.PHOTOS_SENDFILE:
        response = HttpResponse(content_type=content_type)
        response["X-Sendfile"] = path
        return response
    try:
        handle = storage.open(photo.name, "rb")
    except FileNotFoundError:
        raise PhotoNotFound() from None
    return FileResponse(handle, content_type=content_type)


def _signed_url(storage, name: str) -> str:
    try:
        return storage.url(name, expire=settings.PHOTOS_URL_MAX_AGE)
    except TypeError:  # a storage whose url() takes no expiry
        return storage.url(name)
