"""Write paths the contract test found silent (issue 10, beyond the six defects): each now reaches the stream."""

import pytest
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.db import transaction

from tests.factories import AreaFactory, IncidentFactory, square
from tracker.models import Alert, Incident, Severity
from tracker.stream import replay

pytestmark = pytest.mark.django_db


@pytest.fixture
def alerting():
    """An urgent incident inside a high-threshold area: one active alert."""
    AreaFactory(polygon=square(0, 0, 2, 2), threshold=Severity.HIGH)
    return IncidentFactory(location=Point(1, 1, srid=4326), severity=Severity.URGENT)


def test_a_queryset_update_is_pushed_and_applies_the_alert_rule(alerting):
    before = replay.last_event_id()
    old = Incident.objects.get(pk=alerting.pk).updated_at
    assert Incident.objects.filter(pk=alerting.pk).update(status="closed") == 1
    incident_event, alert_event = replay.events_after(before)
    assert (incident_event["type"], incident_event["feature"]["properties"]["status"]) == ("incident", "closed")
    assert Incident.objects.get(pk=alerting.pk).updated_at > old  # clients take it as newer
    assert (alert_event["type"], alert_event["op"]) == ("alert", "updated")
    assert alert_event["alerts"][0]["cleared_at"] is not None
    assert not Alert.objects.filter(cleared_at__isnull=True).exists()


def test_a_queryset_update_the_model_refuses_changes_nothing(alerting):
    before = replay.last_event_id()
    # The atomic block stands for a shell's autocommit: the update's own transaction is then the outermost.
    with pytest.raises(ValidationError, match="severity"), transaction.atomic():
        Incident.objects.filter(pk=alerting.pk).update(severity=99)
    assert Incident.objects.get(pk=alerting.pk).severity == Severity.URGENT
    assert replay.events_after(before) == []


def test_an_alert_deleted_by_itself_is_pushed_and_one_deleted_with_its_incident_is_not(alerting, admin_client):
    alert = alerting.alerts.get()
    before = replay.last_event_id()
    response = admin_client.post(f"/admin/tracker/alert/{alert.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    [event] = replay.events_after(before)
    assert (event["type"], event["op"], [a["id"] for a in event["alerts"]]) == ("alert", "deleted", [alert.pk])
    second = IncidentFactory(location=Point(1.5, 1.5, srid=4326), severity=Severity.URGENT)
    before = replay.last_event_id()
    second.delete()
    assert [(e["type"], e["op"]) for e in replay.events_after(before)] == [("incident", "deleted")]
