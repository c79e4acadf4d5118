"""GeoJSON serializers: the single source of the feature shape, used by the REST API and the pushed events.

A feature fetched over REST and a feature pushed over the WebSocket are produced by the same class, so they
are equal for the same row.
"""

from django.contrib.gis.geos import GEOSGeometry
from rest_framework import serializers
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from tracker.api.fields import SeverityField
from tracker.models import AreaOfInterest, Incident, IncidentStatus


def require_geometry_type(geometry: GEOSGeometry, expected: str) -> GEOSGeometry:
    """Return `geometry` if it is of GeoJSON type `expected`; raise a field ValidationError otherwise."""
    if geometry.geom_type != expected:
        raise serializers.ValidationError(f"Expected a GeoJSON {expected}, got a {geometry.geom_type}.")
    if geometry.srid not in (None, 4326):
        raise serializers.ValidationError("Coordinates must be WGS 84 longitude/latitude (EPSG:4326).")
    geometry.srid = 4326
    return geometry


class IncidentSerializer(GeoFeatureModelSerializer):
    severity = SeverityField(required=False)
    status = serializers.ChoiceField(choices=IncidentStatus.choices, required=False)
    reporter = serializers.SlugRelatedField(slug_field="username", read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        geo_field = "location"
        fields = (
            "id",
            "name",
            "description",
            "severity",
            "status",
            "reporter",
            "reported_publicly",
            "created_at",
            "updated_at",
            "url",
        )
        read_only_fields = ("id", "reporter", "reported_publicly", "created_at", "updated_at", "url")

    def get_url(self, incident: Incident) -> str:
        """Return the path of the incident's detail page."""
        return f"/incidents/{incident.pk}/"

    def validate_location(self, value: GEOSGeometry) -> GEOSGeometry:
        return require_geometry_type(value, "Point")


class AreaSerializer(GeoFeatureModelSerializer):
    threshold = SeverityField(required=False)
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = AreaOfInterest
        geo_field = "polygon"
        fields = ("id", "name", "threshold", "owner", "created_at", "updated_at")
        read_only_fields = ("id", "owner", "created_at", "updated_at")

    def validate_polygon(self, value: GEOSGeometry) -> GEOSGeometry:
        return require_geometry_type(value, "Polygon")
