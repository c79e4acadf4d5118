"""The live stream: one NotificationsConsumer per authenticated WebSocket (thin: auth, ?after=, hand-off).

Delivery contract (see ARCHITECTURE.md): events arrive in id order, each once. On connect the socket joins
the live stream (the process's group subscription, tracker.stream.fanout) *before* it reads the log, so nothing
committed in between is lost. Everything after the handshake (hello, replay, live events, gap filling from the
log, catch-up, heartbeat) is sent by the socket's own delivery (tracker.stream.delivery): one writer task in
id order, fed by a bounded queue that the fan-out fills without ever waiting for this socket.

Close codes (4000-4999 are the application's):
- 4400 CLOSE_BAD_REQUEST: `?after=` is not an event id. Fix the URL; retrying it as is cannot help.
- 4401 CLOSE_UNAUTHENTICATED: no valid credentials, or they were withdrawn (logout, deactivation, deleted
  token, password change: tracker.security.revocation). Reconnecting without new credentials cannot help.
- 4408 CLOSE_TOO_SLOW: the client fell more than TRACKER["SOCKET_BACKLOG"] events behind the live stream (it
  stopped reading). Reconnect and resume with ?after=N: the log has every event.
- 4503 CLOSE_UNAVAILABLE: PostgreSQL or Redis is unreachable. Retry with backoff and resume with ?after=N.
"""

import logging
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer

from tracker.health import CLOSE_UNAVAILABLE, UNAVAILABLE_ERRORS
from tracker.models import MAX_ID
from tracker.security.revocation import RevocableSocketMixin
from tracker.stream import fanout
from tracker.stream.delivery import CLOSE_TOO_SLOW, Delivery

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_BAD_REQUEST = 4400
# Every close code a client can get, in one place (CLOSE_TOO_SLOW and CLOSE_UNAVAILABLE are decided elsewhere).
__all__ = ["CLOSE_BAD_REQUEST", "CLOSE_TOO_SLOW", "CLOSE_UNAUTHENTICATED", "CLOSE_UNAVAILABLE", "NotificationsConsumer"]


def parse_after(query_string: bytes) -> int | None:
    """Return the `after` query parameter as an event id in 0..MAX_ID, None if absent or empty; raise
    ValueError for anything else. The same values as the REST event log's `after` (ASCII digits only)."""
    values = parse_qs(query_string.decode("latin-1")).get("after")
    if not values or values[-1] == "":
        return None
    raw = values[-1]
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_ID:
        raise ValueError(f"after must be an integer from 0 to {MAX_ID}")
    return int(raw)


class NotificationsConsumer(RevocableSocketMixin, AsyncWebsocketConsumer):
    revoked_close_code = CLOSE_UNAUTHENTICATED
    accepted: bool = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.delivery = Delivery(self)

    async def dispatch(self, message: dict) -> None:
        try:
            await super().dispatch(message)
        except UNAVAILABLE_ERRORS as error:
            if message["type"] == "websocket.disconnect":
                raise
            logger.warning("closing socket: service unavailable (%r)", error)
            await self.close_unavailable()

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Accept first: a close before accept is an HTTP 403 with no code; clients need 4401 to know
            # that retrying without new credentials is pointless.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        try:
            after = parse_after(self.scope.get("query_string", b""))
        except ValueError:
            await self.accept()
            await self.close(code=CLOSE_BAD_REQUEST)
            return
        # Logging out, deactivation or a deleted token close this socket (tracker.security.revocation).
        await self.join_revocation_groups()
        # In the live stream before the log is read (by the delivery's replay): nothing committed in between
        # is missed. What is pushed meanwhile waits in the delivery's queue.
        await fanout.join(self.delivery)
        await self.accept()
        self.delivery.start(after)

    async def accept(self, subprotocol=None, headers=None) -> None:
        await super().accept(subprotocol, headers)
        self.accepted = True

    async def close_unavailable(self) -> None:
        """Close with CLOSE_UNAVAILABLE: the client should retry with backoff and resume with ?after=N."""
        if not self.accepted:
            await self.accept()
        await self.close(code=CLOSE_UNAVAILABLE)

    async def close(self, code=None, reason=None) -> None:
        # Nothing may be sent after a close frame: the delivery stops first, whoever closes (revocation,
        # outage, too slow).
        self.delivery.stop()
        await super().close(code, reason)

    async def disconnect(self, code) -> None:
        fanout.leave(self.delivery)
        self.delivery.stop()
        try:
            await self.leave_revocation_groups()
        except UNAVAILABLE_ERRORS:
            # The subscription died with the Redis connection; nothing is left to undo.
            logger.info("could not leave the group while Redis is unavailable")

    async def receive(self, text_data=None, bytes_data=None) -> None:
        # The stream is server -> client; a client "pong" or anything else only proves it is alive.
        pass
