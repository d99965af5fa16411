"""The five-level area tree (city / district / subdistrict / community / grid)
and the assignment of grid workers to grids.

Integrity lives in the database as well as here: a trigger (see migration
0003) rejects a child that is not exactly one level below its parent or whose
code does not extend its parent's, keeps the materialised ``path`` right
(including for the whole subtree when a parent changes) and refuses level
changes.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateRangeField, RangeOperators
from django.core.exceptions import ValidationError
from django.db.models import Count, F, Func, Q, Value
from django.utils.translation import gettext_lazy as _

from . import codes


class Level(models.IntegerChoices):
    CITY = 1, _("city")
    DISTRICT = 2, _("district")
    SUBDISTRICT = 3, _("subdistrict")
    COMMUNITY = 4, _("community")
    GRID = 5, _("grid")

    @classmethod
    def parse(cls, value: object) -> Level:
        """A level from its number or its English name; ValueError otherwise."""
        if isinstance(value, str):
            text = value.strip().lower()
            for member in cls:
                if text in (member.name.lower(), str(member.value)):
                    return member
            raise ValueError(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return cls(value)
        raise ValueError(value)


class AreaQuerySet(models.QuerySet["Area"]):
    def grids(self) -> AreaQuerySet:
        return self.filter(level=Level.GRID)

    def subtree(self, area: Area, *, include_self: bool = True) -> AreaQuerySet:
        """Everything under ``area``: one indexed prefix query on ``path``."""
        if not area.path:
            raise ValueError(f"{area} has no path loaded; refresh it from the database")
        qs = self.filter(path__startswith=area.path)
        return qs if include_self else qs.exclude(pk=area.pk)

    def without_geometry(self) -> AreaQuerySet:
        """Boundaries are large; lists and lookups rarely need them."""
        return self.defer("boundary")

    def counts_by_level(self) -> dict[Level, int]:
        """Areas per level, counted in the database (levels with none omitted)."""
        rows = self.order_by().values("level").annotate(n=Count("id")).values_list("level", "n")
        return {Level(level): n for level, n in sorted(rows)}

    def level_counts(self) -> dict[str, int]:
        return {level.label: n for level, n in self.counts_by_level().items()}


class Area(models.Model):
    """A node of the area tree: one of the five levels, with its boundary."""

    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices)
    code = models.CharField(
        _("code"),
        max_length=15,
        unique=True,
        help_text=_(
            "6-digit GB/T 2260 division code, then 3 digits each for subdistrict, "
            "community and grid (15 digits for a grid)."
        ),
    )
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    # Materialised path of ids, "/1/8/70/": set by the database trigger.
    path = models.CharField(_("path"), max_length=255, editable=False, default="")
    # Besides this field's GiST index, migration 0003 adds a partial GiST index
    # over grid boundaries only (GeoDjango's schema editor drops the condition
    # of a partial spatial index declared in Meta).
    boundary = models.MultiPolygonField(_("boundary"), srid=settings.GRIDS_SRID)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = AreaQuerySet.as_manager()

    class Meta:
        verbose_name = _("area")
        verbose_name_plural = _("areas")
        ordering = ["code"]
        indexes = [
            # "Everything under this street" is path LIKE '/1/8/70/%'.
            models.Index(
                fields=["path"], name="grids_area_path_like", opclasses=["text_pattern_ops"]
            ),
            models.Index(fields=["level", "code"], name="grids_area_level_code"),
            models.Index(fields=["parent", "code"], name="grids_area_parent_code"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(level__gte=Level.CITY, level__lte=Level.GRID),
                name="grids_area_level_range",
            ),
            models.CheckConstraint(
                condition=Q(level=Level.CITY, parent__isnull=True)
                | Q(level__gt=Level.CITY, parent__isnull=False),
                name="grids_area_root_is_city",
            ),
            models.CheckConstraint(
                condition=(
                    Q(level=Level.CITY, code__regex=r"^[1-9][0-9]{3}00$")
                    | Q(level=Level.DISTRICT, code__regex=r"^[1-9][0-9]{5}$")
                    | Q(level=Level.SUBDISTRICT, code__regex=r"^[0-9]{9}$")
                    | Q(level=Level.COMMUNITY, code__regex=r"^[0-9]{12}$")
                    | Q(level=Level.GRID, code__regex=r"^[0-9]{15}$")
                ),
                name="grids_area_code_format",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def ancestor_ids(self) -> list[int]:
        """Ids from the city down to this area itself."""
        return codes.path_ids(self.path)

    def clean(self) -> None:
        from .services import as_multipolygon, validate_area_placement

        validate_area_placement(
            level=self.level, code=self.code, parent=self.parent, instance_pk=self.pk
        )
        if self.boundary is not None:
            try:
                as_multipolygon(self.boundary)
            except ValidationError as exc:
                raise ValidationError({"boundary": exc.messages}) from exc


class GridAssignment(models.Model):
    """A grid worker is responsible for a grid from ``start_date`` to ``end_date``
    (inclusive; open-ended when empty). One person may hold several grids; the
    same person cannot hold the same grid twice over overlapping dates."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("grid worker"),
        on_delete=models.CASCADE,
        related_name="grid_assignments",
    )
    grid = models.ForeignKey(
        Area,
        verbose_name=_("grid"),
        on_delete=models.PROTECT,
        related_name="assignments",
        limit_choices_to={"level": Level.GRID},
    )
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"), null=True, blank=True)

    class Meta:
        verbose_name = _("grid assignment")
        verbose_name_plural = _("grid assignments")
        ordering = ["grid__code", "start_date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="grids_assignment_dates_ordered",
            ),
            ExclusionConstraint(
                name="grids_assignment_no_overlap",
                expressions=[
                    ("user", RangeOperators.EQUAL),
                    ("grid", RangeOperators.EQUAL),
                    (
                        Func(
                            F("start_date"),
                            F("end_date"),
                            Value("[]"),
                            function="daterange",
                            output_field=DateRangeField(),
                        ),
                        RangeOperators.OVERLAPS,
                    ),
                ],
            ),
        ]

    def __str__(self) -> str:
        until = self.end_date.isoformat() if self.end_date else "…"
        return f"{self.user} @ {self.grid.code} ({self.start_date.isoformat()} to {until})"

    def clean(self) -> None:
        if self.grid_id and self.grid.level != Level.GRID:
            raise ValidationError({"grid": _("Grid workers are assigned to grids only.")})
        if self.end_date and self.start_date and self.end_date < self.start_date:
            raise ValidationError({"end_date": _("The end date is before the start date.")})
