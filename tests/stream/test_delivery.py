"""One socket's delivery (tracker.stream.delivery) and its registration with the process fan-out
(tracker.stream.fanout), on the real ASGI app, Redis channel layer and PostGIS.

The interleavings that broke the contract are played exactly: the test stands in for the ASGI server's send
(tests.stream.support.with_send_hook), so it can let the fan-out or the ticker act at the instant a frame is
being written, or never let a write finish (a client that stopped reading).
"""

import asyncio
import json

import pytest

from tests.conftest import in_thread
from tests.factories import IncidentFactory
from tests.stream.support import with_send_hook, write_unpublished
from tracker.consumers import CLOSE_TOO_SLOW
from tracker.stream import fanout, replay
from tracker.stream.eventlog import encode
from tracker_project.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True)]


def event_id(message: dict) -> int | None:
    """Return the event id of an ASGI websocket.send message, None for other messages and control frames."""
    if message["type"] != "websocket.send":
        return None
    return json.loads(message["text"]).get("id")


def only_delivery():
    """Return the one socket delivery registered with this event loop's fan-out."""
    (delivery,) = fanout.ticker().sockets
    return delivery


async def test_a_live_push_during_a_catch_up_is_sent_once_and_in_order(sockets, token, settings):
    """Defect 2. While the ticker's catch-up writes event 1, the next tick queues a catch-up of 1..3 and the
    fan-out pushes event 2 at that instant. Before, push's fast path saw the lock free but with a waiter,
    queued behind it, and sent event 2 again after the catch-up had sent 2 and 3 (setting `last_sent` back)."""
    settings.TRACKER = {**settings.TRACKER, "CATCHUP_SECONDS": 60}  # the test plays the ticker
    envelopes: list[dict] = []
    played = asyncio.Event()

    async def hook(message):
        if event_id(message) == 1 and not played.is_set():
            played.set()
            delivery = only_delivery()
            delivery.catch_up(envelopes)
            await asyncio.sleep(0)  # the write takes a moment; the catch-up queues behind it
            delivery.push(2, encode(envelopes[1]))

    socket, _, _ = await sockets(token=token.key, app=with_send_hook(application, hook))
    assert await socket.receive() == {"type": "hello", "last_event_id": 0}
    await in_thread(write_unpublished)(["one", "two", "three"])
    envelopes.extend(await in_thread(replay.events_after)(0))
    only_delivery().catch_up(envelopes[:1])
    received = [(await socket.receive_event())["id"] for _ in range(3)]
    assert played.is_set()
    assert received == [1, 2, 3]
    await socket.assert_silent()
    assert only_delivery().last_sent == 3


async def test_a_socket_connecting_while_the_last_other_one_leaves_gets_the_live_stream(sockets, token, settings):
    """Defect 3. The last registered socket of the process leaves while a new one is mid-handshake. Before,
    the new socket had subscribed but not yet registered, so that departure cancelled the subscription and
    registering restarted only the ticker: live events reached it only by the (here disabled) catch-up."""
    settings.TRACKER = {**settings.TRACKER, "CATCHUP_SECONDS": 60}
    first, _, _ = await sockets(token=token.key)
    assert (await first.receive())["type"] == "hello"
    accepting, go_on = asyncio.Event(), asyncio.Event()

    async def hook(message):
        if message["type"] == "websocket.accept":
            accepting.set()
            await go_on.wait()

    opening = asyncio.ensure_future(sockets(token=token.key, app=with_send_hook(application, hook)))
    await asyncio.wait_for(accepting.wait(), 5)
    await first.close()
    go_on.set()
    second, connected, _ = await opening
    assert connected
    assert (await second.receive())["type"] == "hello"
    await in_thread(IncidentFactory)(name="live")
    event = await second.receive_event(timeout=5)
    assert event["feature"]["properties"]["name"] == "live"


async def test_a_socket_that_stops_reading_is_closed_and_does_not_hold_up_the_others(sockets, token, settings):
    """A client whose every write blocks (its TCP window full) holds up only its own writer: the other socket
    gets each event at once (the catch-up is disabled, so only the live fan-out can deliver), and once
    SOCKET_BACKLOG events wait for the stalled one it is closed with CLOSE_TOO_SLOW. Before, the fan-out
    awaited the stalled send and no socket of the process got another live event."""
    settings.TRACKER = {**settings.TRACKER, "CATCHUP_SECONDS": 60, "SOCKET_BACKLOG": 5}
    never = asyncio.Event()

    async def stalled(message):
        if event_id(message) is not None:
            await never.wait()

    reader, _, _ = await sockets(token=token.key)
    stuck, _, _ = await sockets(token=token.key, app=with_send_hook(application, stalled))
    assert (await reader.receive())["type"] == (await stuck.receive())["type"] == "hello"
    ids = []
    for n in range(8):
        await in_thread(IncidentFactory)(name=f"#{n}")
        ids.append((await reader.receive_event(timeout=5))["id"])
    assert ids == list(range(1, 9))
    # One write in flight, SOCKET_BACKLOG queued, and the next one closes it.
    assert await stuck.receive_close_code() == CLOSE_TOO_SLOW
    await reader.assert_silent()
