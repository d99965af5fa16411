"""Case photos are served only to those who may see them
(GET /api/v1/photos/{id}/{original|thumbnail}/): staff in scope get every
photo, the reporting citizen the case's public photos, anyone the public
photos of a published case or through a link the tip status signed; everyone
else gets 404. With file storage the file comes from the application, or from
the front server through X-Accel-Redirect / X-Sendfile."""

from __future__ import annotations

import importlib

import pytest
from django.core import signing
from django.urls import Resolver404, clear_url_caches, resolve
from rest_framework.test import APIClient

import governance.urls
from cases import services
from cases.models import CaseAttachment, Category, Source
from cases.photos import make_missing_thumbnails
from organisation.models import Role, RoleMembership
from tests.api.helpers import client_for, error
from tests.api.images import served, stored_path
from tests.cases.conftest import jpeg, report
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

VARIANTS = ("original", "thumbnail")
FIELD = {"original": "file", "thumbnail": "thumbnail"}


class Photos:
    """A citizen's report with its (public) photo, dispatched to CGJ, and an
    internal photo a dispatcher added in a note; both with thumbnails."""

    def __init__(self, world, *, published: bool):
        Category.objects.filter(pk=world.category.pk).update(citizen_visible=published)
        self.case = report(
            world,
            reporter=world.citizen,
            source=Source.CITIZEN,
            photos=[jpeg("report.jpg", color=(10, 200, 10))],
        )
        # Dispatched to the handler's department, which then sees it.
        services.case_register(case=self.case.pk, actor=world.dispatcher)
        services.case_dispatch(case=self.case.pk, actor=world.dispatcher)
        services.case_comment(
            case=self.case.pk,
            actor=world.dispatcher,
            text="内部: 现场照片",
            photos=[jpeg("note.jpg", color=(200, 10, 10))],
        )
        make_missing_thumbnails()
        self.public = CaseAttachment.objects.get(case=self.case, event__action="reported")
        self.internal = CaseAttachment.objects.get(case=self.case, event__action="commented")
        assert self.public.thumbnail and self.internal.thumbnail

    @staticmethod
    def url(attachment, variant: str) -> str:
        return f"/api/v1/photos/{attachment.pk}/{variant}/"


@pytest.fixture
def unpublished(world):
    return Photos(world, published=False)


@pytest.fixture
def published(world):
    return Photos(world, published=True)


def caller(world, who: str) -> APIClient:
    if who == "anonymous":
        return APIClient()
    if who == "other_citizen":
        stranger = UserFactory(username="other_citizen")
        RoleMembership.objects.create(user=stranger, role=Role.CITIZEN)
        return client_for(stranger)
    return client_for(world.users[who])


def assert_served(client, attachment, variant):
    body = served(client, Photos.url(attachment, variant))
    assert body == stored_path(getattr(attachment, FIELD[variant]).name).read_bytes()


def assert_hidden(client, attachment, variant):
    response = client.get(Photos.url(attachment, variant))
    error(response, 404, "not_found")
    assert "X-Accel-Redirect" not in response and "X-Sendfile" not in response


# --- Who gets which photo -------------------------------------------------------------

# (who, gets the public photo, gets the internal photo) of an unpublished case;
# a published case's public photo goes to everyone.
ACCESS = [
    # staff in scope: every photo
    ("dispatcher", True, True),
    ("city_dispatcher", True, True),
    ("handler", True, True),
    ("supervisor", True, True),
    ("grid_worker", True, True),
    ("admin", True, True),
    # staff out of scope: nothing
    ("far_dispatcher", False, False),
    ("far_supervisor", False, False),
    ("other_worker", False, False),
    ("other_handler", False, False),
    # the reporting citizen: the public photos
    ("citizen", True, False),
    # anyone else: nothing
    ("other_citizen", False, False),
    ("anonymous", False, False),
]


def assert_access(client, attachment, variant, allowed: bool):
    (assert_served if allowed else assert_hidden)(client, attachment, variant)


@pytest.mark.parametrize("published", [False, True], ids=["unpublished", "published"])
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(("who", "public", "internal"), ACCESS)
def test_who_gets_which_photo(world, who, public, internal, variant, published):
    photos = Photos(world, published=published)
    client = caller(world, who)

    assert_access(client, photos.public, variant, public or published)
    assert_access(client, photos.internal, variant, internal)


@pytest.mark.parametrize("source", [Source.GRID_WORKER, Source.HOTLINE])
def test_a_published_staff_report_keeps_its_photos_from_the_public(world, source):
    """The feed lists a hotline or grid-worker case without its photo
    (docs/open311.md), so its photo is not anyone's either."""
    reporter = world.grid_worker if source == Source.GRID_WORKER else world.dispatcher
    case = report(world, reporter=reporter, source=source, photos=[jpeg()])
    services.case_register(case=case.pk, actor=world.dispatcher)
    photo = CaseAttachment.objects.get(case=case)

    assert_hidden(APIClient(), photo, "original")
    assert_served(client_for(world.dispatcher), photo, "original")


def test_public_photos_may_be_cached_by_anyone_and_others_by_the_browser_only(world, published):
    public = APIClient().get(Photos.url(published.public, "original"))
    internal = client_for(world.dispatcher).get(Photos.url(published.internal, "original"))

    assert "public" in public["Cache-Control"]
    assert "private" in internal["Cache-Control"] and "public" not in internal["Cache-Control"]
    assert "Cookie" in internal["Vary"]
    assert public["Content-Type"] == internal["Content-Type"] == "image/jpeg"


