"""The process-wide side of the live stream: one ticker per server process (per event loop) for all its sockets.

Every TRACKER["CATCHUP_SECONDS"] the ticker reads the newest event id (one indexed MAX query per process, not
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

The ticker starts with the first socket of its event loop and stops when the last one leaves. Per-socket work
runs in a task of its own, at most one at a time per socket, so one slow client cannot stall the others.
"""

import asyncio
import logging
import weakref
from typing import Protocol

from channels.db import database_sync_to_async
from django.conf import settings

from tracker import selectors
from tracker.health import CLOSE_UNAVAILABLE, DATABASE_ERRORS

logger = logging.getLogger(__name__)

# Consecutive failed database reads before the sockets are closed: one failed query is a blip, two are an outage.
FAILED_TICKS_BEFORE_CLOSING = 2

last_event_id = database_sync_to_async(selectors.last_event_id)
fetch_events = database_sync_to_async(selectors.events_after)


class LiveSocket(Protocol):
    """What the ticker needs of a socket (NotificationsConsumer)."""

    last_sent: int

    def idle_seconds(self) -> float: ...

    async def catch_up(self, envelopes: list[dict]) -> None: ...

    async def ping(self) -> None: ...

    async def close(self, code: int) -> None: ...


class Ticker:
    """The sockets of one event loop and the task that keeps them caught up and alive."""

    def __init__(self) -> None:
        self.sockets: set[LiveSocket] = set()
        self.task: asyncio.Task | None = None
        # Per-socket work in flight; a socket still busy with the previous tick's work is skipped this tick.
        self.busy: weakref.WeakKeyDictionary[LiveSocket, asyncio.Task] = weakref.WeakKeyDictionary()
        self.previous_last: int | None = None
        self.failed_ticks = 0

    def add(self, socket: LiveSocket) -> None:
        self.sockets.add(socket)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self.run(), name="tracker-stream-ticker")

    def remove(self, socket: LiveSocket) -> None:
        self.sockets.discard(socket)
        self.busy.pop(socket, None)
        if not self.sockets and self.task is not None:
            self.task.cancel()
            self.task = None
            self.previous_last = None
            self.failed_ticks = 0

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
        lagging = [s for s in sockets if threshold is not None and s.last_sent < threshold]
        if lagging:
            start = min(s.last_sent for s in lagging)
            # Bounded: a socket further behind than this gets the rest on the following ticks.
            envelopes = await fetch_events(start, upto=last, limit=settings.TRACKER["REPLAY_LIMIT"])
            logger.info("catching up %d socket(s) from event %d: %d event(s)", len(lagging), start, len(envelopes))
            for socket in lagging:
                self.start(socket, socket.catch_up(envelopes))
        heartbeat = settings.TRACKER["HEARTBEAT_SECONDS"]
        for socket in sockets:
            if socket.idle_seconds() >= heartbeat:
                self.start(socket, socket.ping())

    def database_failed(self, error: Exception) -> None:
        self.failed_ticks += 1
        logger.warning("stream ticker cannot read the event log (%d in a row): %s", self.failed_ticks, error)
        if self.failed_ticks >= FAILED_TICKS_BEFORE_CLOSING:
            # Removed first, so a socket is closed once; the last removal ends this ticker (its own task).
            # The close does not wait for any catch-up in flight: it must happen.
            loop = asyncio.get_running_loop()
            for socket in list(self.sockets):
                self.remove(socket)
                loop.create_task(socket.close(code=CLOSE_UNAVAILABLE))

    def start(self, socket: LiveSocket, work) -> None:
        """Run `work` for `socket` in a task of its own, unless the socket is still busy with earlier work."""
        running = self.busy.get(socket)
        if running is not None and not running.done():
            work.close()
            return
        self.busy[socket] = asyncio.get_running_loop().create_task(work)


_tickers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Ticker] = weakref.WeakKeyDictionary()


def ticker() -> Ticker:
    """Return the running event loop's ticker (a server process has one loop; each async test has its own)."""
    loop = asyncio.get_running_loop()
    if loop not in _tickers:
        _tickers[loop] = Ticker()
    return _tickers[loop]


def register(socket: LiveSocket) -> None:
    """Keep `socket` caught up and pinged until unregister(); starts the ticker with the first socket."""
    ticker().add(socket)


def unregister(socket: LiveSocket) -> None:
    """Stop tracking `socket`; stops the ticker when it was the last one."""
    ticker().remove(socket)
