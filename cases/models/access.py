"""Explicit, per-case exceptions to the role scopes (django-guardian, with
direct foreign keys so a visibility check is an indexed join, not a cast of
a generic object id):

* ``cohandle_case`` to a department's group: a co-handling department (协办);
* ``view_case`` to one user: a named person who may follow one case.
"""

from __future__ import annotations

from django.db import models
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from .case import Case


class CaseUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="user_grants")

    class Meta(UserObjectPermissionBase.Meta):
        abstract = False


class CaseGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="group_grants")

    class Meta(GroupObjectPermissionBase.Meta):
        abstract = False
