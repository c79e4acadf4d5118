"""Deleting or renaming a user changes what its incidents, areas and alerts show: each changed feature is pushed,
in the transaction of the change, newer than the version a client holds (issue 10, defect 4)."""

import pytest
from django.contrib.gis.geos import Point
from django.db import transaction
from rest_framework.test import APIClient

from tests.factories import AreaFactory, IncidentFactory, UserFactory, square
from tracker import services
from tracker.models import Incident, Severity
from tracker.stream import replay

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    """A user who reported an alerting incident (and a quiet one), owns an area and acknowledged the alert."""
    ana = UserFactory(username="ana")
    area = AreaFactory(name="Zone", polygon=square(0, 0, 2, 2), threshold=Severity.HIGH, owner=ana)
    alerting = IncidentFactory(reporter=ana, location=Point(1, 1, srid=4326), severity=Severity.URGENT)
    quiet = IncidentFactory(reporter=ana, location=Point(5, 5, srid=4326))
    alert = alerting.alerts.get()
    services.alert_acknowledge(alert=alert, user=ana)
    other = IncidentFactory(reporter=UserFactory(username="bob"))
    return {"user": ana, "area": area, "incidents": [alerting, quiet], "alert": alert, "other": other}


def api_features(path: str) -> dict:
    client = APIClient()
    client.force_authenticate(UserFactory(is_staff=True))
    return {feature["id"]: feature for feature in client.get(path, {"page_size": 100}).json()["features"]}


def pushed(envelopes: list[dict], event_type: str) -> dict:
    """Return the last pushed feature (or alert list) per id for one event type."""
    return {e["feature"]["id"]: e for e in envelopes if e["type"] == event_type}


def test_deleting_a_user_pushes_every_feature_that_named_it(world):
    before = replay.last_event_id()
    old_updated = {i.pk: i.updated_at for i in Incident.objects.all()}
    world["user"].delete()
    envelopes = replay.events_after(before)
    incidents, areas, alerts = pushed(envelopes, "incident"), pushed(envelopes, "area"), pushed(envelopes, "alert")
    ids = [i.pk for i in world["incidents"]]
    assert sorted(incidents) == sorted(ids)  # the other user's incident is untouched
    assert list(areas) == [world["area"].pk]
    # What was pushed is what REST now shows, and newer than what a client had (its updated_at moved on).
    assert {pk: incidents[pk]["feature"] for pk in ids} == {pk: api_features("/api/v1/incidents/")[pk] for pk in ids}
    assert areas[world["area"].pk]["feature"] == api_features("/api/v1/areas/")[world["area"].pk]
    assert all(incidents[pk]["feature"]["properties"]["reporter"] is None for pk in ids)
    assert all(Incident.objects.get(pk=pk).updated_at > old_updated[pk] for pk in ids)
    [alert_event] = alerts.values()
    assert alert_event["op"] == "updated"
    assert [(a["id"], a["acknowledged_by"]) for a in alert_event["alerts"]] == [(world["alert"].pk, None)]
    assert alert_event["alerts"][0]["acknowledged_at"] is not None


def test_a_rolled_back_user_delete_pushes_nothing(world, django_capture_on_commit_callbacks):
    before = replay.last_event_id()
    with django_capture_on_commit_callbacks() as published, pytest.raises(RuntimeError), transaction.atomic():
        world["user"].delete()
        raise RuntimeError("abort")
    assert replay.events_after(before) == [] and published == []
    assert Incident.objects.filter(reporter__username="ana").count() == 2


def test_renaming_a_user_pushes_its_features_and_a_login_does_not(world, client):
    user = world["user"]
    before = replay.last_event_id()
    client.force_login(user)  # saves last_login only
    user.is_active = False  # a deactivation changes no feature either
    user.save()
    assert replay.events_after(before) == []
    user.username = "ana.maria"
    user.save()
    envelopes = replay.events_after(before)
    incidents, areas, alerts = pushed(envelopes, "incident"), pushed(envelopes, "area"), pushed(envelopes, "alert")
    assert {pk: e["feature"]["properties"]["reporter"] for pk, e in incidents.items()} == {
        i.pk: "ana.maria" for i in world["incidents"]
    }
    assert areas[world["area"].pk]["feature"]["properties"]["owner"] == "ana.maria"
    assert [a["acknowledged_by"] for e in alerts.values() for a in e["alerts"]] == ["ana.maria"]
    assert (
        incidents[world["incidents"][0].pk]["feature"] == api_features("/api/v1/incidents/")[world["incidents"][0].pk]
    )


def test_deleting_a_user_with_many_incidents_is_set_based(django_assert_max_num_queries):
    user = UserFactory()
    Incident.objects.bulk_create(
        Incident(name=f"n{n}", location=Point(50, 50, srid=4326), reporter=user) for n in range(2000)
    )
    before = replay.last_event_id()
    with django_assert_max_num_queries(25):
        user.delete()
    envelopes = replay.events_after(before)
    assert len(envelopes) == 2000
    assert [e["id"] for e in envelopes] == list(range(before + 1, before + 2001))  # gap-free, in order
    assert not Incident.objects.filter(reporter__isnull=False).exists()
