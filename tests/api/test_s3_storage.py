"""Photos on an S3-compatible store, chosen by configuration only: a real S3
API server (moto's, on loopback) stands in for MinIO / OSS / COS."""

import io

import boto3
import pytest
from moto.server import ThreadedMotoServer
from PIL import Image

from cases.models import CaseAttachment
from cases.photos import make_missing_thumbnails
from tests.cases.conftest import jpeg, report

pytestmark = pytest.mark.django_db

BUCKET = "governance-cases"


@pytest.fixture
def s3(settings):
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    options = {
        "bucket_name": BUCKET,
        "endpoint_url": endpoint,
        "access_key": "test",
        "secret_key": "test",
        "region_name": "us-east-1",
        "querystring_auth": False,
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
