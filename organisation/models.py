"""People, departments and roles.

A person may hold several roles, each scoped as its kind requires:

    grid_worker  their grids come from grids.GridAssignment
    dispatcher   a command centre: an area at community level or above
    handler      a department
    supervisor   an area subtree
    admin        configuration, no scope
    citizen      their own tips
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, Group
from django.contrib.gis.db import models
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.get_username()


class Department(models.Model):
    """A functional department (职能部门) that handles cases in its jurisdiction."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    jurisdiction = models.ForeignKey(
        "grids.Area",
        verbose_name=_("jurisdiction"),
        on_delete=models.PROTECT,
        related_name="departments",
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    is_active = models.BooleanField(_("active"), default=True)
    # Object permissions granted to the department (co-handling a case) go to
    # this group; its members are the department's handlers (kept in step by
    # organisation.signals).
    group = models.OneToOneField(
        Group, on_delete=models.PROTECT, null=True, blank=True, editable=False, related_name="+"
    )

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if self.group_id is None:
            self.group, _created = Group.objects.get_or_create(name=f"department:{self.code}")
        super().save(*args, **kwargs)


class Role(models.TextChoices):
    CITIZEN = "citizen", _("citizen")
    GRID_WORKER = "grid_worker", _("grid worker")
    DISPATCHER = "dispatcher", _("dispatcher")
    HANDLER = "handler", _("handler")
    SUPERVISOR = "supervisor", _("supervisor")
    ADMIN = "admin", _("administrator")


class RoleMembership(models.Model):
    """One role of one person, with the scope that role needs."""

    user = models.ForeignKey(
        "organisation.User",
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="roles",
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    area = models.ForeignKey(
        "grids.Area",
        verbose_name=_("area"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="role_memberships",
        help_text=_("The command centre's area for a dispatcher; the subtree for a supervisor."),
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="memberships",
    )

    class Meta:
        verbose_name = _("role membership")
        verbose_name_plural = _("role memberships")
        constraints = [
            models.CheckConstraint(
                name="organisation_role_scope",
                condition=(
                    Q(role__in=["dispatcher", "supervisor"], area__isnull=False, department=None)
                    | Q(role="handler", department__isnull=False, area=None)
                    | Q(role__in=["citizen", "grid_worker", "admin"], area=None, department=None)
                ),
                violation_error_message=_(
                    "Dispatchers and supervisors need an area, handlers a department; "
                    "other roles take no scope."
                ),
            ),
            models.UniqueConstraint(
                fields=["user", "role", "area", "department"],
                nulls_distinct=False,
                name="organisation_role_unique",
            ),
        ]

    def clean(self) -> None:
        from grids.models import Level

        if (
            self.role == Role.DISPATCHER
            and self.area_id is not None
            and self.area.level > Level.COMMUNITY
        ):
            raise ValidationError(
                {
                    "area": _(
                        "A command centre is at community, subdistrict, district or city level."
                    )
                }
            )

    def __str__(self) -> str:
        scope = self.area or self.department
        return f"{self.user} · {self.get_role_display()}" + (f" · {scope}" if scope else "")
