"""Closing live sockets whose credentials were withdrawn.

A WebSocket is authenticated once, at its handshake. So that logging out, deactivation, a password change or
a deleted token also end the sockets opened with those credentials, every socket joins channel-layer groups
naming its credentials (`revocation_groups`), and the receivers below send those groups a close message after
the change commits. These are control messages, not events: they are not logged in the event log, since they
concern one user's sockets and nothing a client has to replay.
"""

import hashlib
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from rest_framework.authtoken.models import Token

from tracker.security.auth import authorization_token

logger = logging.getLogger(__name__)

# The channel-layer message type; Channels dispatches it to RevocableSocketMixin.auth_revoked.
REVOKE_MESSAGE_TYPE = "auth.revoked"


def _user_group(user_id: int) -> str:
    return f"auth.user.{user_id}"


def _token_group(user_id: int) -> str:
    # DRF keeps one token per user, so the user id names "the sockets opened with this user's token".
    return f"auth.token.{user_id}"


def _session_group(session_key: str) -> str:
    # Group names travel through Redis in clear; a session key there would be a usable credential.
    return f"auth.session.{hashlib.sha256(session_key.encode()).hexdigest()[:40]}"


def revocation_groups(scope) -> list[str]:
    """Return the groups a socket with this handshake `scope` joins: its user's, plus its token's or its
    session's, whichever it authenticated with. Empty for an unauthenticated socket."""
    user = scope.get("user")
    if user is None or not user.is_authenticated:
        return []
    groups = [_user_group(user.pk)]
    session = scope.get("session")
    if authorization_token(scope) is not None:
        groups.append(_token_group(user.pk))
    elif session is not None and session.session_key:
        groups.append(_session_group(session.session_key))
    return groups


class RevocableSocketMixin:
    """For a Channels consumer: join the revocation groups once authenticated, leave them on disconnect,
    and close with `revoked_close_code` when told the credentials are gone."""

    revoked_close_code: int

    async def join_revocation_groups(self) -> None:
        for group in revocation_groups(self.scope):
            await self.channel_layer.group_add(group, self.channel_name)

    async def leave_revocation_groups(self) -> None:
        for group in revocation_groups(self.scope):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def auth_revoked(self, message: dict) -> None:
        logger.info("closing socket of user %s: %s", self.scope["user"].pk, message.get("reason"))
        await self.close(code=self.revoked_close_code)


def _send_revocation(group: str, reason: str) -> None:
    try:
        async_to_sync(get_channel_layer().group_send)(group, {"type": REVOKE_MESSAGE_TYPE, "reason": reason})
    except Exception as error:
        # The credential is gone from the database whatever happens here: a socket that missed this message
        # keeps only what it already had, and its next handshake is refused.
        logger.warning("could not close the sockets of %s (%r)", group, error)


def revoke(group: str, reason: str) -> None:
    """Close the sockets in `group` once the current transaction commits (at once outside one): before the
    commit a reconnecting client would still be let in with the old credentials."""
    transaction.on_commit(lambda: _send_revocation(group, reason))


def session_ended(sender, request, user, **kwargs) -> None:
    if user is not None and request.session.session_key:
        revoke(_session_group(request.session.session_key), "logged out")


def user_saved(sender, instance, created: bool, **kwargs) -> None:
    if created:
        return
    if not instance.is_active:
        revoke(_user_group(instance.pk), "deactivated")
    # set_password() keeps the new raw password in `_password` until save() has run the post_save receivers;
    # Django ends the user's other sessions on a password change, and so do we with the sockets.
    elif getattr(instance, "_password", None) is not None:
        revoke(_user_group(instance.pk), "password changed")


def user_deleted(sender, instance, **kwargs) -> None:
    revoke(_user_group(instance.pk), "deleted")


def token_deleted(sender, instance: Token, **kwargs) -> None:
    revoke(_token_group(instance.user_id), "token deleted")


def connect() -> None:
    """Connect the receivers; idempotent thanks to the dispatch_uids."""
    User = get_user_model()
    user_logged_out.connect(session_ended, dispatch_uid="tracker.security.revocation.session_ended")
    post_save.connect(user_saved, sender=User, dispatch_uid="tracker.security.revocation.user_saved")
    post_delete.connect(user_deleted, sender=User, dispatch_uid="tracker.security.revocation.user_deleted")
    post_delete.connect(token_deleted, sender=Token, dispatch_uid="tracker.security.revocation.token_deleted")
