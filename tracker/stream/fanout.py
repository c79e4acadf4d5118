"""The process-wide side of the live stream: one subscription and one ticker per server process (per event
loop) for all its sockets.

Fan-out: the process subscribes to the `notifications` group once, with one channel of its own, and hands each
event's ready JSON text to every local socket's delivery (tracker.stream.delivery), which queues it: the
fan-out never waits for a socket, so a client that stops reading cannot delay the others. Subscribing every
socket instead would cost, per event and per socket, a channel-layer message to decode and a consumer
dispatch, which Channels opens with a database-connection check on the sync thread
(`aclose_old_connections`): at 1,000 sockets that is 1,000 thread hops per event, queued behind the HTTP
requests (measured in bench/).

The ticker, every TRACKER["CATCHUP_SECONDS"], reads the newest event id (one indexed MAX query per process, not
one per socket) and:

- catches up the sockets that are still behind the id it read on the *previous* tick. The live stream had a
  whole tick to deliver those events, so such a socket missed them: their publish failed (Redis down or
  restarting) or was lost on the way (pub/sub is at-most-once). The events come from the log, fetched once
  for all lagging sockets. This is what delivers events written during a Redis outage even when no later
  event arrives to reveal the gap.
- pings the sockets that sent nothing for TRACKER["HEARTBEAT_SECONDS"], so proxies keep idle sockets open;
  dead peers are dropped by the ASGI server's protocol-level ping timeout (deploy/serve.sh).
- closes every socket with CLOSE_UNAVAILABLE once the database has been unreachable for two ticks in a row:
  the clients reconnect (through the load balancer, perhaps to a healthy process) and resume with ?after=N.

Both start with the first socket of their event loop and stop when the last one leaves; a socket is
registered *before* it waits for the subscription, so no socket is ever registered without a live one. The
ticker only queues work for a socket too (its catch-up, a ping): the socket's writer task does the sending,
and the database reads it may need.
"""


import asyncio
import logging
import weakref
from typing import Protocol

import redis.exceptions
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from tracker.health import CLOSE_UNAVAILABLE, DATABASE_ERRORS
from tracker.stream import replay
from tracker.stream.delivery import fetch_events
from tracker.stream.publish import GROUP

logger = logging.getLogger(__name__)

# Consecutive failed database reads before the sockets are closed: one failed query is a blip, two are an outage.
FAILED_TICKS_BEFORE_CLOSING = 2

last_event_id = database_sync_to_async(replay.last_event_id)


# Seconds between attempts to (re)subscribe the process to the group after a channel-layer failure.
RESUBSCRIBE_SECONDS = 1.0
# Events queued for every socket, at most, before the fan-out lets the sockets' writers send them. Events
# published back to back (one transaction's, a burst) arrive without the fan-out ever waiting; handing over in
# batches wakes each writer once per batch rather than once per event, and stays far below SOCKET_BACKLOG, so
# a socket that keeps up is never taken for a slow one.
BATCH = 32


class LiveSocket(Protocol):
    """What the fan-out and the ticker need of a socket (tracker.stream.delivery.Delivery). Only close() may
    wait; the rest queue work for the socket's own writer."""

    # The newest event id the socket has been sent or has queued: it will get every event up to it.
    position: int
    # False until the socket has sent its hello and replay, and after it stopped; the ticker leaves it alone.
    streaming: bool

    def push(self, event_id: int, text: str) -> None: ...

    def catch_up(self, envelopes: list[dict]) -> None: ...

    def ping(self) -> None: ...

    def idle_seconds(self) -> float: ...

    async def close(self, code: int) -> None: ...


