"""Faults with real processes: a server SIGKILLed, Redis restarted, PostgreSQL unreachable, a dead client.

Each test prints a `[fault-counts]` line and records it in test-artifacts/fault-counts.json: events written,
and per client events received, lost, duplicated, out of order, and connections made.
"""

import asyncio
import base64
import os
import socket

import pytest
import websockets
from channels.db import database_sync_to_async
from django.test import Client

from tests.conftest import in_thread, session_cookie
from tests.support.http import http, report_incident
from tests.support.processes import free_port, wait_until
from tests.support.proxy import TcpProxy
from tests.support.redis_server import RedisServer
from tests.support.stream_client import (
    StreamClient,
    assert_exactly_once_in_order,
    logged_event_ids,
    report,
    write_incidents,
)
from tracker.health import CLOSE_UNAVAILABLE
from tracker.stream.publish import GROUP

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.timeout(90)]


@pytest.fixture
def own_redis():
    redis = RedisServer().start()
    yield redis
    redis.stop()


def in_pool(func):
    """Like in_thread, but in a thread of its own: it may run while a writer holds the thread-sensitive one."""
    return database_sync_to_async(func, thread_sensitive=False)


async def wait_for(predicate, timeout: float, what: str) -> None:
    """Wait (polling, without blocking the loop) until predicate() is true."""
    await in_pool(wait_until)(predicate, timeout, what)


async def finish(clients, followers, done, target) -> list[int]:
    """Set the clients' target to the last logged event, wait for them, and return the logged ids."""
    written = await in_thread(logged_event_ids)()
    target[0] = written[-1]
    done.set()
    await asyncio.wait_for(asyncio.gather(*followers), 30)
    return written


def start_followers(clients, done, target):
    return [asyncio.create_task(client.follow(done, target)) for client in clients]


async def expect_close_code(url: str, token: str) -> int:
    """Open a socket and return the close code the server ends it with."""
    async with websockets.connect(url, additional_headers={"Authorization": f"Token {token}"}, proxy=None) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
    return closed.value.rcvd.code


async def test_sigkill_one_server_clients_resume_on_the_survivor(servers, settings, token):
    first, second = servers(2, redis_url=settings.REDIS_URL)
    clients = [StreamClient(f"client-{n}", [first.ws_url, second.ws_url], token.key) for n in range(3)]
    done, target = asyncio.Event(), [0]
    followers = start_followers(clients, done, target)
    writing = asyncio.ensure_future(in_pool(write_incidents)(300, writers=4, pause=0.02, hold=0.002))

    await wait_for(lambda: all(len(c.ids) >= 40 for c in clients), 20, "every client to receive 40 events")
    first.kill()
    written_before_kill = len(await in_pool(logged_event_ids)())
    await writing
    written = await finish(clients, followers, done, target)

    report("sigkill_server", written, clients, written_before_kill=written_before_kill)
    assert written_before_kill < len(written), "the kill must happen while events keep flowing"
    assert_exactly_once_in_order(written, clients)
    assert all(c.connections == 2 for c in clients), "each client reconnects once, to the survivor"


async def test_redis_restart_servers_recover_and_nothing_is_lost(servers, settings, own_redis, token):
    # The test process's writes publish through the same (restartable) Redis as the servers.
    settings.CHANNEL_LAYERS = {
        "default": {
            **settings.CHANNEL_LAYERS["default"],
            "CONFIG": {**settings.CHANNEL_LAYERS["default"]["CONFIG"], "hosts": [own_redis.url]},
        }
    }
    first, second = servers(2, redis_url=own_redis.url)
    group_channel = f"{settings.CHANNEL_LAYERS['default']['CONFIG']['prefix']}__group__{GROUP}"
    clients = [StreamClient(f"client-{n}", [s.ws_url], token.key) for n, s in enumerate((first, second, first))]
    done, target, connected = asyncio.Event(), [0], [asyncio.Event() for _ in clients]
    followers = [asyncio.create_task(c.follow(done, target, connected=e)) for c, e in zip(clients, connected)]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in connected)), 10)
    assert own_redis.subscribers(group_channel) == 2  # one pub/sub connection per server process

    # Events keep flowing while Redis goes away: the rest of this batch is written during the outage.
    writing = asyncio.ensure_future(in_pool(write_incidents)(100, writers=4, pause=0.02))
    await wait_for(lambda: len(logged_event_ids()) >= 30, 20, "30 events written")
    await in_pool(own_redis.stop)()
    written_before_outage = len(await in_pool(logged_event_ids)())
    await writing
    # Nothing later will be published while Redis is down: the servers' catch-up delivers from the log.
    await wait_for(lambda: all(c.last == 100 for c in clients), 10, "every client to get the outage's events")
    during_outage = 100 - written_before_outage
    # A new socket cannot subscribe meanwhile: it is told to come back later.
    assert await expect_close_code(second.ws_url, token.key) == CLOSE_UNAVAILABLE

    await in_thread(own_redis.start)()
    await wait_for(lambda: own_redis.subscribers(group_channel) == 2, 15, "both servers to resubscribe")
    await in_thread(write_incidents)(40, writers=4)
    written = await finish(clients, followers, done, target)

    report("redis_restart", written, clients, written_during_outage=during_outage)
    assert during_outage > 0
    assert_exactly_once_in_order(written, clients)
    assert all(c.connections == 1 for c in clients), "the sockets survive the Redis restart"
    assert first.process.poll() is None and second.process.poll() is None, "no server restarted"


