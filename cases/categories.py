"""Loading the standard categories (``category_data``) and resolving routes."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from django.apps import apps as django_apps
from django.db import transaction

from core.config_cache import ConfigCache
from organisation.models import Department

from . import category_data
from .models import Category, OverdueAction, RoutingRule, Stage, category_code

# What the sweep does when a stage goes red, until an administrator changes it.
DEFAULT_OVERDUE_POLICY = {
    Stage.REGISTER: OverdueAction.ESCALATE,
    Stage.VERIFY: OverdueAction.NONE,
    Stage.DISPATCH: OverdueAction.ESCALATE,
    Stage.ACKNOWLEDGE: OverdueAction.SUPERVISE,
    Stage.HANDLE: OverdueAction.SUPERVISE,
    Stage.INSPECT: OverdueAction.NONE,
}


_active = ConfigCache(
    lambda: {category.code: category for category in Category.objects.active()},
    models=[Category],
)


def active_category(code: str, *, citizens: bool = False) -> Category | None:
    """The active category with this code (one citizens may choose, with
    ``citizens``), or None. A copy of the cached one: callers may change it."""
    category = _active.get().get(code)
    if category is None or (citizens and not category.citizen_visible):
        return None
    return copy.copy(category)


def category_gone() -> None:
    """A cached category no longer exists: read them again."""
    _active.clear()


@dataclass(frozen=True)
class LoadResult:
    classes: int
    categories_created: int
    defaults_set: int


@transaction.atomic
def load_standard_categories(apps=None) -> LoadResult:
    """Create the standard classes, categories, their deadline rules and the
    overdue policy, where missing. Existing rows are left as administrators
    edited them, except that a category without a default department gets
    the standard one once a department with that code exists. Safe to run
    again. ``apps`` is a migration's app registry when run from one."""
    registry = apps or django_apps
    CategoryClass = registry.get_model("cases", "CategoryClass")
    Category = registry.get_model("cases", "Category")
    SlaRule = registry.get_model("cases", "SlaRule")
    OverduePolicy = registry.get_model("cases", "OverduePolicy")
    Department = registry.get_model("organisation", "Department")
    classes = {}
    for family, code, name, name_en in category_data.CLASSES:
        classes[family, code], _created = CategoryClass.objects.get_or_create(
            family=family, code=code, defaults={"name": name, "name_en": name_en}
        )
    departments = {d.code: d for d in Department.objects.filter(is_active=True)}
    created = defaults_set = 0
    for row in category_data.CATEGORIES:
        (family, major, minor, name, name_en, dept_code, urgency, visible, profile, radius,
         window) = row  # fmt: skip
        category, was_created = Category.objects.get_or_create(
            code=category_code(family, major, minor),
            defaults={
                "major": classes[family, major],
                "minor_code": minor,
                "name": name,
                "name_en": name_en,
                "default_urgency": urgency,
                "citizen_visible": visible,
                "duplicate_radius_m": radius,
                "duplicate_window_hours": window,
            },
        )
        if was_created:
            created += 1
            SlaRule.objects.bulk_create(
                SlaRule(category=category, stage=stage, amount=amount, unit=unit)
                for stage, (amount, unit) in category_data.SLA_PROFILES[profile].items()
            )
        department = departments.get(dept_code) if dept_code else None
        if department is not None and category.default_department_id is None:
            category.default_department = department
            category.save(update_fields=["default_department"])
            defaults_set += 1
    for stage, action in DEFAULT_OVERDUE_POLICY.items():
        OverduePolicy.objects.get_or_create(stage=stage.value, defaults={"on_red": action.value})
    return LoadResult(len(classes), created, defaults_set)


def route_for(*, category: Category | None, ancestor_ids: list[int]) -> Department | None:
    """The department for a case of ``category`` in the area whose ancestors
    (city first, the grid last) are ``ancestor_ids``: the rule on the deepest
    of those areas, else the category's default department, else None."""
    if category is None:
        return None
    depth = {area_id: i for i, area_id in enumerate(ancestor_ids)}
    rules = list(
        RoutingRule.objects.filter(
            category=category, area_id__in=ancestor_ids, department__is_active=True
        ).select_related("department")
    )
    if rules:
        return max(rules, key=lambda r: depth[r.area_id]).department
    default = category.default_department
    if default is not None and default.is_active:
        return default
    return None
