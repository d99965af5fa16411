"""Photos as phones send them, for the photo pipeline tests: JPEG, PNG and HEIC
with the camera's EXIF (GPS position, time, orientation, serial number), and
the hostile kind (truncated, decompression bombs, other formats)."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import pillow_heif
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, TiffImagePlugin

pillow_heif.register_heif_opener()

# Inside grid 320402001001001 (G1) of the small city: 31°43'48" N, 119°54'36" E.
GPS_IN_G1 = (119.91, 31.73)
# Beijing: far outside the small city.
GPS_OUTSIDE = (116.4, 39.9)
TAKEN = "2024:05:06 07:08:09"
# How the API shows TAKEN without an offset: the camera clock read as local time.
TAKEN_LOCAL = "2024-05-06T07:08:09+08:00"
SERIAL = "SN-PHONE-0042-XYZ"
MAKER = "AcmePhone"

RED = (220, 20, 20)
BLUE = (20, 20, 220)


def _dms(value: float):
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60 * 10000)
    return (
        TiffImagePlugin.IFDRational(degrees, 1),
        TiffImagePlugin.IFDRational(minutes, 1),
        TiffImagePlugin.IFDRational(seconds, 10000),
    )


def camera_exif(
    *,
    gps: tuple[float, float] | None = GPS_IN_G1,
    taken: str | None = TAKEN,
    offset: str | None = None,
    orientation: int | None = 6,
) -> bytes:
    """EXIF as a phone writes it: orientation, maker and serial, GPS IFD
    (0x8825, tags 1-4 as rationals), DateTimeOriginal in the Exif IFD (0x8769)."""
    exif = Image.Exif()
    if orientation is not None:
        exif[274] = orientation
    exif[0x010F] = MAKER
    exif[0x0110] = f"{MAKER} 12 Pro"
    sub = exif.get_ifd(0x8769)
    sub[0xA431] = SERIAL  # BodySerialNumber
    if taken is not None:
        sub[36867] = taken
    if offset is not None:
        sub[36881] = offset  # OffsetTimeOriginal
    if gps is not None:
        lng, lat = gps
        ifd = exif.get_ifd(0x8825)
        ifd[1] = "N" if lat >= 0 else "S"
        ifd[2] = _dms(lat)
        ifd[3] = "E" if lng >= 0 else "W"
        ifd[4] = _dms(lng)
    return exif.tobytes()


def two_tone(size=(80, 40)) -> Image.Image:
    """Left half red, right half blue: after turning by orientation 6
    (90° clockwise) red is on top and blue at the bottom."""
    image = Image.new("RGB", size, RED)
    image.paste(BLUE, (size[0] // 2, 0, size[0], size[1]))
    return image


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def upload(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def phone_photo(fmt: str = "JPEG", name: str | None = None, size=(80, 40), **exif_options):
    """A photo in ``fmt`` (JPEG, PNG or HEIF) with the camera's EXIF."""
    extension = {"JPEG": "jpg", "PNG": "png", "HEIF": "heic"}[fmt]
    data = encode(two_tone(size), fmt, exif=camera_exif(**exif_options))
    return upload(data, name or f"IMG_0001.{extension}", f"image/{extension}")


def plain_jpeg(name: str = "plain.jpg", size=(64, 48), color=(200, 80, 40)):
    """A JPEG without any EXIF."""
    return upload(encode(Image.new("RGB", size, color), "JPEG"), name)


def noise(size=(200, 150)) -> Image.Image:
    """Random pixels: compresses badly, so half the bytes is half the picture."""
    return Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))


def png_bomb(width: int, height: int) -> bytes:
    """A real, complete 1-bit PNG of ``width`` x ``height`` black pixels. The
    zero rows compress to almost nothing: a few kilobytes that decode to
    width * height pixels. Written row by row, so making it needs no memory."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grey
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte 0 + packed bits
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(row) for _ in range(height)]
    parts.append(compressor.flush())
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", b"".join(parts))
        + chunk(b"IEND", b"")
    )


# --- Where the files went ---------------------------------------------------------------


def media_files() -> set[str]:
    """Every file under MEDIA_ROOT, relative to it."""
    root = Path(settings.MEDIA_ROOT)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def stored_path(name_or_url: str) -> Path:
    """The file on disk for a storage name or an absolute media URL."""
    path = urlsplit(name_or_url).path
    if path.startswith(settings.MEDIA_URL):
        path = path[len(settings.MEDIA_URL) :]
    return Path(settings.MEDIA_ROOT) / path


def served(client, url: str) -> bytes:
    """The bytes a photo URL answers with, for ``client`` (200 expected)."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    # (Reading it to the end closes it, as the test client arranges.)
    return b"".join(response.streaming_content)


def assert_no_metadata(path: Path) -> Image.Image:
    """The stored file carries no EXIF, XMP, comment or the phone's serial."""
    raw = path.read_bytes()
    assert b"Exif" not in raw
    assert SERIAL.encode() not in raw and MAKER.encode() not in raw
    image = Image.open(path)
    image.load()
    assert dict(image.getexif()) == {}
    for key in ("exif", "xmp", "XML:com.adobe.xmp", "comment", "Raw profile type exif"):
        assert key not in image.info, key
    return image
