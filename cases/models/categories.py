"""Case categories (GB/T 30428.2), their deadlines, routing and overdue policy.

A category is a minor class (小类) in a major class (大类) of one of two
families: components (部件, physical facilities) and incidents (事件,
behaviour and events). Its code is the family's pinyin initials and the two
two-digit codes: ``BJ0101`` is component 01 (public facilities) minor 01.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Family(models.TextChoices):
    COMPONENT = "component", _("component (部件)")
    INCIDENT = "incident", _("incident (事件)")


FAMILY_PREFIX = {Family.COMPONENT: "BJ", Family.INCIDENT: "SJ"}


class Urgency(models.TextChoices):
    NORMAL = "normal", _("normal")
    URGENT = "urgent", _("urgent")
    CRITICAL = "critical", _("critical")


class Stage(models.TextChoices):
    """The stages of the loop that each carry a deadline."""

    REGISTER = "register", _("registration")
    VERIFY = "verify", _("verification on site")
    DISPATCH = "dispatch", _("dispatch")
    ACKNOWLEDGE = "acknowledge", _("acknowledgement")
    HANDLE = "handle", _("handling")
    INSPECT = "inspect", _("inspection")


class TimeUnit(models.TextChoices):
    NATURAL_MINUTES = "natural_minutes", _("natural minutes")
    WORKING_HOURS = "working_hours", _("working hours")
    WORKING_DAYS = "working_days", _("working days")


class CategoryClass(models.Model):
    """A major class (大类)."""

    family = models.CharField(_("family"), max_length=10, choices=Family.choices)
    code = models.CharField(_("code"), max_length=2)
    name = models.CharField(_("name"), max_length=50)
    name_en = models.CharField(_("English name"), max_length=100)

    class Meta:
        verbose_name = _("major category")
        verbose_name_plural = _("major categories")
        ordering = ["family", "code"]
        constraints = [
            models.UniqueConstraint(fields=["family", "code"], name="cases_class_unique"),
            models.CheckConstraint(condition=Q(code__regex=r"^[0-9]{2}$"), name="cases_class_code"),
        ]

    def __str__(self) -> str:
        return f"{FAMILY_PREFIX[Family(self.family)]}{self.code} {self.name}"


class CategoryQuerySet(models.QuerySet["Category"]):
    def active(self) -> CategoryQuerySet:
        return self.filter(is_active=True)

    def for_citizens(self) -> CategoryQuerySet:
        return self.active().filter(citizen_visible=True)


class Category(models.Model):
    """A minor class (小类): what a case is about."""

    major = models.ForeignKey(
        CategoryClass,
        verbose_name=_("major category"),
        on_delete=models.PROTECT,
        related_name="categories",
    )
    minor_code = models.CharField(_("minor code"), max_length=2)
    code = models.CharField(_("code"), max_length=6, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=50)
    name_en = models.CharField(_("English name"), max_length=100)
    default_department = models.ForeignKey(
        "organisation.Department",
        verbose_name=_("default department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="default_categories",
        help_text=_("Used when no routing rule for the case's area applies."),
    )
    default_urgency = models.CharField(
        _("default urgency"), max_length=10, choices=Urgency.choices, default=Urgency.NORMAL
    )
    citizen_visible = models.BooleanField(_("citizens may choose it"), default=True)
    duplicate_radius_m = models.PositiveIntegerField(
        _("duplicate radius (m)"),
        default=50,
        help_text=_("Open cases of this category this close are offered as duplicates."),
    )
    duplicate_window_hours = models.PositiveIntegerField(
        _("duplicate window (hours)"),
        default=72,
        help_text=_("…if they were reported within this many hours."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    objects = CategoryQuerySet.as_manager()

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["major", "minor_code"], name="cases_category_unique"),
            models.CheckConstraint(
                condition=Q(minor_code__regex=r"^[0-9]{2}$"), name="cases_category_minor_code"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def save(self, *args, **kwargs):
        self.code = category_code(self.major.family, self.major.code, self.minor_code)
        super().save(*args, **kwargs)


def category_code(family: str, major_code: str, minor_code: str) -> str:
    return f"{FAMILY_PREFIX[Family(family)]}{major_code}{minor_code}"


class SlaRule(models.Model):
    """The time limit of one stage. The most specific rule wins: category and
    urgency, then category, then urgency, then the default (neither)."""

    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="sla_rules",
    )
    urgency = models.CharField(
        _("urgency"), max_length=10, choices=Urgency.choices, blank=True, default=""
    )
    stage = models.CharField(_("stage"), max_length=12, choices=Stage.choices)
    amount = models.PositiveIntegerField(_("limit"))
    unit = models.CharField(_("unit"), max_length=16, choices=TimeUnit.choices)

    class Meta:
        verbose_name = _("deadline rule")
        verbose_name_plural = _("deadline rules")
        ordering = ["category__code", "urgency", "stage"]
        constraints = [
            models.UniqueConstraint(
                fields=["category", "urgency", "stage"],
                nulls_distinct=False,
                name="cases_slarule_unique",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="cases_slarule_positive"),
        ]

    def __str__(self) -> str:
        scope = self.category.code if self.category_id else _("default")
        limit = f"{self.amount} {self.get_unit_display()}"
        return f"{scope} {self.urgency or '*'} {self.get_stage_display()}: {limit}"


class AttributeType(models.TextChoices):
    """Open311 GeoReport v2 attribute data types."""

    STRING = "string", _("short text")
    NUMBER = "number", _("number")
    DATETIME = "datetime", _("date and time")
    TEXT = "text", _("long text")
    SINGLE = "singlevaluelist", _("one of a list")
    MULTI = "multivaluelist", _("several of a list")


class CategoryAttribute(models.Model):
    """A question a reporter answers for a category (an Open311 service
    definition attribute), such as "Is anyone hurt?"."""

    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.CASCADE, related_name="attributes"
    )
    code = models.SlugField(_("code"), max_length=50)
    description = models.CharField(_("question"), max_length=200)
    description_en = models.CharField(_("question in English"), max_length=300, blank=True)
    datatype = models.CharField(_("type"), max_length=16, choices=AttributeType.choices)
    datatype_description = models.CharField(_("hint"), max_length=200, blank=True)
    required = models.BooleanField(_("required"), default=False)
    variable = models.BooleanField(
        _("answered by the reporter"),
        default=True,
        help_text=_("Off for information shown to the reporter only."),
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    values = models.JSONField(
        _("choices"),
        default=list,
        blank=True,
        help_text=_('For lists: [{"key": "yes", "name": "是"}, …].'),
    )

    class Meta:
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        ordering = ["category", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["category", "code"], name="cases_attribute_code"),
        ]

    def __str__(self) -> str:
        return f"{self.category_id} {self.code}"

    def clean(self) -> None:
        is_list = self.datatype in (AttributeType.SINGLE, AttributeType.MULTI)
        values = self.values or []
        well_formed = isinstance(values, list) and all(
            isinstance(v, dict)
            and set(v) == {"key", "name"}
            and all(isinstance(v[k], str) and v[k].strip() for k in ("key", "name"))
            for v in values
        )
        if not well_formed:
            raise ValidationError(
                {"values": _('Write the choices as [{"key": "…", "name": "…"}, …].')}
            )
        if is_list and not values:
            raise ValidationError({"values": _("A list question needs its choices.")})
        if not is_list and values:
            raise ValidationError({"values": _("Only list questions have choices.")})
        keys = [v["key"] for v in values]
        if len(keys) != len(set(keys)):
            raise ValidationError({"values": _("Each choice needs its own key.")})


class RoutingRule(models.Model):
    """Cases of ``category`` in ``area`` (and everything under it) go to
    ``department``. The rule on the deepest area containing the case wins."""

    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.CASCADE, related_name="routes"
    )
    area = models.ForeignKey(
        "grids.Area", verbose_name=_("area"), on_delete=models.CASCADE, related_name="routes"
    )
    department = models.ForeignKey(
        "organisation.Department",
        verbose_name=_("department"),
        on_delete=models.PROTECT,
        related_name="routes",
    )

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        ordering = ["category__code", "area__code"]
        constraints = [
            models.UniqueConstraint(fields=["category", "area"], name="cases_route_unique")
        ]

    def __str__(self) -> str:
        return f"{self.category.code} @ {self.area.code} → {self.department}"


class OverdueAction(models.TextChoices):
    NONE = "none", _("flag and notify only")
    ESCALATE = "escalate", _("escalate to the next command level")
    SUPERVISE = "supervise", _("issue a supervision order")


class OverduePolicy(models.Model):
    """What the sweep does, besides flagging and notifying, when a stage goes red."""

    stage = models.CharField(_("stage"), max_length=12, choices=Stage.choices, primary_key=True)
    on_red = models.CharField(
        _("when overdue"), max_length=10, choices=OverdueAction.choices, default=OverdueAction.NONE
    )
    order_working_hours = models.PositiveIntegerField(
        _("supervision order deadline (working hours)"), default=8
    )

    class Meta:
        verbose_name = _("overdue policy")
        verbose_name_plural = _("overdue policies")
        ordering = ["stage"]

    def __str__(self) -> str:
        return f"{self.get_stage_display()}: {self.get_on_red_display()}"
