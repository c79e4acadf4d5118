"""One socket's delivery: everything a socket is sent goes through its own bounded queue and one writer task.

The process fan-out and the ticker (tracker.stream.fanout) only *queue* work for a socket (`push`,
`catch_up`, `ping`: plain calls that never wait), and the socket's writer task does all of its sending: the
hello and the replay first, then the queue in order. So:

- Exactly once, in id order, by construction: there is one sender per socket, it drops any id it already sent
  and fills a gap before an event from the log (safe because event ids are gap-free and commit-ordered), and
  `last_sent` only grows. (Before, the live push, the replay and the catch-up took turns on an asyncio.Lock,
  whose hand-over to a queued waiter let two of them send the same id, or an older id after a newer one.)
- A client that stops reading (its TCP window full: a frozen laptop on a bad network) holds up only its own
  writer: its ASGI send waits (uvicorn stops at a 64 KiB write buffer), the other sockets of the process do
  not. What waits for it is bounded: at most TRACKER["SOCKET_BACKLOG"] live events (references to the texts
  every socket is sent, not copies). A socket with a full queue has fallen too far behind: it is closed with
  CLOSE_TOO_SLOW, and the client reconnects and resumes with ?after=N, from the log.
"""

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol

from channels.db import database_sync_to_async
from django.conf import settings

from tracker.health import CLOSE_UNAVAILABLE, UNAVAILABLE_ERRORS
from tracker.stream import replay
from tracker.stream.eventlog import encode

logger = logging.getLogger(__name__)

# 4000-4999 are application close codes; 4408 echoes HTTP 408: the client did not read in time. It is not an
# error of the client's state: reconnect and resume with ?after=N (frontend/src/socket.js does).
CLOSE_TOO_SLOW = 4408

PING = object()  # a queued heartbeat

replay_plan = database_sync_to_async(replay.replay_plan)
fetch_events = database_sync_to_async(replay.events_after)


class Socket(Protocol):
    """What a delivery needs of its WebSocket (NotificationsConsumer): the connection's ASGI send, close."""

    # The ASGI send callable (Channels' AsyncConsumer sets it). Frames go to it directly, without the two
    # coroutine layers of the consumer's send(text_data=...) that only build the same message: at 1,000
    # sockets every layer is paid 1,000 times per event on the process's one event loop.
    base_send: Callable[[dict], Awaitable[None]]

    async def close(self, code: int) -> None: ...


