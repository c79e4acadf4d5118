"""The GeoJSON shapes of incidents, areas and alerts: the one place that says what a client is shown.

A leaf: it imports only the models, so the event log (tracker.stream) and the REST API (tracker.api) both use
it and neither imports the other. The API's serializers return these functions' output for reads, so a feature
fetched over REST and one pushed over the WebSocket are equal for the same row (tests/test_features.py holds
them to drf-gis's generic rendering of the same serializer fields, which is what the OpenAPI document says).

Built by hand rather than through DRF's per-field machinery: every write serialises its feature on the write
path, inside the transaction.
"""

import json
from datetime import datetime

from django.contrib.gis.gdal import OGRGeometry
from django.utils import timezone

from tracker.models import Alert, AreaOfInterest, Incident, Severity

# Severity names by stored value, read once: the hot path must not build the enum member per feature.
SEVERITY_NAMES = dict(Severity.choices)


def iso_time(value: datetime | None) -> str | None:
    """Return `value` as DRF renders a DateTimeField: ISO 8601 in the current time zone, UTC as "Z"."""
    if value is None:
        return None
    text = value.astimezone(timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def geometry(value) -> dict:
    """Return a GEOS geometry as a GeoJSON geometry object (GDAL's GeoJSON, as drf-gis returns it)."""
    # `value.json` would convert with the geometry's spatial reference, which GeoJSON does not carry: building
    # it (importing EPSG:4326) costs 2-4 ms in every new thread (PROJ keeps a context per thread), and under
    # ASGI every sync request runs in a new thread. Without it, the same GeoJSON text.
    return json.loads(OGRGeometry(value.wkb).json)


def username(user) -> str | None:
    return None if user is None else user.get_username()


def incident_url(incident_id: int) -> str:
    """Return the path of an incident's detail page."""
    return f"/incidents/{incident_id}/"


def incident_feature(incident: Incident) -> dict:
    """Return the incident as a GeoJSON Point Feature (the REST API's and the stream's shape)."""
    return {
        "id": incident.pk,
        "type": "Feature",
        "geometry": geometry(incident.location),
        "properties": {
            "name": incident.name,
            "description": incident.description,
            "severity": SEVERITY_NAMES[incident.severity],
            "status": incident.status,
            "reporter": username(incident.reporter) if incident.reporter_id is not None else None,
            "reported_publicly": incident.reported_publicly,
            "created_at": iso_time(incident.created_at),
            "updated_at": iso_time(incident.updated_at),
            "url": incident_url(incident.pk),
        },
    }


def area_feature(area: AreaOfInterest) -> dict:
    """Return the area as a GeoJSON Polygon Feature (the REST API's and the stream's shape)."""
    return {
        "id": area.pk,
        "type": "Feature",
        "geometry": geometry(area.polygon),
        "properties": {
            "name": area.name,
            "threshold": SEVERITY_NAMES[area.threshold],
            "owner": username(area.owner) if area.owner_id is not None else None,
            "created_at": iso_time(area.created_at),
            "updated_at": iso_time(area.updated_at),
        },
    }


# Where a save leaves the feature its event carries (tracker.stream.eventlog), so that the REST response to that
# save (tracker.api.serializers) is the same dict instead of a second serialisation of the same row.
_LOGGED = "_tracker_logged_feature"


def keep_logged(instance: Incident | AreaOfInterest, feature: dict) -> dict:
    """Remember `feature` as the one `instance`'s save logged; return it."""
    instance.__dict__[_LOGGED] = (instance.updated_at, feature)
    return feature


def logged_or_new(instance: Incident | AreaOfInterest, build) -> dict:
    """Return the feature `instance`'s last save logged, once, or `build(instance)`.

    Once: it is forgotten, so a later read serialises the instance as it is then; and only while the instance
    still has that save's `updated_at` (a refresh_from_db after another save does not get the old feature).
    """
    updated_at, feature = instance.__dict__.pop(_LOGGED, (None, None))
    return feature if feature is not None and updated_at == instance.updated_at else build(instance)


def alert_summary(alert: Alert) -> dict:
    """Return the per-alert part of an alert envelope: the alert's id and state and the area it fell in."""
    return {
        "id": alert.pk,
        "area": {"id": alert.area_id, "name": alert.area.name, "threshold": SEVERITY_NAMES[alert.area.threshold]},
        "created_at": iso_time(alert.created_at),
        "acknowledged_at": iso_time(alert.acknowledged_at),
        "acknowledged_by": username(alert.acknowledged_by) if alert.acknowledged_by_id is not None else None,
        "cleared_at": iso_time(alert.cleared_at),
    }