class Ticker:
    """The sockets of one event loop, the group subscription that feeds them and the task that keeps them
    caught up and alive."""

    def __init__(self) -> None:
        self.sockets: set[LiveSocket] = set()
        self.task: asyncio.Task | None = None
        self.listener: asyncio.Task | None = None
        # Set while the process's channel is in the group: from then on every published event reaches it.
        self.subscribed = asyncio.Event()
        self.previous_last: int | None = None
        self.failed_ticks = 0

    async def join(self, socket: LiveSocket) -> None:
        """Register `socket` and return once the process is subscribed to the group: from then on every
        published event is pushed to it. Raise redis TimeoutError, the socket unregistered, if that takes
        longer than PUBLISH_TIMEOUT_SECONDS (the channel layer is away).

        Registered first, with no await before: the subscription and the ticker run while any socket is
        registered, so they cannot be stopped by the last other socket leaving while this one waits."""
        self.add(socket)
        try:
            await asyncio.wait_for(self.subscribed.wait(), settings.TRACKER["PUBLISH_TIMEOUT_SECONDS"])
        except TimeoutError:
            self.remove(socket)
            raise redis.exceptions.TimeoutError("the channel layer is unavailable") from None

    def add(self, socket: LiveSocket) -> None:
        """Register `socket`, starting the subscription and the ticker if they are not running."""
        self.sockets.add(socket)
        loop = asyncio.get_running_loop()
        if self.listener is None:
            self.listener = loop.create_task(self.listen(), name="tracker-stream-fanout")
        if self.task is None:
            self.task = loop.create_task(self.run(), name="tracker-stream-ticker")

    def remove(self, socket: LiveSocket) -> None:
        """Unregister `socket`; the last one out stops the subscription and the ticker."""
        self.sockets.discard(socket)
        if not self.sockets:
            for task in (self.task, self.listener):
                if task is not None:
                    task.cancel()
            self.task = self.listener = None
            self.subscribed.clear()
            self.previous_last = None
            self.failed_ticks = 0

    async def listen(self) -> None:
        """Receive each published event once for the process and push it to every local socket.

        A channel-layer failure (Redis away) ends the subscription; it is made again, and the ticker delivers
        from the log whatever was published meanwhile.
        """
        layer = get_channel_layer()
        while True:
            channel = None
            try:
                channel = await layer.new_channel()
                await layer.group_add(GROUP, channel)
                self.subscribed.set()
                handed = 0
                while True:
                    message = await layer.receive(channel)
                    event_id, text = message["id"], message["text"]
                    for socket in list(self.sockets):
                        try:
                            socket.push(event_id, text)
                        except Exception:  # a socket that fails must not stop the others
                            logger.exception("could not push event %d to a socket", event_id)
                    handed += 1
                    if handed % BATCH == 0:
                        await asyncio.sleep(0)
            except asyncio.CancelledError:
                if channel is not None:
                    await asyncio.shield(self.leave(layer, channel))
                raise
            except Exception:
                self.subscribed.clear()
                logger.exception("lost the group subscription; subscribing again")
                await asyncio.sleep(RESUBSCRIBE_SECONDS)

    @staticmethod
    async def leave(layer, channel: str) -> None:
        try:
            await layer.group_discard(GROUP, channel)
        except Exception:  # Redis away: the subscription died with the connection
            logger.info("could not leave the group while the channel layer is unavailable")

    async def run(self) -> None:
        interval = settings.TRACKER["CATCHUP_SECONDS"]
        while True:
            await asyncio.sleep(interval)
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The ticker must outlive any one failure, or every socket of the process loses catch-up.
                logger.exception("stream ticker failed; retrying next tick")

    async def tick(self) -> None:
        """One round: read the newest id, catch up the lagging sockets, ping the idle ones."""
        try:
            last = await last_event_id()
        except DATABASE_ERRORS as error:
            self.database_failed(error)
            return
        self.failed_ticks = 0
        threshold, self.previous_last = self.previous_last, last
        sockets = list(self.sockets)
        lagging = [s for s in sockets if threshold is not None and s.streaming and s.position < threshold]
        if lagging:
            start = min(s.position for s in lagging)
            # Bounded: a socket further behind than this gets the rest on the following ticks.
            envelopes = await fetch_events(start, upto=last, limit=settings.TRACKER["REPLAY_LIMIT"])
            logger.info("catching up %d socket(s) from event %d: %d event(s)", len(lagging), start, len(envelopes))
            for socket in lagging:
                socket.catch_up(envelopes)
        heartbeat = settings.TRACKER["HEARTBEAT_SECONDS"]
        for socket in sockets:
            if socket.idle_seconds() >= heartbeat:
                socket.ping()

    def database_failed(self, error: Exception) -> None:
        self.failed_ticks += 1
        logger.warning("stream ticker cannot read the event log (%d in a row): %s", self.failed_ticks, error)
        if self.failed_ticks >= FAILED_TICKS_BEFORE_CLOSING:
            # Removed first, so a socket is closed once; the last removal ends this ticker (its own task).
            loop = asyncio.get_running_loop()
            for socket in list(self.sockets):
                self.remove(socket)
                loop.create_task(socket.close(code=CLOSE_UNAVAILABLE))


_tickers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Ticker] = weakref.WeakKeyDictionary()


def ticker() -> Ticker:
    """Return the running event loop's ticker (a server process has one loop; each async test has its own)."""
    loop = asyncio.get_running_loop()
    if loop not in _tickers:
        _tickers[loop] = Ticker()
    return _tickers[loop]


async def join(socket: LiveSocket) -> None:
    """Push every event published from the return on to `socket`, and keep it caught up and pinged, until
    leave(socket); raise redis TimeoutError if the channel layer is unavailable (see Ticker.join)."""
    await ticker().join(socket)


def leave(socket: LiveSocket) -> None:
    """Stop tracking `socket` (idempotent); the last one out stops the process's subscription and ticker."""
    ticker().remove(socket)
