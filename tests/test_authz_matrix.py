"""The authorization matrix: every endpoint and the WebSocket, for every kind of caller, allowed or refused.

Callers: anonymous; a logged-in user with no relation to the data; the incident's reporter; the area's owner;
staff. The rules (README "API", tracker.api.permissions): reading needs a login (401 without one), except the
public report endpoint and the API schema/docs; anyone logged in reports incidents and acknowledges alerts; an
incident is changed by its reporter or staff, an area by its owner or staff; only staff create areas. A
refused write changes nothing.
"""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.api.conftest import API, client_for, feature, point, rectangle
from tests.conftest import in_thread
from tests.factories import AreaFactory, IncidentFactory, UserFactory, square
from tracker.consumers import CLOSE_UNAUTHENTICATED
from tracker.models import Alert, AreaOfInterest, Event, Incident, Severity

CALLERS = ("anonymous", "user", "reporter", "owner", "staff")
LOGGED_IN = CALLERS[1:]


def answers(anonymous: int, **others: int) -> dict[str, int]:
    """Expected statuses: `anonymous`'s, the `others` named, and for the rest of the logged-in callers the
    status given as `rest` (default: the same as `user`)."""
    rest = others.pop("rest", None)
    return {"anonymous": anonymous, **{caller: others.get(caller, rest) for caller in LOGGED_IN}}


READ = answers(401, rest=200)
EVERYONE = answers(200, rest=200)

NEW_INCIDENT = feature(point(10.4, 10.4), name="New", severity="low")
NEW_AREA = feature(rectangle(20, 20, 21, 21), name="New area", threshold="high")

# (what, method, path, body, expected status per caller). Paths name the world's objects in braces.
MATRIX = [
    ("incidents: list", "get", "incidents/", None, READ),
    ("incidents: create", "post", "incidents/", NEW_INCIDENT, answers(401, rest=201)),
    ("incidents: retrieve", "get", "incidents/{incident}/", None, READ),
    ("incidents: update", "put", "incidents/{incident}/", feature(point(10.6, 10.6), name="Replaced", severity="high"),
     answers(401, rest=403, reporter=200, staff=200)),
    ("incidents: partial update", "patch", "incidents/{incident}/", feature(name="Renamed"),
     answers(401, rest=403, reporter=200, staff=200)),
    ("incidents: delete", "delete", "incidents/{incident}/", None, answers(401, rest=403, reporter=204, staff=204)),
    ("areas: list", "get", "areas/", None, READ),
    ("areas: create", "post", "areas/", NEW_AREA, answers(401, rest=403, staff=201)),
    ("areas: retrieve", "get", "areas/{area}/", None, READ),
    ("areas: update", "put", "areas/{area}/", feature(rectangle(10, 10, 12, 12), name="Bigger", threshold="low"),
     answers(401, rest=403, owner=200, staff=200)),
    ("areas: partial update", "patch", "areas/{area}/", feature(threshold="urgent"),
     answers(401, rest=403, owner=200, staff=200)),
    ("areas: delete", "delete", "areas/{area}/", None, answers(401, rest=403, owner=204, staff=204)),
    ("areas: incidents inside", "get", "areas/{area}/incidents/", None, READ),
    ("alerts: list", "get", "alerts/", None, READ),
    ("alerts: retrieve", "get", "alerts/{alert}/", None, READ),
    ("alerts: acknowledge", "post", "alerts/{alert}/acknowledge/", None, answers(401, rest=200)),
    ("events: replay", "get", "events/", None, READ),
    ("report: public", "post", "report/", feature(point(1, 1), name="Pothole", severity="low"), answers(201, rest=201)),
    ("schema", "get", "/api/schema/", None, EVERYONE),
    ("docs", "get", "/api/docs/", None, EVERYONE),
]


@pytest.fixture
def world(db):
    """The reporter's urgent incident inside the owner's area (so it has an alert), and the five callers."""
    users = {"user": UserFactory(), "reporter": UserFactory(), "owner": UserFactory(),
             "staff": UserFactory(is_staff=True)}
    area = AreaFactory(owner=users["owner"], polygon=square(10, 10, 11, 11), threshold=Severity.MEDIUM)
    incident = IncidentFactory(reporter=users["reporter"], severity=Severity.URGENT, location=point_in(area))
    alert = Alert.objects.get(incident=incident, area=area)
    return {"users": users, "ids": {"incident": incident.pk, "area": area.pk, "alert": alert.pk}}


def point_in(area):
    return area.polygon.centroid


def client(world, caller: str) -> APIClient:
    return APIClient() if caller == "anonymous" else client_for(world["users"][caller])


def snapshot() -> tuple:
    """What a refused request must leave as it was: rows, their content, and the event log."""
    return (
        list(Incident.objects.order_by("pk").values_list("pk", "name", "severity", "status", "location")),
        list(AreaOfInterest.objects.order_by("pk").values_list("pk", "name", "threshold", "polygon")),
        list(Alert.objects.order_by("pk").values_list("pk", "acknowledged_at", "acknowledged_by")),
        Event.objects.count(),
    )


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("what, method, path, body, expected", MATRIX, ids=[row[0] for row in MATRIX])
def test_http_matrix(world, settings, what, method, path, body, expected, caller):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"report": "100/hour"}}
    url = (path if path.startswith("/") else API + path).format(**world["ids"])
    before = snapshot()
    response = getattr(client(world, caller), method)(url, body, format="json")
    assert response.status_code == expected[caller], (what, caller, response.content[:300])
    if response.status_code in (401, 403):
        assert response.json()["code"] in ("not_authenticated", "permission_denied")
        assert snapshot() == before


# --- The WebSocket -------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("origin, admitted", [("http://localhost", LOGGED_IN), ("https://evil.example", ())],
                         ids=["own origin", "foreign origin"])
async def test_websocket_matrix(sockets, caller, origin, admitted):
    """Logged-in callers get the stream from a page of the site; nobody does from a foreign page, and an
    anonymous socket is closed with 4401."""
    user = None if caller == "anonymous" else await in_thread(UserFactory)(is_staff=caller == "staff")
    token = None if user is None else (await in_thread(Token.objects.create)(user=user)).key
    socket, connected, _ = await sockets(token=token, origin=origin)
    if caller in admitted:
        assert connected and (await socket.receive())["type"] == "hello"
    elif origin == "http://localhost":
        assert await socket.receive_close_code() == CLOSE_UNAUTHENTICATED
    else:
        assert not connected


# --- Private data and the public endpoint's limit ------------------------------------------------------------------


def test_no_answer_shows_another_users_email_token_or_password(world):
    users = world["users"]
    for name, user in users.items():
        user.email = f"{name}@private.example"
        user.save()
    secrets = [token.key for token in Token.objects.filter(user__in=users.values())] + [
        f"{name}@private.example" for name in users]
    caller = client(world, "user")
    for what, method, path, _, _ in MATRIX:
        if method != "get" or path.startswith("/"):
            continue
        body = caller.get(API + path.format(**world["ids"])).content.decode()
        assert "password" not in body and "email" not in body, what
        assert not any(secret in body for secret in secrets), what


def test_report_burst_beyond_the_limit_is_429_and_stores_nothing_more(db, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"report": "3/hour"}}
    reporter = APIClient(REMOTE_ADDR="192.0.2.50")
    statuses = [reporter.post(API + "report/", feature(point(1, 1), name=f"r{n}"), format="json").status_code
                for n in range(8)]
    assert statuses == [201] * 3 + [429] * 5
    assert Incident.objects.count() == 3 and Event.objects.count() == 3
