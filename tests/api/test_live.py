"""End to end on the real ASGI application: a REST write reaches connected WebSocket clients."""

import json

import pytest
from channels.testing import HttpCommunicator
from rest_framework.authtoken.models import Token

from tests.api.conftest import API, feature, point
from tests.conftest import in_thread
from tests.factories import AreaFactory, UserFactory, square
from tracker.models import Severity
from tracker_project.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True)]


def user_token() -> str:
    return Token.objects.create(user=UserFactory()).key


async def http(method: str, path: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    """Send one request through the ASGI application (middleware, DRF, services); return (status, JSON)."""
    headers = [(b"host", b"localhost"), (b"authorization", f"Token {token}".encode())]
    payload = b""
    if body is not None:
        payload = json.dumps(body).encode()
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    communicator = HttpCommunicator(application, method, path, body=payload, headers=headers)
    response = await communicator.get_response(timeout=10)
    await communicator.wait(timeout=10)  # the app closes its database connection after the response
    return response["status"], json.loads(response["body"])


async def test_post_inside_an_area_pushes_the_incident_and_the_alert(sockets):
    token = await in_thread(user_token)()
    area = await in_thread(AreaFactory)(name="Harbour", polygon=square(10, 10, 11, 11), threshold=Severity.HIGH)
    socket, connected, _ = await sockets(token=token, origin=None)
    assert connected
    hello = await socket.receive()
    assert hello["type"] == "hello"

    status, created = await http(
        "POST", API + "incidents/", token, feature(point(10.5, 10.5), name="Fire", severity="urgent")
    )
    assert status == 201, created

    incident_event = await socket.receive_event()
    assert (incident_event["type"], incident_event["op"]) == ("incident", "created")
    assert incident_event["feature"] == created  # the pushed feature is the one the POST returned
    alert_event = await socket.receive_event()
    assert (alert_event["type"], alert_event["op"]) == ("alert", "created")
    assert alert_event["feature"]["id"] == created["id"]
    assert [a["area"]["id"] for a in alert_event["alerts"]] == [area.pk]
    assert incident_event["id"] == hello["last_event_id"] + 1 and alert_event["id"] == incident_event["id"] + 1

    # The alert is acknowledged over REST too: the update reaches the socket.
    status, acknowledged = await http("POST", f"{API}alerts/{alert_event['alerts'][0]['id']}/acknowledge/", token)
    assert status == 200 and acknowledged["acknowledged_by"]
    update = await socket.receive_event()
    assert (update["type"], update["op"]) == ("alert", "updated")
    assert update["alerts"][0]["acknowledged_by"] == acknowledged["acknowledged_by"]

    # A refused write pushes nothing.
    status, _ = await http("POST", API + "incidents/", token, feature(point(10.5, 95), name="Nowhere"))
    assert status == 400
    await socket.assert_silent()
