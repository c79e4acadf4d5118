"""API tokens: the lookup behind every token-authenticated REST request and WebSocket handshake.

The ORM's `Token.objects.select_related("user").get(key=...)` compiled the same join on every request and
built the pair through its related-object machinery: 1.3 ms of CPU per request, about a tenth of a REST
create's server time (profiled with py-spy under the writes bench, bench/writes.py). The same SELECT is built here once per process from the models'
metadata, and the same instances come out (the token, with its user already loaded on it).
"""

from functools import cache

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token


@cache
def _token_query() -> tuple[str, list[str], list[str]]:
    """Return the SELECT of a token and its user by key, and the attribute names of its token and user columns."""
    user_model = get_user_model()
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    token_fields, user_fields = Token._meta.concrete_fields, user_model._meta.concrete_fields
    columns = [f"t.{quote(f.column)}" for f in token_fields] + [f"u.{quote(f.column)}" for f in user_fields]
    sql = (
        f"SELECT {', '.join(columns)} FROM {quote(Token._meta.db_table)} t "
        f"JOIN {quote(user_model._meta.db_table)} u "
        f"ON u.{quote(user_model._meta.pk.column)} = t.{quote(Token._meta.get_field('user').column)} "
        f"WHERE t.{quote(Token._meta.pk.column)} = %s"
    )
    return sql, [f.attname for f in token_fields], [f.attname for f in user_fields]


def token_with_user(key: str) -> Token | None:
    """Return the token `key` with its user loaded (`token.user` costs no query), or None if there is none."""
    sql, token_names, user_names = _token_query()
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(sql, [key])
        row = cursor.fetchone()
    if row is None:
        return None
    token = Token.from_db(DEFAULT_DB_ALIAS, token_names, row[: len(token_names)])
    token.user = get_user_model().from_db(DEFAULT_DB_ALIAS, user_names, row[len(token_names) :])
    return token


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication (`Authorization: Token <key>`, the same answers and messages) with the
    lookup above."""

    def authenticate_credentials(self, key):
        token = token_with_user(key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return token.user, token
