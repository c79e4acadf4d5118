"""The database connection pool of a server process (settings: DATABASES["default"]["OPTIONS"]["pool"]) under
the failures a pool adds: every connection taken, connections broken while idle in the pool, and an outage
longer than the pool's reconnection attempts. Real uvicorn processes against the test database; the basic
outage (503 while PostgreSQL is unreachable, service back when it returns) is in tests/test_faults.py, for
pooled and for persistent connections."""

import asyncio
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from django.conf import settings as django_settings

from tests.conftest import in_thread
from tests.support.http import http
from tests.support.processes import ROOT, database_url, wait_until
from tests.support.proxy import TcpProxy
from tests.test_faults import expect_close_code
from tracker.health import CLOSE_UNAVAILABLE

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.timeout(90)]

UNAVAILABLE = {"detail": "database unavailable", "code": "database_unavailable"}


def direct_dsn() -> str:
    """Return a libpq connection string for the test database, straight to PostgreSQL."""
    db = django_settings.DATABASES["default"]
    return f"host=127.0.0.1 port={db['PORT'] or 5432} user={db['USER']} password={db['PASSWORD']} dbname={db['NAME']}"


def backends(application_name: str, where: str = "true") -> list[int]:
    """Return the pids of the test database's sessions with `application_name` that match `where`."""
    with psycopg.connect(direct_dsn(), autocommit=True) as conn:
        rows = conn.execute(
            f"SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s AND {where}",
            [application_name],
        ).fetchall()
    return [pid for (pid,) in rows]


def timed(url: str, **kwargs):
    """Return (reply, seconds it took)."""
    started = time.monotonic()
    reply = http(url, **kwargs)
    return reply, time.monotonic() - started


async def test_every_connection_taken_503_within_the_pool_timeout_then_served(servers, settings, token):
    name = f"pool-exhausted-{os.getpid()}"
    (server,) = servers(
        1, redis_url=settings.REDIS_URL, DATABASE_URL=f"{database_url()}?application_name={name}",
        TRACKER_DB_POOL_MIN="1", TRACKER_DB_POOL_MAX="1", TRACKER_DB_POOL_TIMEOUT="1",
    )
    incidents = f"http://{server.base}/api/v1/incidents/"
    api_auth = {"Authorization": f"Token {token.key}"}
    assert (await in_thread(http)(incidents, headers=api_auth)).status == 200

    # A request that holds the process's only connection: its query waits for a table lock held here.
    locker = await in_thread(psycopg.connect)(direct_dsn())
    with ThreadPoolExecutor(1) as pool:
        try:
            await in_thread(locker.execute)("LOCK TABLE tracker_incident IN ACCESS EXCLUSIVE MODE")
            held = pool.submit(http, incidents, headers=api_auth, timeout=30)
            await in_thread(wait_until)(
                lambda: backends(name, "wait_event_type = 'Lock'"), 10, "the server's request to wait for the lock"
            )
            # Every other request waits for a connection at most the pool's timeout, then gets the 503 of an
            # outage (clients retry after Retry-After), not a 500 and not a hang.
            (status, body, headers), elapsed = await in_thread(timed)(incidents, headers=api_auth)
            assert (status, body, headers["Retry-After"]) == (503, UNAVAILABLE, "5")
            assert 0.9 < elapsed < 3, elapsed
            status, body, _ = await in_thread(http)(f"http://{server.base}/healthz")
            assert (status, body["database"], body["errors"]) == (503, "unavailable", {"database": "OperationalError"})
            assert await expect_close_code(server.ws_url, token.key) == CLOSE_UNAVAILABLE
        finally:
            await in_thread(locker.rollback)()
            await in_thread(locker.close)()
        assert (await asyncio.wrap_future(held)).status == 200, "the waiting request completes once the lock goes"
    for _ in range(3):
        assert (await in_thread(http)(incidents, headers=api_auth)).status == 200


async def test_connections_broken_while_idle_in_the_pool_are_replaced(servers, settings, token):
    name = f"pool-broken-{os.getpid()}"
    (server,) = servers(
        1, redis_url=settings.REDIS_URL, DATABASE_URL=f"{database_url()}?application_name={name}",
        TRACKER_DB_POOL_MIN="2", TRACKER_DB_POOL_MAX="2",
    )
    incidents = f"http://{server.base}/api/v1/incidents/"
    api_auth = {"Authorization": f"Token {token.key}"}
    assert (await in_thread(http)(incidents, headers=api_auth)).status == 200
    await in_thread(wait_until)(lambda: len(backends(name, "state = 'idle'")) == 2, 10, "2 idle pooled connections")

    # What a database restart or a failover does to idle connections: the server side goes away.
    with psycopg.connect(direct_dsn(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", [name])
    await in_thread(wait_until)(lambda: not backends(name), 10, "the pooled connections to be gone")

    # The pool checks a connection before handing it out: the broken ones are replaced, the request served.
    (status, _, _), elapsed = await in_thread(timed)(incidents, headers=api_auth)
    assert status == 200
    assert elapsed < 3, f"took {elapsed:.1f} s, more than the pool's timeout"
    for _ in range(5):
        assert (await in_thread(http)(incidents, headers=api_auth)).status == 200
    assert len(backends(name)) <= 2, "no more connections than the pool's maximum"


async def test_service_back_within_seconds_of_an_outage_longer_than_the_reconnect_attempts(servers, settings, token):
    proxy = TcpProxy().start()
    try:
        (server,) = servers(
            1, redis_url=settings.REDIS_URL, database_port=proxy.port, TRACKER_DB_POOL_TIMEOUT="1",
        )
        incidents = f"http://{server.base}/api/v1/incidents/"
        api_auth = {"Authorization": f"Token {token.key}"}
        assert (await in_thread(http)(incidents, headers=api_auth)).status == 200

        await in_thread(proxy.cut)()
        # Longer than the pool's reconnect_timeout (5 s): with psycopg_pool's default (300 s) its backoff
        # would by now leave 15 s between attempts, and the service would stay down that long after the
        # database returned.
        outage_ends = time.monotonic() + 16
        while time.monotonic() < outage_ends:
            (status, body, _), elapsed = await in_thread(timed)(incidents, headers=api_auth)
            assert (status, body) == (503, UNAVAILABLE)
            assert elapsed < 3
            await asyncio.sleep(0.5)

        await in_thread(proxy.restore)()
        restored = time.monotonic()
        await in_thread(wait_until)(
            lambda: http(incidents, headers=api_auth).status == 200, 20, "the API to answer 200 again", interval=0.2
        )
        assert time.monotonic() - restored < 6, f"back {time.monotonic() - restored:.1f} s after the database"
    finally:
        proxy.stop()


@pytest.mark.parametrize(
    ("env", "refused"),
    [({"DB_CONN_MAX_AGE": "60"}, True), ({"DB_CONN_MAX_AGE": "60", "TRACKER_DB_POOL": "0"}, False), ({}, False)],
)
def test_persistent_connections_with_the_pool_are_refused_at_start(env, refused):
    """Django would only refuse them at the first query, as a 500; the settings refuse them at start."""
    started = subprocess.run(
        [sys.executable, "-c", "import tracker_project.settings"],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=60,
    )
    assert (started.returncode != 0) == refused, started.stderr
    assert ("DB_CONN_MAX_AGE must be 0 with the connection pool" in started.stderr) == refused
