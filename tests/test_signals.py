"""Every save/delete, from any path, writes one event in the same transaction and publishes it after commit."""

import json

import pytest
from django.contrib.gis.geos import Point
from django.db import transaction

from tests.factories import AreaFactory, IncidentFactory, UserFactory, square
from tracker import features, services
from tracker.models import Event, Incident, Severity
from tracker.stream import eventlog

pytestmark = pytest.mark.django_db


def envelopes():
    return [e.envelope for e in Event.objects.order_by("id")]


def test_incident_create_update_delete_events(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as published:
        incident = IncidentFactory(name="Fire", location=Point(1.5, 2.5, srid=4326), severity=Severity.URGENT)
        services.incident_update(incident=incident, name="Big fire")
        pk = incident.pk
        services.incident_delete(incident=incident)
    kinds = [(e["type"], e["op"]) for e in envelopes()]
    assert kinds == [("incident", "created"), ("incident", "updated"), ("incident", "deleted")]
    assert len(published) == 3
    created, updated, deleted = envelopes()
    assert created["feature"] == {
        "type": "Feature",
        "id": pk,
        "geometry": {"type": "Point", "coordinates": [1.5, 2.5]},
        "properties": created["feature"]["properties"],
    }
    assert created["feature"]["properties"]["severity"] == "urgent"
    assert updated["feature"]["properties"]["name"] == "Big fire"
    # A delete still carries the last geometry and id.
    assert deleted["feature"]["id"] == pk
    assert deleted["feature"]["geometry"]["coordinates"] == [1.5, 2.5]


def test_area_create_update_delete_events():
    area = AreaFactory(name="Zone", polygon=square(0, 0, 1, 1), threshold=Severity.HIGH)
    services.area_update(area=area, polygon=square(0, 0, 2, 2))
    services.area_delete(area=area)
    created, updated, deleted = envelopes()
    assert [e["op"] for e in (created, updated, deleted)] == ["created", "updated", "deleted"]
    assert created["feature"]["geometry"]["type"] == "Polygon"
    assert created["feature"]["properties"]["threshold"] == "high"
    assert updated["feature"]["geometry"]["coordinates"][0][2] == [2.0, 2.0]
    assert deleted["feature"]["geometry"] == updated["feature"]["geometry"]


def test_pushed_feature_equals_the_api_feature():
    incident = IncidentFactory(reporter=UserFactory(username="ana"))
    incident.refresh_from_db()
    assert Event.objects.get().envelope["feature"] == json.loads(eventlog.encode(features.incident_feature(incident)))


def test_plain_model_save_fires_the_same_path():
    """A shell or script `save()` with no service or atomic block around it still logs and alerts."""
    AreaFactory(polygon=square(0, 0, 1, 1), threshold=Severity.LOW)
    incident = Incident(name="From the shell", location=Point(0.5, 0.5, srid=4326))
    incident.save()
    assert [(e["type"], e["op"]) for e in envelopes()][-2:] == [("incident", "created"), ("alert", "created")]


def test_admin_save_fires_the_same_path(admin_client):
    AreaFactory(polygon=square(0, 0, 1, 1), threshold=Severity.LOW)
    response = admin_client.post(
        "/admin/tracker/incident/add/",
        {
            "name": "From the admin",
            "description": "",
            "severity": Severity.HIGH,
            "status": "open",
            "location": '{"type": "Point", "coordinates": [0.5, 0.5]}',
        },
    )
    assert response.status_code == 302, response.content[:2000]
    assert [(e["type"], e["op"]) for e in envelopes()][-2:] == [("incident", "created"), ("alert", "created")]


def test_rolled_back_change_writes_and_publishes_nothing(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as published:
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                IncidentFactory()
                raise RuntimeError("abort")
    assert published == []
    assert not Event.objects.exists() and not Incident.objects.exists()


def test_event_ids_are_consecutive_and_increasing():
    for _ in range(5):
        IncidentFactory()
    ids = list(Event.objects.order_by("created_at", "id").values_list("id", flat=True))
    assert ids == list(range(ids[0], ids[0] + 5))
    assert [e["id"] for e in envelopes()] == ids


def test_failed_save_consumes_no_event_id():
    IncidentFactory()
    with pytest.raises(Exception):
        IncidentFactory(location=Point(500, 0, srid=4326))
    IncidentFactory()
    first, second = Event.objects.order_by("id").values_list("id", flat=True)
    assert second == first + 1
