"""Import area boundaries from GeoJSON, Shapefile or anything else GDAL reads.

Each feature is one area with these attributes:

    code         required; the area's code (see grids.codes)
    name         required; Chinese name
    level        required; 1-5 or city / district / subdistrict / community / grid
    name_en      optional; English name
    parent_code  optional for subdistricts, communities and grids (implied by
                 the code), and for districts when the city is unambiguous

Geometries must be polygons or multipolygons; they are reprojected to WGS-84
when the layer declares another spatial reference, and flattened to 2D.

Areas are created or updated by code, parents before children, so one file
may carry a whole tree. Importing the same file twice changes nothing.

The import is all-or-nothing: when any feature is rejected, nothing is
written (unless ``skip_invalid`` is set, in which case the valid features
whose parents are valid are written and the rest reported). Everything is
written in one transaction either way.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.gis.gdal import DataSource, GDALException, OGRGeometry, SpatialReference
from django.contrib.gis.geos import GEOSException, GEOSGeometry, MultiPolygon
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.utils import timezone

from . import codes
from .models import Area, Level
from .services import as_multipolygon

WGS84 = SpatialReference(4326)
# Formats whose content can make GDAL open other files or URLs.
REFUSED_DRIVERS = {"VRT", "OGR_VRT"}
NAME_LENGTH = Area._meta.get_field("name").max_length
NAME_EN_LENGTH = Area._meta.get_field("name_en").max_length


class ImportFileError(Exception):
    """The file as a whole cannot be read."""


class ImportAborted(Exception):
    """The database refused the write; nothing was imported."""


@dataclass(frozen=True)
class Rejection:
    feature: str
    reason: str
    code: str | None = None

    def __str__(self) -> str:
        return f"{self.feature}: {self.reason}"


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    applied: bool = False


@dataclass
class _Feature:
    label: str
    code: str
    name: str
    name_en: str
    level: Level
    parent_code: str | None
    boundary: MultiPolygon


class _Rejected(Exception):
    pass


def _field(feature, names: set[str], name: str) -> str | None:
    if name not in names:
        return None
    value = feature.get(name)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _geometry(ogr: OGRGeometry | None, transform_from: SpatialReference | None) -> MultiPolygon:
    if ogr is None:
        raise _Rejected("the feature has no geometry")
    try:
        ogr = ogr.clone()
        if ogr.is_3d:
            ogr.set_3d(False)
        if ogr.is_measured:
            ogr.set_measured(False)
        if transform_from is not None:
            ogr.transform(WGS84)
        geometry: GEOSGeometry = ogr.geos
    except (GDALException, GEOSException) as exc:
        raise _Rejected(f"the geometry cannot be read: {exc}") from exc
    geometry.srid = 4326
    try:
        boundary = as_multipolygon(geometry)
    except ValidationError as exc:
        raise _Rejected(" ".join(exc.messages)) from exc
    min_x, min_y, max_x, max_y = boundary.extent
    if not (-180 <= min_x <= max_x <= 180 and -90 <= min_y <= max_y <= 90) or not all(
        math.isfinite(v) for v in boundary.extent
    ):
        raise _Rejected(
            "the coordinates are not longitude/latitude; declare the file's spatial reference"
        )
    return boundary


def _read(text: str, layer_name: str | None) -> Iterator[_Feature | Rejection]:
    if text.startswith("/vsi") or "://" in text:
        raise ImportFileError(f"{text}: only local files can be imported")
    path = Path(text)
    if not path.exists():
        raise ImportFileError(f"{text}: no such file")
    try:
        source = DataSource(text)
    except GDALException as exc:
        raise ImportFileError(f"{text}: not a spatial data file GDAL can read ({exc})") from exc
    if source.driver.name in REFUSED_DRIVERS:
        raise ImportFileError(f"{text}: {source.driver.name} files may point at other files")
    if layer_name is not None:
        try:
            layers = [source[layer_name]]
        except (IndexError, KeyError, GDALException) as exc:
            raise ImportFileError(f"{text}: no layer named {layer_name!r}") from exc
    else:
        layers = list(source)
    if not layers:
        raise ImportFileError(f"{text}: the file has no layers")
    for layer in layers:
        names = set(layer.fields)
        missing = {"code", "name", "level"} - names
        if missing:
            raise ImportFileError(
                f"{text}: layer {layer.name!r} lacks the attribute(s) {', '.join(sorted(missing))}"
            )
        srs = layer.srs
        transform_from = srs if srs is not None and not _is_wgs84(srs) else None
        for index, feature in enumerate(layer):
            code = _field(feature, names, "code")
            label = f"feature #{index + 1}" + (f" (code {code})" if code else "")
            try:
                if code is None:
                    raise _Rejected("the code is missing")
                name = _field(feature, names, "name")
                if name is None:
                    raise _Rejected("the name is missing")
                name_en = _field(feature, names, "name_en") or ""
                if len(name) > NAME_LENGTH or len(name_en) > NAME_EN_LENGTH:
                    raise _Rejected(
                        f"the name is longer than {NAME_LENGTH} characters "
                        f"or the English name longer than {NAME_EN_LENGTH}"
                    )
                raw_level = _field(feature, names, "level")
                if raw_level is None:
                    raise _Rejected("the level is missing")
                try:
                    level = Level.parse(int(raw_level) if raw_level.isdigit() else raw_level)
                except ValueError as exc:
                    raise _Rejected(f"unknown level {raw_level!r}") from exc
                item: _Feature | Rejection = _Feature(
                    label=label,
                    code=code,
                    name=name,
                    name_en=name_en,
                    level=level,
                    parent_code=_field(feature, names, "parent_code"),
                    boundary=_geometry(_feature_geometry(feature), transform_from),
                )
            except _Rejected as exc:
                item = Rejection(label, str(exc), code)
            yield item


def _feature_geometry(feature) -> OGRGeometry | None:
    try:
        return feature.geom
    except GDALException:  # a feature with a null geometry
        return None


def _is_wgs84(srs: SpatialReference) -> bool:
    try:
        return srs.srid == 4326 or (srs.geographic and srs.name in ("WGS 84", "WGS84"))
    except GDALException:
        return False


class _Plan:
    """Decides, feature by feature and parents first, what the import will do."""

    def __init__(self, features: list[_Feature], report: ImportReport):
        self.report = report
        self.features = sorted(features, key=lambda f: (f.level, f.code))
        wanted = {f.code for f in features} | {f.parent_code for f in features if f.parent_code}
        wanted |= {codes.parent_code_of(f.level, f.code) for f in features} - {None}
        wanted |= {
            candidate
            for f in features
            if f.level == Level.DISTRICT
            for candidate in codes.candidate_city_codes(f.code)
        }
        self.existing = {a.code: a for a in Area.objects.filter(code__in=wanted)}
        self.accepted: dict[str, _Feature] = {}
        self.rejected_codes: set[str] = set()
        self.creates: list[_Feature] = []
        self.updates: list[tuple[_Feature, Area]] = []

    def reject(self, feature: _Feature, reason: str) -> None:
        self.report.rejected.append(Rejection(feature.label, reason, feature.code))
        self.rejected_codes.add(feature.code)

    def _parent_code(self, feature: _Feature) -> str | None:
        if feature.parent_code:
            return feature.parent_code
        implied = codes.parent_code_of(feature.level, feature.code)
        if implied or feature.level != Level.DISTRICT:
            return implied
        for candidate in codes.candidate_city_codes(feature.code):
            if candidate in self.accepted or candidate in self.existing:
                return candidate
        return None

    def _parent_level(self, parent_code: str) -> int | None:
        if parent_code in self.accepted:
            return self.accepted[parent_code].level
        if parent_code in self.existing:
            return self.existing[parent_code].level
        return None

    def decide(self) -> None:
        seen: dict[str, int] = {}
        for feature in self.features:
            seen[feature.code] = seen.get(feature.code, 0) + 1
        for feature in self.features:
            if seen[feature.code] > 1:
                self.reject(feature, "the code appears more than once in the file")
                continue
            if feature.code in self.rejected_codes:  # a copy was unreadable
                self.reject(feature, "the code appears more than once in the file")
                continue
            try:
                codes.check_format(feature.level, feature.code)
            except codes.CodeError as exc:
                self.reject(feature, str(exc))
                continue
            parent_code = None
            if feature.level != Level.CITY:
                parent_code = self._parent_code(feature)
                if parent_code is None:
                    self.reject(feature, "the parent is unknown: give parent_code")
                    continue
                if parent_code in self.rejected_codes:
                    self.reject(feature, f"its parent {parent_code} was rejected")
                    continue
                parent_level = self._parent_level(parent_code)
                if parent_level is None:
                    self.reject(feature, f"the parent {parent_code} is unknown")
                    continue
                if parent_level != feature.level - 1:
                    self.reject(
                        feature,
                        f"wrong level: a {feature.level.label} must sit under a "
                        f"{Level(feature.level - 1).label}, but {parent_code} is a "
                        f"{Level(parent_level).label}",
                    )
                    continue
            try:
                codes.check_code(feature.level, feature.code, parent_code)
            except codes.CodeError as exc:
                self.reject(feature, str(exc))
                continue
            feature.parent_code = parent_code
            existing = self.existing.get(feature.code)
            if existing is not None and existing.level != feature.level:
                self.reject(
                    feature,
                    f"wrong level: {feature.code} exists as a {Level(existing.level).label}; "
                    "the level of an area cannot change",
                )
                continue
            self.accepted[feature.code] = feature
            if existing is None:
                self.creates.append(feature)
            elif self._changed(feature, existing):
                self.updates.append((feature, existing))
            else:
                self.report.unchanged += 1

    def _changed(self, feature: _Feature, area: Area) -> bool:
        parent = self.existing.get(feature.parent_code) if feature.parent_code else None
        return (
            area.name != feature.name
            or area.name_en != feature.name_en
            or (parent is None and feature.parent_code is not None)
            or (parent is not None and area.parent_id != parent.pk)
            or not area.boundary.equals_exact(feature.boundary, 1e-9)
        )

    def apply(self) -> None:
        """Write creates and updates level by level, parents first."""
        ids = {code: area.pk for code, area in self.existing.items()}
        now = timezone.now()
        for level in Level:
            new = [
                Area(
                    level=f.level,
                    code=f.code,
                    name=f.name,
                    name_en=f.name_en,
                    parent_id=ids[f.parent_code] if f.parent_code else None,
                    boundary=f.boundary,
                )
                for f in self.creates
                if f.level == level
            ]
            for area in Area.objects.bulk_create(new, batch_size=500):
                ids[area.code] = area.pk
            changed = []
            for feature, area in self.updates:
                if feature.level != level:
                    continue
                area.name, area.name_en, area.boundary = (
                    feature.name,
                    feature.name_en,
                    feature.boundary,
                )
                area.parent_id = ids[feature.parent_code] if feature.parent_code else None
                area.updated_at = now
                changed.append(area)
            Area.objects.bulk_update(
                changed, ["name", "name_en", "boundary", "parent", "updated_at"], batch_size=500
            )
        self.report.created = len(self.creates)
        self.report.updated = len(self.updates)


def import_areas(
    path: str | Path,
    *,
    layer: str | None = None,
    skip_invalid: bool = False,
    dry_run: bool = False,
) -> ImportReport:
    """Import a boundary file; see the module docstring for the rules."""
    report = ImportReport()
    features: list[_Feature] = []
    for item in _read(str(path), layer):
        if isinstance(item, Rejection):
            report.rejected.append(item)
        else:
            features.append(item)
    try:
        with transaction.atomic():
            plan = _Plan(features, report)
            plan.rejected_codes |= {r.code for r in report.rejected if r.code}
            plan.decide()
            if report.rejected and not skip_invalid:
                report.created = len(plan.creates)
                report.updated = len(plan.updates)
                return report
            plan.apply()
            if dry_run:
                transaction.set_rollback(True)
                return report
    except DatabaseError as exc:
        raise ImportAborted(
            f"the database refused the import, nothing was imported: {exc}"
        ) from exc
    report.applied = True
    return report
