"""Writes to the area tree and to grid assignments."""

from __future__ import annotations

from datetime import date

from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Polygon
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from . import codes
from .models import Area, GridAssignment, Level


def as_multipolygon(geometry: GEOSGeometry) -> MultiPolygon:
    """Promote a Polygon; refuse anything that is not areal, empty or invalid."""
    if isinstance(geometry, Polygon):
        geometry = MultiPolygon(geometry, srid=geometry.srid)
    if not isinstance(geometry, MultiPolygon):
        raise ValidationError(
            _("The boundary must be a polygon or multipolygon, not %(type)s.")
            % {"type": geometry.geom_type}
        )
    if geometry.empty:
        raise ValidationError(_("The boundary is empty."))
    if not geometry.valid:
        raise ValidationError(
            _("The boundary is not a valid geometry: %(reason)s")
            % {"reason": geometry.valid_reason}
        )
    return geometry


def validate_area_placement(
    *, level: int, code: str, parent: Area | None, instance_pk: int | None = None
) -> None:
    """The rules of the tree: a city has no parent; any other area sits exactly
    one level below its parent and its code extends its parent's code."""
    if level not in Level.values:
        raise ValidationError({"level": _("Choose one of the five levels.")})
    errors: dict[str, str] = {}
    if level == Level.CITY and parent is not None:
        errors["parent"] = _("A city has no parent.")
    elif level != Level.CITY and parent is None:
        errors["parent"] = _("Only a city may have no parent.")
    elif parent is not None and parent.level != level - 1:
        errors["parent"] = _(
            "A %(level)s must sit directly under a %(expected)s; %(parent)s is a %(actual)s."
        ) % {
            "level": Level(level).label,
            "expected": Level(level - 1).label,
            "parent": parent.code,
            "actual": Level(parent.level).label,
        }
    if instance_pk is not None and parent is not None and parent.pk == instance_pk:
        errors["parent"] = _("An area cannot be its own parent.")
    if "parent" not in errors:
        try:
            codes.check_code(level, code, parent.code if parent else None)
        except codes.CodeError as exc:
            errors["code"] = str(exc)
    if instance_pk is not None:
        current = Area.objects.filter(pk=instance_pk).values_list("level", "code").first()
        if current is not None and current[0] != level:
            errors["level"] = _("The level of an existing area cannot change.")
        if (
            current is not None
            and current[1] != code
            and Area.objects.filter(parent_id=instance_pk).exists()
        ):
            errors["code"] = _("The code of an area with children cannot change.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def area_create(
    *,
    level: int,
    code: str,
    name: str,
    boundary: GEOSGeometry,
    parent: Area | None = None,
    name_en: str = "",
) -> Area:
    validate_area_placement(level=level, code=code, parent=parent)
    area = Area(
        level=level,
        code=code,
        name=name,
        name_en=name_en,
        parent=parent,
        boundary=as_multipolygon(boundary),
    )
    exists = ValidationError({"code": _("An area with code %(code)s exists.") % {"code": code}})
    if Area.objects.filter(code=code).exists():
        raise exists
    try:
        with transaction.atomic():
            area.save()
    except IntegrityError as exc:  # only a concurrent insert of the same code is expected
        if getattr(exc.__cause__, "sqlstate", None) == "23505":
            raise exists from exc
        raise
    area.refresh_from_db(fields=["path"])
    return area


def grid_assignment_create(
    *, user, grid: Area, start_date: date, end_date: date | None = None
) -> GridAssignment:
    assignment = GridAssignment(user=user, grid=grid, start_date=start_date, end_date=end_date)
    assignment.full_clean()
    try:
        assignment.save()
    except IntegrityError as exc:  # a concurrent assignment won the exclusion constraint
        raise ValidationError(
            _("%(user)s already holds grid %(grid)s on some of these dates.")
            % {"user": user, "grid": grid.code}
        ) from exc
    return assignment
