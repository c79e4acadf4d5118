"""The WebSocket stream end to end on the real ASGI app, Redis channel layer and PostGIS."""

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.conftest import in_thread, session_cookie
from tests.factories import AreaFactory, IncidentFactory, UserFactory, square
from tests.stream.support import write_unpublished
from tracker import services
from tracker.consumers import CLOSE_BAD_REQUEST, CLOSE_UNAUTHENTICATED
from tracker.models import MAX_ID, Event, Severity

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def user_token(transactional_db):
    user = UserFactory()
    return Token.objects.create(user=user).key


def assert_feature(feature: dict, geometry_type: str) -> None:
    """Assert an RFC 7946 Feature: type, id, geometry with lon/lat coordinates, properties object."""
    assert feature["type"] == "Feature"
    assert isinstance(feature["id"], int)
    assert feature["geometry"]["type"] == geometry_type
    assert isinstance(feature["properties"], dict)
    coordinates = feature["geometry"]["coordinates"]
    points = [coordinates] if geometry_type == "Point" else coordinates[0]
    for lon, lat in points:
        assert -180 <= lon <= 180 and -90 <= lat <= 90


async def test_token_client_gets_hello_then_every_change(sockets, user_token):
    socket, connected, _ = await sockets(token=user_token, origin=None)
    assert connected
    hello = await socket.receive()
    assert hello == {"type": "hello", "last_event_id": 0}

    area = await in_thread(AreaFactory)(polygon=square(0, 0, 1, 1), threshold=Severity.HIGH)
    event = await socket.receive_event()
    assert (event["type"], event["op"]) == ("area", "created")
    assert_feature(event["feature"], "Polygon")

    incident = await in_thread(IncidentFactory)(severity=Severity.URGENT, location=area.polygon.centroid)
    created, alert = await socket.receive_event(), await socket.receive_event()
    assert (created["type"], created["op"]) == ("incident", "created")
    assert_feature(created["feature"], "Point")
    assert (alert["type"], alert["op"]) == ("alert", "created")
    assert alert["feature"]["id"] == incident.pk
    assert alert["alerts"][0]["area"] == {"id": area.pk, "name": area.name, "threshold": "high"}

    await in_thread(services.incident_update)(incident=incident, name="renamed")
    updated = await socket.receive_event()
    assert (updated["type"], updated["op"], updated["feature"]["properties"]["name"]) == (
        "incident", "updated", "renamed")

    incident_id = incident.pk
    await in_thread(services.incident_delete)(incident=incident)
    deleted = await socket.receive_event()
    assert (deleted["type"], deleted["op"], deleted["feature"]["id"]) == ("incident", "deleted", incident_id)

    await in_thread(services.area_update)(area=area, name="renamed area")
    await in_thread(services.area_delete)(area=area)
    area_updated, area_deleted = await socket.receive_event(), await socket.receive_event()
    assert [(e["type"], e["op"]) for e in (area_updated, area_deleted)] == [("area", "updated"), ("area", "deleted")]
    assert_feature(area_deleted["feature"], "Polygon")

    ids = [e["id"] for e in (event, created, alert, updated, deleted, area_updated, area_deleted)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    await socket.assert_silent()


async def test_session_cookie_client_is_accepted(sockets):
    user = await in_thread(UserFactory)()
    cookie = await in_thread(session_cookie)(Client(), user)
    socket, connected, _ = await sockets(cookie=cookie)
    assert connected
    assert (await socket.receive())["type"] == "hello"


@pytest.mark.parametrize("credentials", [{}, {"token": "not-a-real-token"}, {"cookie": "sessionid=forged"}])
async def test_unauthenticated_sockets_are_refused_and_never_join(sockets, credentials):
    socket, connected, _ = await sockets(**credentials)
    assert connected  # accepted only to deliver the close code
    assert await socket.receive_close_code() == CLOSE_UNAUTHENTICATED
    await in_thread(IncidentFactory)()
    assert await socket.communicator.receive_nothing(timeout=0.5)


async def test_inactive_users_token_is_refused(sockets, user_token):
    await in_thread(lambda: Token.objects.get(key=user_token).user.__class__.objects.update(is_active=False))()
    socket, connected, _ = await sockets(token=user_token)
    assert await socket.receive_close_code() == CLOSE_UNAUTHENTICATED


async def test_foreign_origin_is_refused(sockets, user_token):
    _, connected, _ = await sockets(token=user_token, origin="https://evil.example")
    assert not connected


# Not an event id: malformed, negative, beyond the largest id, or digits the REST event log refuses
# ("1_000" and a full-width "５" are ints to Python's int()).
NOT_AN_EVENT_ID = ["abc", "-1", str(MAX_ID + 1), str(10**30), "1_000", "%205", "%EF%BC%95"]


@pytest.mark.parametrize("after", NOT_AN_EVENT_ID)
async def test_a_resume_position_that_is_not_an_event_id_is_refused_as_rest_refuses_it(sockets, user_token, after):
    socket, connected, _ = await sockets(token=user_token, query=f"after={after}")
    assert connected  # accepted only to deliver the close code
    assert await socket.receive_close_code() == CLOSE_BAD_REQUEST
    client = APIClient(HTTP_AUTHORIZATION=f"Token {user_token}")
    rest = await in_thread(client.get)(f"/api/v1/events/?after={after}")
    assert rest.status_code == 400 and "after" in rest.json()["errors"]


async def test_the_largest_event_id_is_a_resume_position(sockets, user_token):
    socket, connected, _ = await sockets(token=user_token, query=f"after={MAX_ID}")
    assert connected
    assert (await socket.receive())["type"] == "hello"


async def test_rolled_back_change_pushes_nothing(sockets, user_token):
    socket, _, _ = await sockets(token=user_token)
    await socket.receive()

    def failing_write():
        from django.db import transaction

        with transaction.atomic():
            IncidentFactory()
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        await in_thread(failing_write)()
    await socket.assert_silent()
    await in_thread(IncidentFactory)(name="committed")
    event = await socket.receive_event()
    assert event["feature"]["properties"]["name"] == "committed"


async def test_resume_replays_exactly_the_missed_events_then_goes_live(sockets, user_token):
    for n in range(5):
        await in_thread(IncidentFactory)(name=f"before {n}")
    ids = await in_thread(lambda: list(Event.objects.order_by("id").values_list("id", flat=True)))()
    socket, _, _ = await sockets(token=user_token, query=f"after={ids[1]}")
    assert await socket.receive() == {"type": "hello", "last_event_id": ids[-1]}
    replayed = [await socket.receive_event() for _ in ids[2:]]
    assert [e["id"] for e in replayed] == ids[2:]
    await in_thread(IncidentFactory)(name="live")
    live = await socket.receive_event()
    assert live["id"] == ids[-1] + 1 and live["feature"]["properties"]["name"] == "live"
    await socket.assert_silent()


async def test_resume_from_a_pruned_position_asks_for_resync(sockets, user_token):
    for _ in range(3):
        await in_thread(IncidentFactory)()
    await in_thread(lambda: Event.objects.filter(id__lte=Event.objects.order_by("id")[1].id).delete())()
    socket, _, _ = await sockets(token=user_token, query="after=0")
    assert (await socket.receive())["type"] == "hello"
    assert await socket.receive() == {"type": "resync"}


async def test_gap_in_the_live_stream_is_filled_from_the_log(sockets, user_token):
    """A publish lost on the way (Redis restart) is replayed when the next event shows the gap."""
    socket, _, _ = await sockets(token=user_token)
    await socket.receive()
    await in_thread(write_unpublished)(["lost publish"])
    await socket.assert_silent()
    await in_thread(IncidentFactory)(name="next")
    first, second = await socket.receive_event(), await socket.receive_event()
    assert [first["feature"]["properties"]["name"], second["feature"]["properties"]["name"]] == [
        "lost publish", "next"]
    assert second["id"] == first["id"] + 1
