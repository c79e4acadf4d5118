"""Reads. Spatial predicates run in PostGIS on GiST-indexed columns, never in Python."""

from django.contrib.gis.geos import Point, Polygon
from django.db.models import Max, Min, QuerySet

from tracker.models import AreaOfInterest, Event, Incident, IncidentStatus


def areas_alerting_for(incident: Incident) -> QuerySet[AreaOfInterest]:
    """Return the areas whose rule the incident meets: it is open, its point lies inside or on the area's
    boundary (ST_Covers), and its severity is at least the area's threshold. Empty for a closed incident."""
    if not incident.is_open:
        return AreaOfInterest.objects.none()
    return AreaOfInterest.objects.filter(polygon__covers=incident.location, threshold__lte=incident.severity)


def incidents_alerting_in(area: AreaOfInterest) -> QuerySet[Incident]:
    """Return the open incidents inside or on the boundary of the area whose severity meets its threshold."""
    return Incident.objects.filter(
        location__coveredby=area.polygon, status=IncidentStatus.OPEN, severity__gte=area.threshold
    )


def incidents_in_area(area: AreaOfInterest) -> QuerySet[Incident]:
    """Return every incident (any state or severity) inside or on the boundary of the area."""
    return Incident.objects.filter(location__coveredby=area.polygon)


def incidents_in_bbox(min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> QuerySet[Incident]:
    """Return the incidents whose point lies in the lon/lat box (edges included)."""
    box = Polygon.from_bbox((min_lon, min_lat, max_lon, max_lat))
    box.srid = 4326
    return Incident.objects.filter(location__coveredby=box)


def last_event_id() -> int:
    """Return the id of the newest committed event, 0 when the log is empty."""
    return Event.objects.aggregate(last=Max("id"))["last"] or 0


def oldest_event_id() -> int | None:
    """Return the id of the oldest event still in the log, None when the log is empty."""
    return Event.objects.aggregate(first=Min("id"))["first"]


def events_after(after: int, *, upto: int | None = None, limit: int | None = None) -> list[dict]:
    """Return the envelopes of events with after < id <= upto (no upper bound if None), in id order."""
    queryset = Event.objects.filter(id__gt=after)
    if upto is not None:
        queryset = queryset.filter(id__lte=upto)
    queryset = queryset.order_by("id").values_list("envelope", flat=True)
    if limit is not None:
        queryset = queryset[:limit]
    return list(queryset)


def point(lon: float, lat: float) -> Point:
    """Return a WGS 84 point."""
    return Point(lon, lat, srid=4326)
