"""Coordinate systems accepted for locations, and GCJ-02 conversion.

Phones and browsers report WGS-84. Chinese map SDKs (AMap, Tencent, and
Google's China tiles) report GCJ-02, an obfuscated datum offset by 100-700 m
inside mainland China. Clients must declare which one they send: the system
never guesses. Boundaries are stored in WGS-84, so GCJ-02 input is converted
on the way in.

The forward transform is the published GCJ-02 algorithm (Krasovsky
ellipsoid). The inverse has no closed form; it is solved by fixed-point
iteration to below 1e-9 degrees (about 0.1 mm), far inside GPS error.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from django.db import models
from django.utils.translation import gettext_lazy as _

_A = 6378245.0  # Krasovsky 1940 semi-major axis
_EE = 0.00669342162296594323  # Krasovsky 1940 first eccentricity squared
_INVERSE_TOLERANCE = 1e-10
_INVERSE_MAX_ITERATIONS = 30


class CoordinateSystem(models.TextChoices):
    WGS84 = "wgs84", _("WGS-84 (GPS, browsers)")
    GCJ02 = "gcj02", _("GCJ-02 (Chinese map SDKs)")


class InvalidCoordinates(ValueError):
    """Coordinates that are not a point on Earth, or a coordinate system we do not know."""


def parse_coordinate_system(value: str | None) -> CoordinateSystem:
    if value is None or value == "":
        return CoordinateSystem.WGS84
    normalized = value.strip().lower().replace("-", "").replace("_", "")
    for member in CoordinateSystem:
        if normalized == member.value:
            return member
    choices = ", ".join(member.value for member in CoordinateSystem)
    raise InvalidCoordinates(f"unknown coordinate system {value!r}; use one of: {choices}")


def check_lng_lat(lng: float, lat: float) -> tuple[float, float]:
    """Finite floats inside [-180, 180] x [-90, 90], or InvalidCoordinates."""
    try:
        lng_f, lat_f = float(lng), float(lat)
    except (TypeError, ValueError) as exc:
        raise InvalidCoordinates(f"coordinates must be numbers, got ({lng!r}, {lat!r})") from exc
    if not (math.isfinite(lng_f) and math.isfinite(lat_f)):
        raise InvalidCoordinates(f"coordinates must be finite, got ({lng!r}, {lat!r})")
    if not -180.0 <= lng_f <= 180.0:
        raise InvalidCoordinates(f"longitude {lng_f} is outside [-180, 180]")
    if not -90.0 <= lat_f <= 90.0:
        raise InvalidCoordinates(f"latitude {lat_f} is outside [-90, 90]")
    return lng_f, lat_f


def outside_china(lng: float, lat: float) -> bool:
    """GCJ-02 is only applied inside this box; outside it equals WGS-84."""
    return not (72.004 <= lng <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _delta(lng: float, lat: float) -> tuple[float, float]:
    x, y = lng - 105.0, lat - 35.0
    common = (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    d_lat += common
    d_lat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    d_lat += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    d_lng = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    d_lng += common
    d_lng += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    d_lng += (
        (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    )
    rad_lat = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lng = (d_lng * 180.0) / (_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return d_lng, d_lat


def wgs84_to_gcj02(lng: float, lat: float) -> tuple[float, float]:
    if outside_china(lng, lat):
        return lng, lat
    d_lng, d_lat = _delta(lng, lat)
    return lng + d_lng, lat + d_lat


def gcj02_to_wgs84(lng: float, lat: float) -> tuple[float, float]:
    """The WGS-84 point whose GCJ-02 image is (lng, lat)."""
    if outside_china(lng, lat):
        return lng, lat
    w_lng, w_lat = lng, lat
    for _iteration in range(_INVERSE_MAX_ITERATIONS):
        g_lng, g_lat = wgs84_to_gcj02(w_lng, w_lat)
        e_lng, e_lat = g_lng - lng, g_lat - lat
        if abs(e_lng) < _INVERSE_TOLERANCE and abs(e_lat) < _INVERSE_TOLERANCE:
            break
        w_lng, w_lat = w_lng - e_lng, w_lat - e_lat
    return w_lng, w_lat


def to_wgs84(lng: float, lat: float, crs: CoordinateSystem | str = CoordinateSystem.WGS84):
    """Validated WGS-84 (lng, lat) for a point given in ``crs``."""
    system = parse_coordinate_system(crs) if isinstance(crs, str) else crs
    lng, lat = check_lng_lat(lng, lat)
    if system == CoordinateSystem.GCJ02:
        return gcj02_to_wgs84(lng, lat)
    return lng, lat


def many_to_wgs84(
    points: Iterable[tuple[float, float]], crs: CoordinateSystem | str = CoordinateSystem.WGS84
) -> tuple[list[float], list[float]]:
    """Validate and convert many points; returns (longitudes, latitudes)."""
    system = parse_coordinate_system(crs) if isinstance(crs, str) else crs
    lngs: list[float] = []
    lats: list[float] = []
    for index, point in enumerate(points):
        try:
            lng, lat = to_wgs84(point[0], point[1], system)
        except (InvalidCoordinates, TypeError, IndexError) as exc:
            raise InvalidCoordinates(f"point #{index}: {exc}") from exc
        lngs.append(lng)
        lats.append(lat)
    return lngs, lats
