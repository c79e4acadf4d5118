"""events/?after=N: the WebSocket's envelopes from the log, in order, in batches, with resync where the socket
would resync (pruned, too far behind, ahead of the log)."""

import pytest

from tests.api.conftest import API, assert_error
from tests.conftest import Socket, in_thread
from tests.factories import IncidentFactory
from tracker.models import Event
from tracker.stream import replay

pytestmark = pytest.mark.django_db

URL = API + "events/"


def test_replays_the_logged_envelopes_in_id_order_in_batches(api):
    for index in range(5):
        IncidentFactory(name=f"i{index}")
    logged = list(Event.objects.order_by("id").values_list("envelope", flat=True))
    first = api.get(URL, {"after": 0, "limit": 2}).json()
    assert first["results"] == logged[:2]
    assert first["last_event_id"] == logged[1]["id"]
    collected, page = list(first["results"]), first
    while page["next"]:
        page = api.get(page["next"]).json()
        collected += page["results"]
    assert collected == logged
    assert page["last_event_id"] == replay.last_event_id() and page["next"] is None


def test_caught_up_gets_nothing_and_the_head(api):
    IncidentFactory()
    last = replay.last_event_id()
    assert api.get(URL, {"after": last}).json() == {"results": [], "last_event_id": last, "next": None}


def test_ahead_of_the_log_answers_410_resync_with_the_head(api):
    """Defect 5: a position past the newest id got a 200 with a smaller last_event_id; the socket resyncs."""
    IncidentFactory()
    last = replay.last_event_id()
    for after in (last + 1, last + 100):
        body = assert_error(api.get(URL, {"after": after}), 410)
        assert body["code"] == "resync" and body["last_event_id"] == last


def test_an_empty_log(api):
    assert api.get(URL).json() == {"results": [], "last_event_id": 0, "next": None}


def test_pruned_position_answers_410_resync(api):
    for _ in range(3):
        IncidentFactory()
    oldest = replay.oldest_event_id()
    Event.objects.filter(id__lte=oldest + 1).delete()  # as prune_events would
    body = assert_error(api.get(URL, {"after": oldest - 1}), 410)
    assert body["code"] == "resync" and body["last_event_id"] == replay.last_event_id()
    assert api.get(URL, {"after": oldest + 1}).status_code == 200  # the first kept event is next: fine


@pytest.mark.parametrize("params", [{"after": "-1"}, {"after": "x"}, {"after": str(2**63)}, {"limit": "0"},
                                    {"limit": "1001"}])
def test_malformed_parameters(api, params):
    assert_error(api.get(URL, params), 400, next(iter(params)))


def test_needs_a_login(anon):
    assert_error(anon.get(URL), 401)


# The log of the parity test: events 1..8 of which 1 and 2 were pruned, and a replay limit of 4 events.
PARITY_EVENTS, PARITY_PRUNED, PARITY_LIMIT = 8, 2, 4
REPLAY, RESYNC = "replay", "resync"


async def socket_decision(token: str, after: int) -> tuple:
    """Return what the WebSocket answers a client resuming after `after`: (RESYNC, last) or (REPLAY, ids, last)."""
    socket, connected, _ = await Socket.open(token=token, query=f"after={after}")
    assert connected
    try:
        hello = await socket.receive()
        assert hello["type"] == "hello"
        frames = []
        while not await socket.communicator.receive_nothing(timeout=0.3):
            frames.append(await socket.receive())
    finally:
        await socket.close()
    if frames == [{"type": "resync"}]:
        return RESYNC, hello["last_event_id"]
    assert all(frame["type"] != "resync" for frame in frames), frames
    return REPLAY, [frame["id"] for frame in frames], hello["last_event_id"]


def rest_decision(api, after: int) -> tuple:
    """Return what GET events/ answers the same client, following `next` in pages of 2: (RESYNC, last) on a
    410, else (REPLAY, ids, last_event_id of the last page)."""
    response = api.get(URL, {"after": after, "limit": 2})
    if response.status_code == 410:
        body = assert_error(response, 410)
        assert body["code"] == "resync"
        return RESYNC, body["last_event_id"]
    page = response.json()
    ids = [envelope["id"] for envelope in page["results"]]
    while page["next"]:
        page = api.get(page["next"]).json()
        ids += [envelope["id"] for envelope in page["results"]]
    return REPLAY, ids, page["last_event_id"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("position", "after", "expected"),
    [
        ("at the head", 8, (REPLAY, [], 8)),
        ("behind, in the log", 5, (REPLAY, [6, 7, 8], 8)),
        ("exactly the replay limit behind", 4, (REPLAY, [5, 6, 7, 8], 8)),
        ("too far behind, in the log", 3, (RESYNC, 8)),
        ("pruned", 1, (RESYNC, 8)),
        ("from the start of a pruned log", 0, (RESYNC, 8)),
        ("one past the end", 9, (RESYNC, 8)),
        ("far past the end", 10**12, (RESYNC, 8)),
    ],
)
async def test_the_socket_and_rest_decide_every_position_alike(token, api, settings, position, after, expected):
    """Defect 5: one resume rule (tracker.stream.replay.resume_from) on both paths, for each class of position."""
    settings.TRACKER = {**settings.TRACKER, "REPLAY_LIMIT": PARITY_LIMIT}
    for _ in range(PARITY_EVENTS):
        await in_thread(IncidentFactory)()
    await in_thread(lambda: Event.objects.filter(id__lte=PARITY_PRUNED).delete())()
    assert await in_thread(lambda: (replay.oldest_event_id(), replay.last_event_id()))() == (3, 8)

    over_rest = await in_thread(rest_decision)(api, after)
    over_socket = await socket_decision(token.key, after)
    assert over_socket == over_rest == expected, position


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("after", "expected"), [(0, (REPLAY, [], 0)), (1, (RESYNC, 0))])
async def test_the_socket_and_rest_decide_alike_on_an_empty_log(token, api, after, expected):
    assert await in_thread(rest_decision)(api, after) == await socket_decision(token.key, after) == expected
