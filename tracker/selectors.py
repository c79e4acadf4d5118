"""Reads. Spatial predicates run in PostGIS on GiST-indexed columns, never in Python."""

import math
from typing import NamedTuple

from django.contrib.gis.db.models import Collect, PointField
from django.contrib.gis.db.models.functions import Centroid, SnapToGrid
from django.contrib.gis.geos import Point, Polygon
from django.contrib.gis.measure import D
from django.db.models import Count, Max, Q, QuerySet
from django.db.models.functions import Cast

from tracker.models import MAX_LON, Alert, AreaOfInterest, Incident, IncidentStatus


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


def incidents_listed(*, status: str | None = None, severity: int | None = None, search: str = "") -> QuerySet[Incident]:
    """Return the incidents newest first, with their reporters: only those in `status` and at `severity` when
    given, and whose name or description contains `search` (case-insensitive) when it is not empty."""
    queryset = Incident.objects.select_related("reporter").order_by("-created_at", "-id")
    if status:
        queryset = queryset.filter(status=status)
    if severity is not None:
        queryset = queryset.filter(severity=severity)
    if search:
        queryset = queryset.filter(Q(name__icontains=search) | Q(description__icontains=search))
    return queryset


def areas_covering(location: Point) -> QuerySet[AreaOfInterest]:
    """Return the areas, by name, whose polygon contains the point or has it on its boundary, in any state."""
    return AreaOfInterest.objects.filter(polygon__covers=location)


def alerts_of(incident: Incident) -> QuerySet[Alert]:
    """Return the incident's alerts, active and cleared, newest first, with their areas and acknowledgers."""
    return incident.alerts.select_related("area", "acknowledged_by").order_by("-created_at", "-id")


# The states of an alert a dispatcher works with. Cleared (the rule no longer holds) is final whether or not
# someone acknowledged the alert; acknowledging only matters while it is not cleared.
ALERT_STATES = {
    "active": Q(cleared_at__isnull=True, acknowledged_at__isnull=True),
    "acknowledged": Q(cleared_at__isnull=True, acknowledged_at__isnull=False),
    "cleared": Q(cleared_at__isnull=False),
}


def alerts_in_state(queryset: QuerySet[Alert], state: str) -> QuerySet[Alert]:
    """Return the alerts of `queryset` in `state` (a key of ALERT_STATES): "active" (neither cleared nor
    acknowledged: needs a dispatcher), "acknowledged" (acknowledged, not cleared) or "cleared" (cleared,
    acknowledged or not). Every alert is in exactly one state."""
    return queryset.filter(ALERT_STATES[state])


def bbox(min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> Polygon:
    """Return the WGS 84 lon/lat rectangle with those corners."""
    box = Polygon.from_bbox((min_lon, min_lat, max_lon, max_lat))
    box.srid = 4326
    return box


def incidents_in_bbox(min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> QuerySet[Incident]:
    """Return the incidents whose point lies in the lon/lat box (edges included)."""
    return Incident.objects.filter(location__coveredby=bbox(min_lon, min_lat, max_lon, max_lat))


# Grid cells per 256 px map tile: cells about 32 px wide, so neighbouring cluster markers do not overlap.
CLUSTER_CELLS_PER_TILE = 8


def cluster_cell_degrees(zoom: int) -> float:
    """Return the cluster grid's cell size in degrees at a web map zoom level (a 256 px tile spans 360 / 2^zoom
    degrees of longitude)."""
    return 360 / 2**zoom / CLUSTER_CELLS_PER_TILE


class Cluster(NamedTuple):
    """The incidents of one grid cell: how many, the highest severity, how many are open, and their centroid."""

    count: int
    max_severity: int
    open: int
    center: Point


def incident_clusters(queryset: QuerySet[Incident], *, cell_degrees: float) -> list[Cluster]:
    """Return one Cluster per non-empty cell of a lon/lat grid of `cell_degrees` (origin 0,0) over the
    incidents of `queryset`, in no particular order: a single GROUP BY on ST_SnapToGrid in PostGIS, so the
    rows never reach Python and the queryset's filters (e.g. a bounding box on the GiST index) apply first."""
    rows = (
        queryset.order_by()
        .annotate(cell=SnapToGrid("location", cell_degrees))
        .values("cell")
        .annotate(
            count=Count("id"),
            max_severity=Max("severity"),
            open=Count("id", filter=Q(status=IncidentStatus.OPEN)),
            center=Centroid(Collect("location")),
        )
        .values_list("count", "max_severity", "open", "center")
    )
    return [Cluster(*row) for row in rows]


# The smallest radius of curvature of the WGS 84 ellipsoid (meridional, at the equator), in metres: an arc of
# d metres spans at most d / this radians anywhere, so boxes derived from it contain the true circle.
_MIN_EARTH_RADIUS_M = 6_335_000


def incidents_within(queryset: QuerySet[Incident], center: Point, metres: float) -> QuerySet[Incident]:
    """Return the incidents of `queryset` within `metres` of `center` (a WGS 84 point), measured on the
    spheroid: ST_DWithin on geography, so the distance is in metres at every latitude, not in degrees.

    A lon/lat box around the circle is applied first so the GiST index on the geometry column does the coarse
    cut (the geography cast cannot use it); it is skipped when the circle reaches a pole or the antimeridian.
    """
    queryset = queryset.alias(_geography=Cast("location", PointField(geography=True, srid=4326)))
    queryset = queryset.filter(_geography__dwithin=(center, D(m=metres)))
    angle = metres / _MIN_EARTH_RADIUS_M
    lat = math.radians(center.y)
    if angle >= math.pi / 2 - abs(lat):
        return queryset
    dlat = math.degrees(angle)
    dlon = math.degrees(math.asin(math.sin(angle) / math.cos(lat)))
    if center.x - dlon < -MAX_LON or center.x + dlon > MAX_LON:
        return queryset
    return queryset.filter(location__coveredby=bbox(center.x - dlon, center.y - dlat, center.x + dlon, center.y + dlat))


def point(lon: float, lat: float) -> Point:
    """Return a WGS 84 point."""
    return Point(lon, lat, srid=4326)
