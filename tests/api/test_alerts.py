"""alerts/: plain JSON, newest first, filters, and an idempotent acknowledge."""

import pytest

from tests.api.conftest import API, assert_error
from tests.factories import AreaFactory, IncidentFactory, square
from tracker import services
from tracker.models import Alert, Event, EventOp, EventType, IncidentStatus, Severity
from tracker.selectors import point

pytestmark = pytest.mark.django_db

URL = API + "alerts/"


@pytest.fixture
def alerts():
    """Two areas; a newer alert in both, an older one in the first that is cleared."""
    north = AreaFactory(name="North", polygon=square(10, 10, 11, 11))
    south = AreaFactory(name="South", polygon=square(10, 10, 12, 12))
    old = IncidentFactory(name="old", location=point(10.5, 10.5), severity=Severity.HIGH)
    services.incident_update(incident=old, location=point(11.5, 11.5))  # leaves North: cleared there
    new = IncidentFactory(name="new", location=point(10.2, 10.2), severity=Severity.URGENT)
    return {"north": north, "south": south, "old": old, "new": new}


def test_list_shape_and_newest_first(api, alerts):
    page = api.get(URL).json()
    assert page["count"] == Alert.objects.count() == 4
    assert set(page) == {"count", "next", "previous", "results"}
    first = page["results"][0]
    alert = Alert.objects.order_by("-created_at", "-id").first()
    assert first == {
        "id": alert.pk,
        "incident": alerts["new"].pk,
        "incident_name": "new",
        "area": alert.area_id,
        "area_name": alert.area.name,
        "severity": "urgent",
        "created_at": first["created_at"],
        "cleared_at": None,
        "acknowledged_at": None,
        "acknowledged_by": None,
    }
    ids = [a["id"] for a in page["results"]]
    assert ids == list(Alert.objects.order_by("-created_at", "-id").values_list("id", flat=True))


def test_filters(api, alerts):
    def ids(**params):
        response = api.get(URL, params)
        assert response.status_code == 200, response.json()
        return {a["id"] for a in response.json()["results"]}

    cleared = Alert.objects.get(cleared_at__isnull=False)
    assert ids(active="false") == {cleared.pk}
    assert cleared.pk not in ids(active="true")
    assert ids(area=alerts["north"].pk) == set(alerts["north"].alerts.values_list("id", flat=True))
    assert ids(incident=alerts["new"].pk) == set(alerts["new"].alerts.values_list("id", flat=True))
    assert ids(acknowledged="true") == set()
    assert len(ids(acknowledged="false")) == 4
    for params, field in [({"active": "yes"}, "active"), ({"area": "x"}, "area"), ({"incident": "0"}, "incident"),
                          ({"area": str(2**64)}, "area")]:
        assert_error(api.get(URL, params), 400, field)


def test_acknowledge_records_who_and_when_once(api, other_api, user, alerts):
    alert = Alert.objects.filter(cleared_at__isnull=True).first()
    response = api.post(f"{URL}{alert.pk}/acknowledge/")
    assert response.status_code == 200
    body = response.json()
    assert body["acknowledged_by"] == user.username and body["acknowledged_at"] is not None
    updates = Event.objects.filter(type=EventType.ALERT, op=EventOp.UPDATED).count()
    again = other_api.post(f"{URL}{alert.pk}/acknowledge/")
    assert again.status_code == 200 and again.json() == body  # the first acknowledgement stands
    assert Event.objects.filter(type=EventType.ALERT, op=EventOp.UPDATED).count() == updates
    assert api.get(URL, {"acknowledged": "true"}).json()["count"] == 1
    assert_error(api.post(f"{URL}999999/acknowledge/"), 404)


def test_closing_an_incident_shows_its_alert_cleared(api, user, alerts):
    services.incident_update(incident=alerts["new"], status=IncidentStatus.CLOSED)
    results = api.get(URL, {"incident": alerts["new"].pk}).json()["results"]
    assert results and all(a["cleared_at"] is not None for a in results)


def state_ids(api, state: str, **params) -> set[int]:
    response = api.get(URL, {"state": state, "page_size": 1000, **params})
    assert response.status_code == 200, response.json()
    return {a["id"] for a in response.json()["results"]}


def test_a_cleared_alert_is_not_active(api, alerts):
    """Defect 1: closing the incident clears its alerts; `state=active` (the dashboard's reload) drops them,
    while `acknowledged=false` (what the dashboard loaded) still lists them."""
    raised = set(alerts["new"].alerts.values_list("id", flat=True))
    assert raised <= state_ids(api, "active")
    services.incident_update(incident=alerts["new"], status=IncidentStatus.CLOSED)
    assert not raised & state_ids(api, "active")
    assert raised <= state_ids(api, "cleared")
    assert raised <= state_ids(api, "cleared", acknowledged="false")  # acknowledged= still works, alone or not


def test_every_alert_is_in_exactly_one_state(api, user, alerts):
    """active: neither cleared nor acknowledged; acknowledged: acknowledged, not cleared; cleared: cleared,
    acknowledged or not."""
    cleared = Alert.objects.get(cleared_at__isnull=False)
    active = list(Alert.objects.filter(cleared_at__isnull=True).order_by("id"))
    services.alert_acknowledge(alert=active[0], user=user)
    services.alert_acknowledge(alert=cleared, user=user)  # acknowledged after it cleared: still cleared
    assert state_ids(api, "active") == {a.pk for a in active[1:]}
    assert state_ids(api, "acknowledged") == {active[0].pk}
    assert state_ids(api, "cleared") == {cleared.pk}
    # The old filters keep their meaning: acknowledged= ignores clearing, active= ignores acknowledging.
    assert state_ids(api, "cleared", acknowledged="true") == {cleared.pk}
    assert state_ids(api, "active", active="true") == {a.pk for a in active[1:]}
    assert api.get(URL, {"acknowledged": "true"}).json()["count"] == 2
    assert api.get(URL, {"active": "true"}).json()["count"] == len(active)


@pytest.mark.parametrize("value", ["open", "ACTIVE", "active,cleared", " active", "0"])
def test_an_unknown_state_is_a_400_naming_it(api, alerts, value):
    assert_error(api.get(URL, {"state": value}), 400, "state")


def test_the_schema_documents_the_states(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    parameters = schema["paths"]["/api/v1/alerts/"]["get"]["parameters"]
    state = next(p for p in parameters if p["name"] == "state")
    assert sorted(state["schema"]["enum"]) == ["acknowledged", "active", "cleared"]
    assert all(word in state["description"] for word in ("neither cleared nor acknowledged", "whether acknowledged"))
