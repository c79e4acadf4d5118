"""The alert rule (open, inside or on the boundary, severity >= threshold) and every trigger that applies it."""

import itertools

import pytest
from django.contrib.gis.geos import Point

from tests.factories import AreaFactory, IncidentFactory, square
from tracker import services
from tracker.models import Alert, Event, EventType, IncidentStatus, Severity

pytestmark = pytest.mark.django_db

INSIDE = Point(10.5, 10.5, srid=4326)
ON_EDGE = Point(11.0, 10.5, srid=4326)
ON_CORNER = Point(10.0, 10.0, srid=4326)
OUTSIDE = Point(11.5, 10.5, srid=4326)
PLACES = {"inside": INSIDE, "edge": ON_EDGE, "corner": ON_CORNER, "outside": OUTSIDE}


def active_alert_pairs():
    return set(Alert.objects.filter(cleared_at__isnull=True).values_list("incident_id", "area_id"))


@pytest.mark.parametrize(
    "place, severity, status",
    list(itertools.product(PLACES, list(Severity), list(IncidentStatus))),
)
def test_rule_truth_table(place, severity, status):
    area = AreaFactory(polygon=square(10, 10, 11, 11), threshold=Severity.MEDIUM)
    incident = IncidentFactory(location=PLACES[place], severity=severity, status=status)
    expected = place != "outside" and severity >= Severity.MEDIUM and status == IncidentStatus.OPEN
    assert active_alert_pairs() == ({(incident.pk, area.pk)} if expected else set())
    alert_events = Event.objects.filter(type=EventType.ALERT)
    assert alert_events.count() == (1 if expected else 0)


def test_incident_in_overlapping_areas_raises_one_event_listing_each_area():
    a = AreaFactory(name="A", polygon=square(10, 10, 11, 11), threshold=Severity.LOW)
    b = AreaFactory(name="B", polygon=square(10.4, 10.4, 12, 12), threshold=Severity.HIGH)
    AreaFactory(name="C", polygon=square(10.4, 10.4, 12, 12), threshold=Severity.URGENT)
    incident = IncidentFactory(location=INSIDE, severity=Severity.HIGH)
    event = Event.objects.get(type=EventType.ALERT)
    assert [x["area"]["name"] for x in event.envelope["alerts"]] == ["A", "B"]
    assert event.envelope["feature"]["id"] == incident.pk
    assert active_alert_pairs() == {(incident.pk, a.pk), (incident.pk, b.pk)}


def test_moving_into_an_area_alerts_and_moving_out_clears():
    area = AreaFactory()
    incident = IncidentFactory(location=OUTSIDE, severity=Severity.HIGH)
    assert active_alert_pairs() == set()
    services.incident_update(incident=incident, location=INSIDE)
    assert active_alert_pairs() == {(incident.pk, area.pk)}
    services.incident_update(incident=incident, location=OUTSIDE)
    assert active_alert_pairs() == set()
    assert Alert.objects.get().cleared_at is not None


def test_same_state_does_not_alert_again():
    AreaFactory()
    incident = IncidentFactory(location=INSIDE, severity=Severity.HIGH)
    services.incident_update(incident=incident, description="still here")
    services.incident_update(incident=incident, severity=Severity.URGENT)
    assert Alert.objects.count() == 1
    assert Event.objects.filter(type=EventType.ALERT).count() == 1


def test_raising_severity_alerts():
    area = AreaFactory(threshold=Severity.HIGH)
    incident = IncidentFactory(location=INSIDE, severity=Severity.LOW)
    assert active_alert_pairs() == set()
    services.incident_update(incident=incident, severity=Severity.HIGH)
    assert active_alert_pairs() == {(incident.pk, area.pk)}


def test_closing_clears_and_reopening_alerts_again():
    area = AreaFactory()
    incident = IncidentFactory(location=INSIDE, severity=Severity.HIGH)
    services.incident_update(incident=incident, status=IncidentStatus.CLOSED)
    assert active_alert_pairs() == set()
    services.incident_update(incident=incident, status=IncidentStatus.OPEN)
    assert active_alert_pairs() == {(incident.pk, area.pk)}
    assert Alert.objects.count() == 2
    created = Event.objects.filter(type=EventType.ALERT, op="created").count()
    assert created == 2


def test_creating_an_area_alerts_for_incidents_already_inside():
    inside = IncidentFactory(location=INSIDE, severity=Severity.HIGH)
    IncidentFactory(location=OUTSIDE, severity=Severity.HIGH)
    IncidentFactory(location=INSIDE, severity=Severity.LOW)
    IncidentFactory(location=INSIDE, severity=Severity.URGENT, status=IncidentStatus.CLOSED)
    area = AreaFactory(threshold=Severity.MEDIUM)
    assert active_alert_pairs() == {(inside.pk, area.pk)}


def test_editing_an_area_alerts_for_incidents_newly_inside_or_now_meeting_it():
    far = IncidentFactory(location=Point(12.5, 12.5, srid=4326), severity=Severity.HIGH)
    low = IncidentFactory(location=INSIDE, severity=Severity.LOW)
    area = AreaFactory(threshold=Severity.MEDIUM)
    assert active_alert_pairs() == set()
    services.area_update(area=area, polygon=square(10, 10, 13, 13))
    assert active_alert_pairs() == {(far.pk, area.pk)}
    services.area_update(area=area, threshold=Severity.LOW)
    assert active_alert_pairs() == {(far.pk, area.pk), (low.pk, area.pk)}
    services.area_update(area=area, name="renamed")
    assert Alert.objects.count() == 2


def test_acknowledge_records_who_and_when_once(user):
    AreaFactory()
    incident = IncidentFactory(location=INSIDE, severity=Severity.HIGH)
    alert = incident.alerts.get()
    first = services.alert_acknowledge(alert=alert, user=user)
    second = services.alert_acknowledge(alert=alert, user=user)
    assert first.acknowledged_by == user and second.acknowledged_at == first.acknowledged_at
    updated = Event.objects.filter(type=EventType.ALERT, op="updated")
    assert updated.count() == 1
    assert updated.get().envelope["alerts"][0]["acknowledged_by"] == user.username


def test_an_area_over_many_incidents_alerts_them_in_a_fixed_number_of_queries(staff):
    """Drawing an area over N alerting incidents costs the same queries for any N (one INSERT of alerts, one
    of events, one PUBLISH pipeline), not a few per incident: over the incidents an API fuzzing run leaves
    at one point, a per-alert loop made POST /api/v1/areas/ take tens of seconds."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_to_draw_over(count: int, corner: float) -> int:
        for _ in range(count):
            IncidentFactory(location=Point(corner + 0.5, corner + 0.5, srid=4326), severity=Severity.HIGH)
        with CaptureQueriesContext(connection) as queries:
            area = services.area_create(name="over", polygon=square(corner, corner, corner + 1, corner + 1), owner=staff)
        assert Alert.objects.filter(area=area).count() == count
        assert Event.objects.filter(type=EventType.ALERT).count() >= count
        return len(queries)

    assert queries_to_draw_over(3, 10) == queries_to_draw_over(40, 30)
