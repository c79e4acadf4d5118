"""Shared fixtures. Every test runs against the real PostGIS and Redis that deploy/provision.sh starts."""

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from rest_framework.authtoken.models import Token

from tests.factories import UserFactory
from tracker_project.asgi import application


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True)


@pytest.fixture
def token(user):
    return Token.objects.create(user=user)


@pytest.fixture(autouse=True)
def _fresh_channel_layers():
    """Each async test has its own event loop; the channel layer must not reuse a closed loop's connections."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def _empty_cache():
    """Rate-limit counters (login, DRF throttles) start from zero in every test: delete this run's keys."""
    from django.core.cache import cache

    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"{settings.CACHES['default']['KEY_PREFIX']}:*", count=1000))
    if keys:
        client.delete(*keys)


class Socket:
    """A WebSocket client on the real ASGI application (origin check, auth middleware, consumer)."""

    def __init__(self, communicator: WebsocketCommunicator):
        self.communicator = communicator

    @classmethod
    async def open(cls, *, token: str | None = None, cookie: str | None = None, query: str = "",
                   origin: str | None = "http://localhost", app=application):
        """Return (socket, connected, close_code_or_subprotocol) after the handshake with `app` (the real
        ASGI application, or one wrapping it)."""
        headers = [(b"host", b"localhost")]
        if origin is not None:
            headers.append((b"origin", origin.encode()))
        if token is not None:
            headers.append((b"authorization", f"Token {token}".encode()))
        if cookie is not None:
            headers.append((b"cookie", cookie.encode()))
        path = "/ws/notifications/" + (f"?{query}" if query else "")
        communicator = WebsocketCommunicator(app, path, headers=headers)
        connected, detail = await communicator.connect(timeout=5)
        return cls(communicator), connected, detail

    async def receive(self, timeout: float = 3) -> dict:
        return json.loads(await self.communicator.receive_from(timeout=timeout))

    async def receive_event(self, timeout: float = 3) -> dict:
        """Return the next event envelope, skipping control frames (ping)."""
        while True:
            message = await self.receive(timeout)
            if message.get("type") != "ping":
                return message

    async def receive_close_code(self, timeout: float = 3) -> int:
        output = await self.communicator.receive_output(timeout)
        assert output["type"] == "websocket.close", output
        return output.get("code")

    async def assert_silent(self, timeout: float = 0.5) -> None:
        assert await self.communicator.receive_nothing(timeout=timeout), "unexpected frame"

    async def close(self) -> None:
        await self.communicator.disconnect()


@pytest.fixture
async def sockets():
    """Open sockets with `await sockets(token=...)`; every one is closed after the test."""
    opened = []

    async def _open(**kwargs):
        socket, connected, detail = await Socket.open(**kwargs)
        opened.append(socket)
        return socket, connected, detail

    yield _open
    for socket in opened:
        await socket.close()


@pytest.fixture
def servers():
    """Start real ASGI server processes with `servers(n, redis_url=..., **env)` (see tests/support/asgi_server.py); they
    are stopped after the test."""
    from tests.support.asgi_server import AsgiServer, start_all

    started = []

    def _start(count: int, **kwargs):
        new = [AsgiServer(**kwargs) for _ in range(count)]
        started.extend(new)
        return start_all(*new)

    yield _start
    for server in started:
        server.stop()


def session_cookie(client, user) -> str:
    """Return a Cookie header value carrying a logged-in Django session for `user`."""
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


in_thread = database_sync_to_async
