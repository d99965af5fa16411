"""API tokens (``Authorization: Token <key>``): who a key belongs to.

Every API request from a phone, the hotline system or a script starts with
this lookup, so it is one prepared statement (``core.db``) rather than
an ORM query: building the query costs the server several times what
running it costs (bench/http_api.py). The answer is the same as DRF's
``Token.objects.select_related("user").get(key=key)``; tests hold the two
equal.
"""

from __future__ import annotations

import functools

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connection
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from core.db import fetchone_prepared


@functools.cache
def _lookup() -> tuple[str, list[str]]:
    """The statement, and the user's attribute names in its column order."""
    qn = connection.ops.quote_name
    user_meta, token_meta = get_user_model()._meta, Token._meta
    fields = user_meta.concrete_fields
    columns = ", ".join(f"u.{qn(field.column)}" for field in fields)
    sql = (
        f"SELECT t.{qn(token_meta.get_field('created').column)}, {columns} "
        f"FROM {qn(token_meta.db_table)} t "
        f"JOIN {qn(user_meta.db_table)} u "
        f"ON u.{qn(user_meta.pk.column)} = t.{qn(token_meta.get_field('user').column)} "
        f"WHERE t.{qn(token_meta.pk.column)} = %s"
    )
    return sql, [field.attname for field in fields]


def token_for_key(key: str) -> Token | None:
    """The token with this key, its user loaded; None if there is none."""
    if not isinstance(key, str) or "\x00" in key:
        return None  # PostgreSQL cannot hold NUL: no token has one
    sql, attnames = _lookup()
    row = fetchone_prepared(sql, (key,))
    if row is None:
        return None
    user = get_user_model().from_db(DEFAULT_DB_ALIAS, attnames, row[1:])
    token = Token.from_db(DEFAULT_DB_ALIAS, ["key", "user_id", "created"], (key, user.pk, row[0]))
    token.user = user
    return token


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication, with the key looked up by ``token_for_key``."""

    def authenticate_credentials(self, key):
        token = token_for_key(key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return (token.user, token)