class Delivery:
    """The ordered, bounded delivery to one socket; what tracker.stream.fanout registers and feeds."""

    def __init__(self, socket: Socket, *, backlog: int | None = None) -> None:
        self.socket = socket
        self.backlog = settings.TRACKER["SOCKET_BACKLOG"] if backlog is None else backlog
        # Live events (event id, text), catch-ups (lists of envelopes) and PINGs, in the order they are sent.
        self.queue: deque = deque()
        # The writer's wake-up while it waits for the queue (a bare future: the fan-out sets one per socket per
        # event, and asyncio.Event's waiter list and wait() frames cost more than the send itself).
        self.waiter: asyncio.Future | None = None
        # The newest id sent. Only the writer changes it, and only upwards.
        self.last_sent = 0
        # The newest id sent or queued: every event up to it will reach the socket (gaps are filled from the
        # log), so the ticker catches up only sockets whose position is behind.
        self.position = 0
        # True from the end of the replay until stop(): the ticker catches up and pings only such sockets.
        self.streaming = False
        self.catch_up_queued = False
        self.stopped = False
        self.writer: asyncio.Task | None = None
        self.closing: asyncio.Task | None = None
        self.loop = asyncio.get_running_loop()
        self.last_send_at = self.loop.time()

    def start(self, after: int | None) -> None:
        """Start the writer: hello and replay after `after` (None: a fresh client), then the queue. Call it once
        the socket is registered with the fan-out and accepted, so nothing published meanwhile is missed."""
        self.position = max(self.position, after or 0)
        self.writer = self.loop.create_task(self.write(after), name="tracker-stream-writer")

    # --- What the fan-out and the ticker call: never waits ---------------------------------------------------

    def push(self, event_id: int, text: str) -> None:
        """Queue a live event, unless the socket already has it; close the socket as too slow if its queue is
        full."""
        if self.stopped or event_id <= self.position:
            return
        if len(self.queue) >= self.backlog:
            logger.warning("closing a socket %d events behind (event %d): too slow", len(self.queue), event_id)
            self.close_soon(CLOSE_TOO_SLOW)
            return
        self.position = event_id
        self.put((event_id, text))

    def catch_up(self, envelopes: list[dict]) -> None:
        """Queue the envelopes (consecutive ids, read from the log by the ticker, shared by every lagging
        socket); the writer sends those the socket has not been sent. One catch-up at a time is queued."""
        if self.stopped or self.catch_up_queued or not envelopes:
            return
        self.catch_up_queued = True
        self.position = max(self.position, envelopes[-1]["id"])
        self.put(envelopes)

    def ping(self) -> None:
        """Queue a heartbeat, unless anything is queued already (which the socket will be sent anyway)."""
        if self.streaming and not self.queue:
            self.put(PING)

    def idle_seconds(self) -> float:
        """Return the seconds since this socket was last sent anything."""
        return self.loop.time() - self.last_send_at

    def put(self, item) -> None:
        self.queue.append(item)
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():  # (cancelled with the writer)
                waiter.set_result(None)

    # --- Ending ----------------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Send nothing more: drop the queue and end the writer. Idempotent; the socket is not closed."""
        self.stopped = True
        self.streaming = False
        self.queue.clear()
        if self.writer is not None and self.writer is not asyncio.current_task():
            self.writer.cancel()

    async def close(self, code: int) -> None:
        """Stop, then close the socket with `code`. With a client that stopped reading, the close frame waits
        behind the ASGI server's buffer; the server's ping timeout drops such a peer (deploy/serve.sh)."""
        self.stop()
        try:
            await self.socket.close(code=code)
        except (OSError, RuntimeError) as error:  # the connection is gone, or closed already
            logger.info("could not close a socket with %d (%r)", code, error)

    def close_soon(self, code: int) -> None:
        """Close with `code` in a task of its own: the caller (the fan-out) must not wait for this socket."""
        self.stop()
        if self.closing is None:
            self.closing = self.loop.create_task(self.close(code))

    # --- The writer: the socket's one sender -----------------------------------------------------------------

    async def write(self, after: int | None) -> None:
        try:
            await self.replay(after)
            self.streaming = not self.stopped
            while True:
                while not self.queue:
                    self.waiter = self.loop.create_future()
                    await self.waiter
                item = self.queue.popleft()
                if item is PING:
                    await self.send_control({"type": "ping"})
                elif isinstance(item, list):
                    self.catch_up_queued = False
                    for envelope in item:
                        if envelope["id"] > self.last_sent:
                            await self.send_event(envelope["id"], encode(envelope))
                else:
                    await self.send_event(*item)
        except UNAVAILABLE_ERRORS as error:
            logger.warning("closing socket: service unavailable (%r)", error)
            await self.close(CLOSE_UNAVAILABLE)
        except Exception:  # (not CancelledError: stop() ends the writer that way)
            # A send failed (the client is gone, or the socket was closed meanwhile): nothing more can be sent.
            logger.info("delivery to a socket ended", exc_info=True)
            self.stop()

    async def replay(self, after: int | None) -> None:
        """Send the hello, then the events after `after` or a resync (replay.replay_plan decides)."""
        plan = await replay_plan(after)
        await self.send_control({"type": "hello", "last_event_id": plan.last})
        if plan.envelopes is None:
            await self.send_control({"type": "resync"})
        else:
            for envelope in plan.envelopes:
                await self.send_frame(envelope["id"], encode(envelope))
        # After a resync too: the client reloads its state over REST as of this point.
        self.last_sent = max(self.last_sent, plan.last)
        self.position = max(self.position, plan.last)

    async def send_event(self, event_id: int, text: str) -> None:
        """Send event `event_id` unless it was sent already, after any events missing before it (from the log)."""
        if event_id <= self.last_sent:
            return
        if event_id > self.last_sent + 1:
            for envelope in await fetch_events(self.last_sent, upto=event_id - 1):
                await self.send_frame(envelope["id"], encode(envelope))
        await self.send_frame(event_id, text)

    async def send_frame(self, event_id: int, text: str) -> None:
        await self.socket.base_send({"type": "websocket.send", "text": text})
        self.last_sent = event_id
        self.last_send_at = self.loop.time()

    async def send_control(self, content: dict) -> None:
        await self.socket.base_send({"type": "websocket.send", "text": json.dumps(content)})
        self.last_send_at = self.loop.time()
