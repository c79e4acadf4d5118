"""The live stream: one NotificationsConsumer per authenticated WebSocket.

Delivery contract (see ARCHITECTURE.md): events arrive in id order, each once. On connect the socket joins
the live stream (the process's group subscription, tracker.stream.fanout) *before* it reads the log, so nothing
committed in between is lost; anything already sent is dropped by id; a gap in the live stream (a publish
lost while Redis was away, or overtaken by a later one) is filled from the log, which is safe because event
ids are gap-free and commit-ordered. Events whose publish was lost with no later event to reveal the gap are
delivered by the process's ticker (tracker.stream.fanout), which also sends the heartbeat.
"""

import asyncio
import json
import logging
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from tracker.models import MAX_ID
from tracker.stream import fanout, replay
from tracker.stream.eventlog import encode
from tracker.security.revocation import RevocableSocketMixin
from tracker.health import CLOSE_UNAVAILABLE, UNAVAILABLE_ERRORS

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_BAD_REQUEST = 4400


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


@database_sync_to_async
def replay_plan(after: int | None) -> replay.ReplayPlan:
    return replay.replay_plan(after, limit=settings.TRACKER["REPLAY_LIMIT"])


fetch_events = database_sync_to_async(replay.events_after)


class NotificationsConsumer(RevocableSocketMixin, AsyncWebsocketConsumer):
    revoked_close_code = CLOSE_UNAUTHENTICATED
    last_sent: int = 0
    accepted: bool = False
    streaming: bool = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Serialises sends between the replay, the live pushes and the ticker's catch-up, so that ids go out
        # in order and `last_sent` is never read between a send and its update.
        self.delivery = asyncio.Lock()
        # Pushes that had to wait (a gap to fill, or a replay in progress); kept so they are not collected.
        self.pending: set[asyncio.Task] = set()
        self.last_send_at = asyncio.get_running_loop().time()

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
        await fanout.subscribe()
        await self.accept()
        # Registered and locked with no await in between: every push from here on waits for the replay.
        fanout.register(self)
        async with self.delivery:
            plan = await replay_plan(after)
            await self.send_json({"type": "hello", "last_event_id": plan.last})
            if plan.envelopes is None:
                await self.send_json({"type": "resync"})
            else:
                await self.send_envelopes(plan.envelopes)
            self.last_sent = plan.last
            self.streaming = True

    async def accept(self, subprotocol=None, headers=None) -> None:
        await super().accept(subprotocol, headers)
        self.accepted = True

    async def close_unavailable(self) -> None:
        """Close with CLOSE_UNAVAILABLE: the client should retry with backoff and resume with ?after=N."""
        if not self.accepted:
            await self.accept()
        await self.close(code=CLOSE_UNAVAILABLE)

    async def disconnect(self, code) -> None:
        fanout.unregister(self)
        for task in self.pending:
            task.cancel()
        try:
            await self.leave_revocation_groups()
        except UNAVAILABLE_ERRORS:
            # The subscription died with the Redis connection; nothing is left to undo.
            logger.info("could not leave the group while Redis is unavailable")

    async def receive(self, text_data=None, bytes_data=None) -> None:
        # The stream is server -> client; a client "pong" or anything else only proves it is alive.
        pass

    async def push(self, event_id: int, text: str) -> None:
        """Take a live event from the process's fan-out (tracker.stream.fanout) without making the fan-out wait.

        The common case, the next id with nothing else sending, is sent at once (an uncontended lock is
        taken without yielding, and an ASGI send only encodes and writes to the transport). Anything else (a
        replay or catch-up in progress, a gap to fill from the log) goes to a task that takes its turn.
        """
        if event_id <= self.last_sent:
            return
        if event_id == self.last_sent + 1 and not self.delivery.locked():
            async with self.delivery:
                await self.send(text_data=text)
                self.last_sent = event_id
            return
        task = asyncio.ensure_future(self.push_in_turn(event_id, text))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def push_in_turn(self, event_id: int, text: str) -> None:
        """Send a live event after any gap before it, in id order with the replay and catch-up."""
        try:
            async with self.delivery:
                if event_id <= self.last_sent:
                    return
                if event_id > self.last_sent + 1:
                    await self.send_envelopes(await fetch_events(self.last_sent, upto=event_id - 1))
                await self.send(text_data=text)
                self.last_sent = event_id
        except UNAVAILABLE_ERRORS as error:
            logger.warning("closing socket: service unavailable (%r)", error)
            await self.close_unavailable()

    async def catch_up(self, envelopes: list[dict]) -> None:
        """Send the envelopes (consecutive ids, from the ticker) that this socket has not been sent yet."""
        async with self.delivery:
            await self.send_envelopes([e for e in envelopes if e["id"] > self.last_sent])

    async def ping(self) -> None:
        await self.send_json({"type": "ping"})

    def idle_seconds(self) -> float:
        """Return the seconds since this socket was last sent anything."""
        return asyncio.get_running_loop().time() - self.last_send_at

    async def send_envelopes(self, envelopes: list[dict]) -> None:
        for envelope in envelopes:
            await self.send(text_data=encode(envelope))
            self.last_sent = envelope["id"]

    async def send_json(self, content: dict) -> None:
        await self.send(text_data=json.dumps(content))

    async def send(self, text_data=None, bytes_data=None, close=False) -> None:
        await super().send(text_data, bytes_data, close)
        self.last_send_at = asyncio.get_running_loop().time()
