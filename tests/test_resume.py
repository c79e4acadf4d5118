"""Resume with ?after=N: exactly-once, in-order delivery under concurrent writers, catch-up without a later
event, heartbeat, and retention (prune_events -> resync)."""

import asyncio
import random
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.conftest import in_thread
from tests.factories import IncidentFactory
from tests.support.stream_client import (
    StreamClient,
    assert_exactly_once_in_order,
    logged_event_ids,
    report,
    write_incidents,
)
from tracker.models import Event
from tracker.stream import eventlog

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_clients_resuming_at_random_points_get_every_event_once_in_order(servers, settings, token):
    """6 writer threads commit 240 events with transactions held open for random times, while 4 clients drop
    their connection after every 1-25 events (half of the time without a close frame) and resume with
    ?after=<last id> on a random one of two server processes."""
    done, target = asyncio.Event(), [0]
    urls = [server.ws_url for server in servers(2, redis_url=settings.REDIS_URL)]
    clients = [StreamClient(f"client-{n}", urls, token.key) for n in range(4)]
    followers = [
        asyncio.create_task(client.follow(done, target, rng=random.Random(n), drop_after=(1, 25)))
        for n, client in enumerate(clients)
    ]
    await in_thread(write_incidents)(240, writers=6, hold=0.004, seed=1)
    written = await in_thread(logged_event_ids)()
    target[0] = written[-1]
    done.set()
    await asyncio.wait_for(asyncio.gather(*followers), 60)

    report("concurrent_writers_random_resumes", written, clients)
    assert written == list(range(1, 241)), "event ids must be gap-free"
    assert_exactly_once_in_order(written, clients)
    for client in clients:
        assert client.connections >= 5, f"{client.name} resumed too rarely to test anything"
        assert client.resyncs == 0


async def test_event_whose_publish_was_lost_arrives_without_a_later_event(sockets, token, settings):
    """Redis down at commit time: no later event reveals the gap; the process's catch-up tick delivers it."""
    settings.TRACKER = {**settings.TRACKER, "CATCHUP_SECONDS": 0.2}
    socket, _, _ = await sockets(token=token.key)
    assert (await socket.receive())["type"] == "hello"

    def write_without_publishing():
        original = eventlog.publish
        eventlog.publish = lambda events: None
        try:
            return IncidentFactory(name="lost publish").pk
        finally:
            eventlog.publish = original

    incident_id = await in_thread(write_without_publishing)()
    event = await socket.receive_event(timeout=3)
    assert (event["id"], event["feature"]["id"]) == (1, incident_id)
    await socket.assert_silent(0.6)  # caught up once, not on every tick


async def test_idle_socket_is_pinged(sockets, token, settings):
    settings.TRACKER = {**settings.TRACKER, "CATCHUP_SECONDS": 0.1, "HEARTBEAT_SECONDS": 0.3}
    socket, _, _ = await sockets(token=token.key)
    assert (await socket.receive())["type"] == "hello"
    assert await socket.receive(timeout=2) == {"type": "ping"}


async def test_prune_keeps_the_retention_window_and_the_newest_event():
    for _ in range(4):
        await in_thread(IncidentFactory)()
    old = timezone.now() - timedelta(hours=80)
    await in_thread(lambda: Event.objects.update(created_at=old))()
    await in_thread(lambda: Event.objects.filter(id=2).update(created_at=timezone.now()))()

    out = StringIO()
    await in_thread(call_command)("prune_events", "--hours", "72", stdout=out)
    # Event 2 is recent but event 3 is old: the log is pruned as a prefix, up to the newest old-enough event
    # that is not the newest event overall, so what remains has no holes.
    assert await in_thread(logged_event_ids)() == [4]
    assert out.getvalue().strip() == "pruned 3 event(s) older than 72 h"

    await in_thread(call_command)("prune_events", "--hours", "0", stdout=StringIO())
    assert await in_thread(logged_event_ids)() == [4]


async def test_prune_leaves_events_inside_the_window(settings):
    settings.TRACKER = {**settings.TRACKER, "EVENT_RETENTION_HOURS": 72}
    for _ in range(3):
        await in_thread(IncidentFactory)()
    await in_thread(lambda: Event.objects.filter(id=1).update(created_at=timezone.now() - timedelta(hours=73)))()
    await in_thread(call_command)("prune_events", stdout=StringIO())
    assert await in_thread(logged_event_ids)() == [2, 3]


async def test_resuming_from_a_pruned_position_gets_resync_and_a_retained_one_gets_the_replay(sockets, token):
    for _ in range(5):
        await in_thread(IncidentFactory)()
    await in_thread(lambda: Event.objects.filter(id__lte=2).update(created_at=timezone.now() - timedelta(days=4)))()
    await in_thread(call_command)("prune_events", stdout=StringIO())

    pruned, _, _ = await sockets(token=token.key, query="after=1")
    assert await pruned.receive() == {"type": "hello", "last_event_id": 5}
    assert await pruned.receive() == {"type": "resync"}
    await in_thread(IncidentFactory)()
    assert (await pruned.receive_event())["id"] == 6  # live events continue after the resync

    retained, _, _ = await sockets(token=token.key, query="after=2")
    assert await retained.receive() == {"type": "hello", "last_event_id": 6}
    assert [(await retained.receive_event())["id"] for _ in range(4)] == [3, 4, 5, 6]


async def test_resuming_from_ahead_of_the_log_gets_resync(sockets, token):
    """The client's position comes from another history (database restored from a backup)."""
    await in_thread(IncidentFactory)()
    socket, _, _ = await sockets(token=token.key, query="after=99")
    assert await socket.receive() == {"type": "hello", "last_event_id": 1}
    assert await socket.receive() == {"type": "resync"}