# Connections that outlive a request, the broken ones to be replaced on recovery: the pool (the default), and
# without it persistent per-thread connections with their health check.
CONNECTION_MODES = {"pooled": {}, "persistent": {"TRACKER_DB_POOL": "0", "DB_CONN_MAX_AGE": "60"}}


@pytest.mark.parametrize("mode", CONNECTION_MODES)
async def test_database_unreachable_503_then_recovers(servers, settings, token, staff, mode):
    proxy = TcpProxy().start()
    try:
        (server,) = servers(1, redis_url=settings.REDIS_URL, database_port=proxy.port, **CONNECTION_MODES[mode])
        cookie = await in_thread(session_cookie)(Client(), staff)
        base = f"http://{server.base}"
        api_auth = {"Authorization": f"Token {token.key}"}
        assert (await in_thread(http)(f"{base}/healthz"))[:2] == (200, {"database": "ok", "redis": "ok"})
        client = StreamClient("client-0", [server.ws_url], token.key)
        done, target = asyncio.Event(), [0]
        (follower,) = start_followers([client], done, target)
        await in_thread(write_incidents)(20, writers=2)
        await wait_for(lambda: client.last == 20, 10, "the first 20 events")

        await in_thread(proxy.cut)()
        status, body, _ = await in_thread(http)(f"{base}/healthz")
        assert (status, body) == (
            503, {"database": "unavailable", "redis": "ok", "errors": {"database": "OperationalError"}})
        status, body, headers = await in_thread(http)(f"{base}/api/v1/incidents/", headers=api_auth)
        assert (status, body) == (503, {"detail": "database unavailable", "code": "database_unavailable"})
        assert headers["Retry-After"] == "5"
        status, body, _ = await in_thread(http)(f"{base}/admin/", headers={"Cookie": cookie})
        assert (status, body) == (503, "Service temporarily unavailable; please retry in a moment.")
        # The live socket is closed with 4503 by the catch-up tick; a new one is refused the same way.
        await wait_for(lambda: CLOSE_UNAVAILABLE in client.close_codes, 10, "the live socket to be closed with 4503")
        assert await expect_close_code(server.ws_url, token.key) == CLOSE_UNAVAILABLE
        # Other processes still reach the database and write; these must not be lost either.
        await in_thread(write_incidents)(10, writers=2)

        await in_thread(proxy.restore)()
        await wait_for(lambda: http(f"{base}/healthz").status == 200, 15, "/healthz to recover")
        assert (await in_thread(http)(f"{base}/admin/", headers={"Cookie": cookie})).status == 200
        assert (await in_thread(http)(f"{base}/api/v1/incidents/", headers=api_auth)).status == 200
        # ... and the server writes again itself: through its API, its events reach the resumed socket.
        for n in range(10):
            await in_pool(report_incident)(base, token.key, f"after recovery {n}")
        written = await finish([client], [follower], done, target)
    finally:
        proxy.stop()

    report("database_unreachable", written, [client], close_codes=sorted(set(client.close_codes)))
    assert_exactly_once_in_order(written, [client])
    assert client.connections >= 2


async def test_healthz_reports_redis_down_with_503():
    from django.test import override_settings

    nothing_there = f"redis://127.0.0.1:{free_port()}/0"
    with override_settings(REDIS_URL=nothing_there):
        response = await in_thread(Client().get)("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "redis": "unavailable", "errors": {"redis": "ConnectionError"}}
    assert response["Cache-Control"] == "no-store"


async def test_healthz_is_200_without_authentication():
    response = await in_thread(Client().get)("/healthz")
    assert (response.status_code, response.json()) == (200, {"database": "ok", "redis": "ok"})


def frozen_client(port: int, token: str) -> socket.socket:
    """Complete a WebSocket handshake on a raw socket that then never reads or answers a ping again."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws/notifications/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Token {token}\r\n\r\n"
        ).encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


async def test_dead_client_is_dropped_by_the_protocol_ping(servers, settings, token):
    (server,) = servers(1, redis_url=settings.REDIS_URL, TRACKER_WS_PING_INTERVAL="1", TRACKER_WS_PING_TIMEOUT="1")
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]

    def sockets_on_server() -> int:
        """Return the consumers alive on the server: each has its own pub/sub channel in Redis, beside the
        one channel the process's fan-out subscribes to the group with (tracker.stream.fanout)."""
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        try:
            return sum(1 for c in client.pubsub_channels(f"{prefix}specific.*")) - 1
        finally:
            client.close()

    healthy = StreamClient("healthy", [server.ws_url], token.key)
    done, target, connected = asyncio.Event(), [0], asyncio.Event()
    follower = asyncio.create_task(healthy.follow(done, target, connected=connected))
    await asyncio.wait_for(connected.wait(), 10)
    frozen = await in_pool(frozen_client)(server.port, token.key)
    try:
        await wait_for(lambda: sockets_on_server() == 2, 10, "both sockets to be connected")
        await wait_for(lambda: sockets_on_server() == 1, 15, "the frozen socket to be dropped")
        # The healthy client answered the pings and still gets events.
        await in_thread(write_incidents)(1)
        written = await finish([healthy], [follower], done, target)
    finally:
        frozen.close()
    assert healthy.ids == written == [1]
    assert healthy.connections == 1
