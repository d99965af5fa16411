"""Photos on an S3-compatible store, chosen by configuration only: a real S3
API server (moto's, on loopback) stands in for MinIO / OSS / COS. The objects
are private; the photo URLs answer those who may see a photo with a redirect
to a short-lived signed URL."""

import datetime as dt
import io
import time
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from django.db import transaction
from django.utils import timezone
from moto.server import ThreadedMotoServer
from PIL import Image
from rest_framework.test import APIClient

from cases import services
from cases.checks import check_photo_storage
from cases.models import CaseAttachment, Source
from cases.photo_orphans import remove_orphan_photos
from cases.photos import make_missing_thumbnails
from tests.api.helpers import client_for, error
from tests.cases.conftest import jpeg, report

pytestmark = pytest.mark.django_db

BUCKET = "governance-cases"


@pytest.fixture
def s3(settings):
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto keeps its buckets in the process, across servers: start empty.
    reset = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")  # noqa: S310
    urllib.request.urlopen(reset, timeout=10).close()  # noqa: S310 (the loopback server)
    options = {
        "bucket_name": BUCKET,
        "endpoint_url": endpoint,
        "access_key": "test",
        "secret_key": "test",
        "region_name": "us-east-1",
        # as a deployment gets them (governance.settings.base)
        **settings.MEDIA_S3_PRIVATE_OPTIONS,
    }
    client = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="test",
        aws_secret_access_key="test", region_name="us-east-1",
    )  # fmt: skip
    client.create_bucket(Bucket=BUCKET)
    # The same two settings a deployment sets (MEDIA_STORAGE_BACKEND / _OPTIONS).
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
    }
    yield client  # (changing STORAGES resets the default storage, and back after)
    server.stop()


def _exif_jpeg():
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # camera make: must not survive
    buffer = io.BytesIO()
    Image.new("RGB", (80, 60), (10, 120, 200)).save(buffer, "JPEG", exif=exif)
    upload = jpeg()
    upload.file = io.BytesIO(buffer.getvalue())
    upload.size = len(buffer.getvalue())
    return upload


def test_photos_and_thumbnails_live_in_the_bucket(world, s3):
    case = report(world, photos=[_exif_jpeg()])
    attachment = CaseAttachment.objects.get(case=case)
    stored = s3.get_object(Bucket=BUCKET, Key=attachment.file.name)["Body"].read()
    assert stored[:2] == b"\xff\xd8" and b"PhoneMaker" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.size == (80, 60) and not image.getexif()

    assert make_missing_thumbnails(ids=[attachment.pk]) == 1
    attachment.refresh_from_db()
    thumb = s3.get_object(Bucket=BUCKET, Key=attachment.thumbnail.name)["Body"].read()
    with Image.open(io.BytesIO(thumb)) as image:
        assert image.format == "JPEG" and max(image.size) <= 320
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys == {attachment.file.name, attachment.thumbnail.name}
    assert attachment.file.url.startswith(s3.meta.endpoint_url)


def _get(url: str) -> tuple[int, bytes]:
    """An anonymous request straight to the store, as a browser would make it."""
    assert url.startswith("http://127.0.0.1:"), url  # the loopback server only
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (checked above)
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def _expires_in(url: str) -> float:
    """Seconds a signed URL stays valid (SigV4 X-Amz-Expires, or SigV2 Expires)."""
    query = parse_qs(urlsplit(url).query)
    if "X-Amz-Expires" in query:
        return float(query["X-Amz-Expires"][0])
    return float(query["Expires"][0]) - time.time()


@pytest.mark.parametrize("variant", ["original", "thumbnail"])
def test_an_internal_photo_is_a_short_lived_signed_url_for_staff_only(world, s3, variant):
    case = report(world)
    services.case_comment(case=case.pk, actor=world.dispatcher, text="内部", photos=[jpeg()])
    make_missing_thumbnails()
    attachment = CaseAttachment.objects.get(case=case)
    name = (attachment.file if variant == "original" else attachment.thumbnail).name
    url = f"/api/v1/photos/{attachment.pk}/{variant}/"
    stored = s3.get_object(Bucket=BUCKET, Key=name)["Body"].read()

    response = client_for(world.dispatcher).get(url)

    assert response.status_code == 302
    signed = response["Location"]
    assert signed.startswith(f"{s3.meta.endpoint_url}/{BUCKET}/{name}?")
    assert 290 <= _expires_in(signed) <= 300
    assert "no-store" in response["Cache-Control"]
    assert _get(signed) == (200, stored)
    # The object itself is private: without the signature the store refuses it.
    assert _get(f"{s3.meta.endpoint_url}/{BUCKET}/{name}")[0] == 403
    # Those who may not see the photo get no signed URL.
    for client in (APIClient(), client_for(world.far_dispatcher), client_for(world.citizen)):
        refused = client.get(url)
        error(refused, 404, "not_found")
        assert "Location" not in refused


def test_a_published_photo_is_a_signed_url_for_anyone(world, s3):
    # A citizen's tip in a citizen-visible category (BJ0101), once registered: published.
    case = report(world, reporter=None, source=Source.CITIZEN, photos=[jpeg()])
    services.case_register(case=case, actor=world.dispatcher)
    attachment = CaseAttachment.objects.get(case=case)

    response = APIClient().get(f"/api/v1/photos/{attachment.pk}/original/")

    assert response.status_code == 302
    assert _get(response["Location"])[0] == 200
    assert _get(f"{s3.meta.endpoint_url}/{BUCKET}/{attachment.file.name}")[0] == 403


def test_an_orphan_in_the_bucket_is_removed_once_a_day_old(world, s3):
    kept = report(world, photos=[jpeg()]).attachments.get().file.name
    with pytest.raises(RuntimeError), transaction.atomic():
        report(world, photos=[jpeg()])
        raise RuntimeError("rolled back after the photo was written")
    (orphan,) = _keys(s3) - {kept}

    assert remove_orphan_photos() == []  # fresh: kept
    assert remove_orphan_photos(now=timezone.now() + dt.timedelta(days=2)) == [orphan]

    assert _keys(s3) == {kept}


def _keys(s3) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


@pytest.mark.parametrize(
    ("options", "wrong"),
    [
        ({"querystring_auth": False}, "querystring_auth"),
        ({"default_acl": "public-read"}, "default_acl"),
        ({}, None),
    ],
)
def test_the_deploy_check_refuses_a_public_bucket(settings, options, wrong):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {**settings.MEDIA_S3_PRIVATE_OPTIONS, "bucket_name": BUCKET, **options},
        },
    }

    errors = check_photo_storage(None)

    assert [e.id for e in errors] == (["cases.E001"] if wrong else [])
    assert all(wrong in e.msg for e in errors)
