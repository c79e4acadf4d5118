"""areas/ and areas/{id}/incidents/: staff draw areas, owners or staff change them, alerts follow."""

import pytest

from tests.api.conftest import API, assert_error, feature, rectangle
from tests.factories import AreaFactory, IncidentFactory, square
from tracker import features
from tracker.models import Alert, AreaOfInterest, Event, EventType, IncidentStatus, Severity
from tracker.selectors import point

pytestmark = pytest.mark.django_db

URL = API + "areas/"


def detail(area) -> str:
    return f"{URL}{area.pk}/"


def test_staff_create_an_area_they_own_and_it_alerts_at_once(staff_api, staff):
    incident = IncidentFactory(location=point(10.5, 10.5), severity=Severity.HIGH)
    response = staff_api.post(URL, feature(rectangle(10, 10, 11, 11), name="Zone", threshold="medium"), format="json")
    assert response.status_code == 201, response.json()
    area = AreaOfInterest.objects.get()
    assert response.json() == features.area_feature(area)
    assert response.json()["properties"]["owner"] == staff.username
    assert Alert.objects.get().incident == incident
    assert Event.objects.filter(type=EventType.AREA).count() == 1


def test_plain_users_may_not_create_areas(api):
    body = assert_error(api.post(URL, feature(rectangle(0, 0, 1, 1), name="Mine"), format="json"), 403)
    assert body["code"] == "permission_denied"
    assert not AreaOfInterest.objects.exists()


def test_owner_or_staff_change_an_area(api, other_api, staff_api, user):
    area = AreaFactory(owner=user)
    assert_error(other_api.patch(detail(area), feature(name="x"), format="json"), 403)
    assert_error(other_api.delete(detail(area)), 403)
    assert api.patch(detail(area), feature(threshold="urgent"), format="json").json()["properties"]["threshold"] == (
        "urgent"
    )
    assert staff_api.put(detail(area), feature(rectangle(0, 0, 2, 2), name="Bigger"), format="json").status_code == 200
    area.refresh_from_db()
    assert (area.name, area.polygon.extent) == ("Bigger", (0, 0, 2, 2))
    assert api.delete(detail(area)).status_code == 204
    assert not AreaOfInterest.objects.exists()


def test_raising_the_threshold_through_the_api_clears_alerts(api, user):
    area = AreaFactory(owner=user, threshold=Severity.MEDIUM)
    IncidentFactory(location=point(10.5, 10.5), severity=Severity.MEDIUM)
    assert Alert.objects.filter(cleared_at__isnull=True).count() == 1
    api.patch(detail(area), feature(threshold="high"), format="json")
    assert Alert.objects.filter(cleared_at__isnull=True).count() == 0


def test_area_bbox_filter_finds_intersecting_areas(api):
    AreaFactory(name="overlaps", polygon=square(10, 10, 11, 11))
    AreaFactory(name="far", polygon=square(50, 50, 51, 51))
    response = api.get(URL, {"in_bbox": "10.5,10.5,20,20"})
    assert [f["properties"]["name"] for f in response.json()["features"]] == ["overlaps"]


def test_incidents_inside_an_area_any_state_with_filters(api):
    area = AreaFactory(polygon=square(10, 10, 11, 11))
    IncidentFactory(name="inside", location=point(10.5, 10.5))
    IncidentFactory(name="on edge closed", location=point(11, 10.5), status=IncidentStatus.CLOSED)
    IncidentFactory(name="outside", location=point(12, 10.5))
    response = api.get(f"{detail(area)}incidents/", {"ordering": "name"})
    assert response.status_code == 200
    page = response.json()
    assert page["type"] == "FeatureCollection" and page["count"] == 2
    assert [f["properties"]["name"] for f in page["features"]] == ["inside", "on edge closed"]
    filtered = api.get(f"{detail(area)}incidents/", {"status": "open"}).json()
    assert [f["properties"]["name"] for f in filtered["features"]] == ["inside"]
    assert_error(api.get(f"{URL}999999/incidents/"), 404)
