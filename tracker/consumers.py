"""The live stream: one NotificationsConsumer per authenticated WebSocket.

Delivery contract (see ARCHITECTURE.md): events arrive in id order, each once. On connect the socket joins
the group *before* it reads the log, so nothing committed in between is lost; anything already sent is
dropped by id; a gap in the live stream (a publish lost while Redis was away, or overtaken by a later one) is
filled from the log, which is safe because event ids are gap-free and commit-ordered.
"""

import asyncio
import json
import logging
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from tracker import events, selectors

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_BAD_REQUEST = 4400


def parse_after(query_string: bytes) -> int | None:
    """Return the `after` query parameter as an int >= 0, None if absent; raise ValueError if malformed."""
    values = parse_qs(query_string.decode("latin-1")).get("after")
    if not values or values[-1] == "":
        return None
    after = int(values[-1])
    if after < 0:
        raise ValueError("after must be >= 0")
    return after


@database_sync_to_async
def replay_plan(after: int | None) -> tuple[int, list[dict] | None]:
    """Return (last event id, envelopes to replay after `after`), or None for the envelopes when the client
    must resync instead: its position was pruned from the log or is more than REPLAY_LIMIT events behind."""
    last = selectors.last_event_id()
    if after is None or after >= last:
        return last, []
    oldest = selectors.oldest_event_id()
    if oldest is None or after < oldest - 1 or last - after > settings.TRACKER["REPLAY_LIMIT"]:
        return last, None
    return last, selectors.events_after(after, upto=last)


fetch_events = database_sync_to_async(selectors.events_after)


class NotificationsConsumer(AsyncWebsocketConsumer):
    last_sent: int = 0
    heartbeat: asyncio.Task | None = None

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
        await self.channel_layer.group_add(events.GROUP, self.channel_name)
        await self.accept()
        last, replay = await replay_plan(after)
        await self.send_json({"type": "hello", "last_event_id": last})
        if replay is None:
            await self.send_json({"type": "resync"})
        else:
            await self.send_envelopes(replay)
        self.last_sent = last
        self.heartbeat = asyncio.create_task(self.ping_while_idle())

    async def disconnect(self, code) -> None:
        if self.heartbeat is not None:
            self.heartbeat.cancel()
        await self.channel_layer.group_discard(events.GROUP, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        # The stream is server -> client; a client "pong" or anything else only proves it is alive.
        pass

    async def event_push(self, message: dict) -> None:
        """Handle a broadcast event: drop it if already sent, fill any gap before it from the log."""
        event_id = message["id"]
        if event_id <= self.last_sent:
            return
        if event_id > self.last_sent + 1:
            await self.send_envelopes(await fetch_events(self.last_sent, upto=event_id - 1))
        await self.send(text_data=message["text"])
        self.last_sent = event_id

    async def send_envelopes(self, envelopes: list[dict]) -> None:
        for envelope in envelopes:
            await self.send(text_data=events.encode(envelope))
            self.last_sent = envelope["id"]

    async def send_json(self, content: dict) -> None:
        await self.send(text_data=json.dumps(content))

    async def ping_while_idle(self) -> None:
        """Send {"type": "ping"} every HEARTBEAT_SECONDS so proxies keep the socket and dead peers surface."""
        interval = settings.TRACKER["HEARTBEAT_SECONDS"]
        while True:
            await asyncio.sleep(interval)
            await self.send_json({"type": "ping"})