def test_an_unknown_photo_or_variant_is_404(world, unpublished):
    client = caller(world, "dispatcher")
    error(client.get("/api/v1/photos/999999/original/"), 404, "not_found")
    error(client.get(f"/api/v1/photos/{2**70}/original/"), 404, "not_found")  # beyond bigint
    error(client.get(Photos.url(unpublished.public, "exif")), 404, "not_found")
    refused = APIClient().get(
        Photos.url(unpublished.internal, "original"), HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert error(refused, 404, "not_found")["message"] == "没有这张照片。"


def test_a_photo_without_a_thumbnail_yet_has_no_thumbnail_to_serve(world):
    case = report(world, photos=[jpeg()])
    attachment = case.attachments.get()

    error(client_for(world.dispatcher).get(Photos.url(attachment, "thumbnail")), 404, "not_found")
    assert_served(client_for(world.dispatcher), attachment, "original")


# --- Links the tip status signs for whoever holds the tracking token ------------------


def tip_photos(token: str) -> list[dict]:
    return APIClient().get(f"/api/v1/tips/{token}/").json()["photos"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_tip_status_links_serve_its_photos_to_the_token_holder(world, unpublished, variant):
    (photo,) = tip_photos(unpublished.case.tracking_token)
    key = "url" if variant == "original" else "thumbnail_url"

    body = served(APIClient(), photo[key])

    assert body == stored_path(getattr(unpublished.public, FIELD[variant]).name).read_bytes()


def test_a_signed_link_opens_nothing_else(world, unpublished):
    (photo,) = tip_photos(unpublished.case.tracking_token)
    link = photo["url"].split("?link=")[1]
    anonymous = APIClient()

    # The other variant, or another photo of the same case, with the same link.
    response = anonymous.get(f"{Photos.url(unpublished.public, 'thumbnail')}?link={link}")
    error(response, 404, "not_found")
    response = anonymous.get(f"{Photos.url(unpublished.internal, 'original')}?link={link}")
    error(response, 404, "not_found")
    # A link forged for an internal photo is refused too: only public photos are linked.
    value = f"{unpublished.internal.pk}.original"
    forged = signing.TimestampSigner(salt="cases.photo-link").sign(value)[len(value) + 1 :]
    response = anonymous.get(f"{Photos.url(unpublished.internal, 'original')}?link={forged}")
    error(response, 404, "not_found")
    error(anonymous.get(f"{Photos.url(unpublished.public, 'original')}?link=x:y"), 404, "not_found")


def test_a_signed_link_expires(world, unpublished, settings):
    (photo,) = tip_photos(unpublished.case.tracking_token)
    assert served(APIClient(), photo["url"])  # fresh: served

    settings.PHOTOS_URL_MAX_AGE = -1  # as if the link were older than the limit

    error(APIClient().get(photo["url"]), 404, "not_found")


# --- Front servers ------------------------------------------------------------------


def test_nginx_sends_the_file_when_an_accel_redirect_prefix_is_set(world, unpublished, settings):
    settings.PHOTOS_ACCEL_REDIRECT_PREFIX = "/protected-media/"
    client = caller(world, "dispatcher")

    for variant in VARIANTS:
        response = client.get(Photos.url(unpublished.internal, variant))
        name = getattr(unpublished.internal, FIELD[variant]).name
        assert response.status_code == 200
        assert response["X-Accel-Redirect"] == f"/protected-media/{name}"
        assert response["Content-Type"] == "image/jpeg"
        assert response.content == b""

    assert_hidden(caller(world, "citizen"), unpublished.internal, "original")
    assert_hidden(caller(world, "anonymous"), unpublished.public, "thumbnail")


def test_apache_sends_the_file_with_x_sendfile(world, unpublished, settings):
    settings.PHOTOS_SENDFILE = True

    response = caller(world, "citizen").get(Photos.url(unpublished.public, "original"))

    assert response.status_code == 200
    assert response["X-Sendfile"] == str(stored_path(unpublished.public.file.name))
    assert response.content == b""
    assert_hidden(caller(world, "citizen"), unpublished.internal, "original")


# --- Where the API points -------------------------------------------------------------


def test_the_case_detail_points_at_the_controlled_urls(world, unpublished):
    detail = client_for(world.dispatcher).get(f"/api/v1/cases/{unpublished.case.pk}/").json()

    urls = {(p["url"], p["thumbnail_url"]) for p in detail["photos"]}
    assert urls == {
        (
            f"http://testserver{Photos.url(a, 'original')}",
            f"http://testserver{Photos.url(a, 'thumbnail')}",
        )
        for a in (unpublished.public, unpublished.internal)
    }


def test_stored_names_are_not_served_even_with_debug_on(world, unpublished, settings):
    path = f"{settings.MEDIA_URL}{unpublished.internal.file.name}"
    settings.DEBUG = True  # the root URLs are read again as a DEBUG server reads them
    try:
        urls = importlib.reload(governance.urls)
        with pytest.raises(Resolver404):
            resolve(path, urlconf=urls)
    finally:
        settings.DEBUG = False
        importlib.reload(governance.urls)
        clear_url_caches()
    assert APIClient().get(path).status_code == 404
