"""WebSocket handshake checks: origin, then a DRF token in the Authorization header, else the session cookie."""

from channels.auth import AuthMiddleware
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from channels.sessions import CookieMiddleware, InstanceSessionWrapper, SessionMiddleware
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from tracker.security.tokens import token_with_user


@database_sync_to_async
def user_for_token(key: str):
    """Return the active user owning the token `key`, or AnonymousUser."""
    token = token_with_user(key)
    if token is None or not token.user.is_active:
        return AnonymousUser()
    return token.user


def authorization_token(scope) -> str | None:
    """Return the key of an `Authorization: Token <key>` handshake header, or None if there is none."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, key = value.decode("latin-1").partition(" ")
            if scheme.lower() == "token" and key.strip():
                return key.strip()
    return None


class TokenAuthMiddleware(BaseMiddleware):
    """Sets scope["user"] from a token header when one is sent.

    A token that is sent but wrong leaves the user anonymous (refused by the consumer) rather than falling
    back to the session: a client that meant to use a token must learn that it is bad.
    """

    async def __call__(self, scope, receive, send):
        key = authorization_token(scope)
        if key is not None:
            scope = dict(scope, user=await user_for_token(key))
        return await super().__call__(scope, receive, send)


class ReadOnlySessionMiddleware(SessionMiddleware):
    """Channels' SessionMiddleware without its per-frame save check.

    A live-stream socket reads the session at its handshake and never writes it, yet the stock wrapper checks
    `session.modified` and `is_empty()` on every frame it sends: 14 % of the server's time when fanning out
    to 1,000 sockets (bench/README.md). The session is resolved the same way; sends go straight through.
    """

    async def __call__(self, scope, receive, send):
        wrapper = InstanceSessionWrapper(scope, send)
        await wrapper.resolve_session()
        return await self.inner(wrapper.scope, receive, send)


def TokenOrSessionAuthMiddlewareStack(inner):
    """Session/cookie auth (Channels' AuthMiddlewareStack, with a read-only session) with a token header
    taking precedence when present."""
    return CookieMiddleware(ReadOnlySessionMiddleware(AuthMiddleware(TokenAuthMiddleware(inner))))


class BrowserOriginValidator(OriginValidator):
    """Refuses a handshake whose Origin is not one of ALLOWED_HOSTS; allows one with no Origin at all.

    Browsers always send Origin on a WebSocket handshake, and it is the browser's ambient cookie that a
    foreign page could abuse (cross-site WebSocket hijacking). A handshake without Origin comes from a
    non-browser client (mobile app, script), which still has to authenticate, typically with a token.
    """

    def __init__(self, application):
        super().__init__(application, settings.ALLOWED_HOSTS)

    def valid_origin(self, parsed_origin) -> bool:
        return parsed_origin is None or self.validate_origin(parsed_origin)
