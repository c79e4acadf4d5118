"""Service availability: the /healthz probe, and clear answers while PostgreSQL or Redis is unreachable.

Without these, a lost database surfaces as an HTML 500 and a dropped socket with no reason. With them the API
answers 503 {"detail": "database unavailable"}, sockets are closed with CLOSE_UNAVAILABLE (clients retry and
resume with ?after=N), and everything recovers on its own: the connection pool checks each connection
before handing it out and reconnects in the background (see DATABASES in the settings), redis-py reconnects
and resubscribes.
"""

import asyncio
import logging

import redis.asyncio
import redis.exceptions
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

# 4000-4999 are application close codes; 4503 mirrors HTTP 503: temporary, reconnect with backoff and resume.
CLOSE_UNAVAILABLE = 4503
DATABASE_ERRORS = (OperationalError, InterfaceError)
# What a lost PostgreSQL or Redis raises: the request or socket cannot be served now but may be in a moment.
UNAVAILABLE_ERRORS = (*DATABASE_ERRORS, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
RETRY_AFTER_SECONDS = 5


def _ping_database(wait: float) -> None:
    """Run `SELECT 1` on a connection got the way a request gets one: from this process's pool, waiting at
    most `wait` seconds for it (PoolTimeout, raised as OperationalError), or a new one without a pool."""
    pool = connection.pool
    if pool is None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        finally:
            # This runs in a pool thread: with persistent connections, each such thread would keep one open.
            connection.close()
        return
    # The pool directly, for a wait bounded by this probe rather than the pool's own (longer) timeout; the
    # pool checks the connection before handing it out, so a broken one is replaced, not reported.
    with connection.wrap_database_errors:
        pool.open()
        with pool.connection(timeout=wait) as pooled:
            pooled.execute("SELECT 1")


async def check_database(timeout: float) -> str | None:
    """Return None if PostgreSQL answers `SELECT 1` within `timeout` seconds, else the error's class name:
    OperationalError when no connection can be had (unreachable, or a pool that stays exhausted),
    TimeoutError when the database does not answer in time."""
    try:
        # Not thread-sensitive: a hanging check must not hold the thread that serves the sync views. Half the
        # bound for getting a connection, so that a pool with none to give is told apart from a hang.
        ping = database_sync_to_async(_ping_database, thread_sensitive=False)
        await asyncio.wait_for(ping(timeout / 2), timeout)
    except (asyncio.TimeoutError, *DATABASE_ERRORS) as error:
        return type(error).__name__
    return None


async def check_redis(timeout: float) -> str | None:
    """Return None if the channel layer's Redis answers PING within `timeout` seconds, else the error's name."""
    client = redis.asyncio.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        await asyncio.wait_for(client.ping(), timeout)
    except (asyncio.TimeoutError, redis.exceptions.RedisError, OSError) as error:
        return type(error).__name__
    finally:
        await client.aclose()
    return None


async def healthz(request: HttpRequest) -> JsonResponse:
    """Answer 200 {"database": "ok", "redis": "ok"} when both are reachable, else 503 with each state and an
    "errors" object naming what failed. No authentication: load balancers call it. Both checks run
    concurrently, each bounded by TRACKER["HEALTH_TIMEOUT_SECONDS"]."""
    timeout = settings.TRACKER["HEALTH_TIMEOUT_SECONDS"]
    database, redis_error = await asyncio.gather(check_database(timeout), check_redis(timeout))
    errors = {name: error for name, error in (("database", database), ("redis", redis_error)) if error}
    body = {"database": "unavailable" if database else "ok", "redis": "unavailable" if redis_error else "ok"}
    if errors:
        body["errors"] = errors
    response = JsonResponse(body, status=503 if errors else 200)
    response["Cache-Control"] = "no-store"
    return response


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    """Return the 503 for a request that needed the unreachable database: JSON for the API and probes,
    a short plain page for the HTML views."""
    if request.path.startswith(("/api/", "/healthz")) or "application/json" in request.headers.get("Accept", ""):
        # The API's error shape (tracker.api.exceptions): a sentence and a machine code.
        response = JsonResponse({"detail": "database unavailable", "code": "database_unavailable"}, status=503)
    else:
        response = HttpResponse(
            "Service temporarily unavailable; please retry in a moment.", status=503, content_type="text/plain"
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware:
    """Turns a view's OperationalError/InterfaceError (PostgreSQL unreachable) into a 503 instead of a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DATABASE_ERRORS):
            logger.warning("database unavailable for %s %s: %s", request.method, request.path, exception)
            return database_unavailable_response(request)
        return None


class UnavailableGuard:
    """ASGI middleware for WebSockets: a handshake or socket that fails because PostgreSQL or Redis is
    unreachable (token lookup, session, channel subscription) is closed with CLOSE_UNAVAILABLE, not dropped.

    The socket is accepted first when it was not yet: a close before accept reaches the client as an HTTP 403
    without any code.
    """

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        state = {"websocket.accept": False, "websocket.close": False}

        async def tracking_send(message):
            if message["type"] in state:
                state[message["type"]] = True
            await send(message)

        try:
            return await self.inner(scope, receive, tracking_send)
        except UNAVAILABLE_ERRORS as error:
            logger.warning("closing socket %s: service unavailable (%r)", scope.get("path"), error)
            if state["websocket.close"]:
                return None
            if not state["websocket.accept"]:
                await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": CLOSE_UNAVAILABLE})
            return None
