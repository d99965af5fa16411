"""Keep each department's permission group equal to its handlers.

Object permissions granted to a department (co-handling one case) are held
by the department's group, so they follow the people who hold the handler
role there, including people who join after the grant.
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from .models import Department, Role, RoleMembership


def _sync(user_id: int, department_id: int) -> None:
    department = Department.objects.select_related("group").get(pk=department_id)
    if department.group is None:
        department.save()
    is_handler = RoleMembership.objects.filter(
        user_id=user_id, role=Role.HANDLER, department_id=department_id
    ).exists()
    if is_handler:
        department.group.user_set.add(user_id)
    else:
        department.group.user_set.remove(user_id)


@receiver(pre_save, sender=RoleMembership)
def role_membership_changing(sender, instance: RoleMembership, **kwargs) -> None:
    """Remember what the membership was, so that leaving a department (or the
    handler role) also leaves the department's group."""
    instance._previous = (
        RoleMembership.objects.filter(pk=instance.pk)
        .values_list("user_id", "department_id")
        .first()
        if instance.pk
        else None
    )


@receiver(post_save, sender=RoleMembership)
@receiver(post_delete, sender=RoleMembership)
def role_membership_changed(sender, instance: RoleMembership, **kwargs) -> None:
    previous = getattr(instance, "_previous", None)
    if (
        previous
        and previous[1] is not None
        and previous
        != (
            instance.user_id,
            instance.department_id,
        )
    ):
        _sync(*previous)
    if instance.department_id is not None:
        _sync(instance.user_id, instance.department_id)
