"""Live connections follow what their user may still see and be.

A connection's access is checked when it joins a group; these receivers tell
the user's open connections when that access changes, by a control message
to the user's own group (``notifications.live.control``, sent after commit):

    scope   their roles or grid assignments changed: each connection reads
            the scope again and leaves the groups it no longer allows
    close   the session signed out (that session's connections), the token
            was deleted (that token's), the password changed (every session
            connection: Django signs those sessions out too; a token stays
            valid, as in the REST API), the account was deactivated or
            deleted (every connection)

Changes made without model signals (``QuerySet.update``, bulk deletes, raw
SQL) send nothing: a connection then reads its scope again after midnight or
on its next subscription, and a deactivated user's next sign-in fails.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from rest_framework.authtoken.models import Token

from grids.models import GridAssignment
from organisation.models import RoleMembership

from . import auth, live
from .consumers import CLOSE_DEACTIVATED, CLOSE_UNAUTHENTICATED

# The user fields whose change closes connections.
_ACCESS_FIELDS = {"is_active", "password"}


def _after_commit(user_ids, action: str, **fields) -> None:
    ids = sorted({pk for pk in user_ids if pk is not None})
    if ids:
        transaction.on_commit(lambda: live.control(ids, action, **fields))


def scope_changed(sender, instance, **kwargs) -> None:
    """A role membership or grid assignment was saved or deleted."""
    previous = getattr(instance, "_previous", None)  # organisation.signals keeps it
    _after_commit([instance.user_id, previous[0] if previous else None], "scope")


def signed_out(sender, request, user, **kwargs) -> None:
    key = getattr(getattr(request, "session", None), "session_key", None)
    if user is not None and key:
        credential = auth.credential(auth.SESSION, key)
        _after_commit([user.pk], "close", code=CLOSE_UNAUTHENTICATED, credential=credential)


def user_saving(sender, instance, update_fields=None, **kwargs) -> None:
    """Remember the access fields as stored, when this save may change them."""
    instance._access_before = None
    if instance.pk is None:
        return
    if update_fields is not None and not _ACCESS_FIELDS & set(update_fields):
        return  # a sign-in's last_login, a profile edit: no query
    instance._access_before = (
        sender.objects.filter(pk=instance.pk).values_list("is_active", "password").first()
    )


def user_saved(sender, instance, created, **kwargs) -> None:
    before = getattr(instance, "_access_before", None)
    if before is None:
        return
    was_active, password = before
    if was_active and not instance.is_active:
        _after_commit([instance.pk], "close", code=CLOSE_DEACTIVATED)
    elif password != instance.password:
        _after_commit([instance.pk], "close", code=CLOSE_UNAUTHENTICATED, kind=auth.SESSION)


def user_deleted(sender, instance, **kwargs) -> None:
    _after_commit([instance.pk], "close", code=CLOSE_DEACTIVATED)


def token_deleted(sender, instance, **kwargs) -> None:
    credential = auth.credential(auth.TOKEN, instance.key)
    _after_commit([instance.user_id], "close", code=CLOSE_UNAUTHENTICATED, credential=credential)


def connect() -> None:
    user = get_user_model()
    for model in (RoleMembership, GridAssignment):
        for signal in (post_save, post_delete):
            signal.connect(scope_changed, sender=model, dispatch_uid=f"live.scope.{model.__name__}")
    user_logged_out.connect(signed_out, dispatch_uid="live.signed_out")
    pre_save.connect(user_saving, sender=user, dispatch_uid="live.user_saving")
    post_save.connect(user_saved, sender=user, dispatch_uid="live.user_saved")
    post_delete.connect(user_deleted, sender=user, dispatch_uid="live.user_deleted")
    post_delete.connect(token_deleted, sender=Token, dispatch_uid="live.token_deleted")
