"""GeoJSON serializers: what the REST API reads and how the OpenAPI document describes it.

Reads return tracker.features' shapes, the same functions the event log uses, so a feature fetched over REST
and a feature pushed over the WebSocket are equal for the same row; the fields below declare that shape for
the schema and parse writes (tests/test_features.py checks the two agree).

Writes take a GeoJSON Feature, ``{"type": "Feature", "geometry": {...}, "properties": {...}}``, the shape a
read returns, so a client can send back what it fetched: read-only properties (id, reporter, timestamps, url)
are ignored, unknown ones refused. A flat body (fields at the top level) is refused with a 400 saying so:
accepting both shapes would make every client guess which one a field was read from.
"""

import copy

from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.settings import api_settings
from rest_framework_gis.serializers import GeoFeatureModelListSerializer, GeoFeatureModelSerializer

from tracker import features
from tracker.api.exceptions import GEOMETRY
from tracker.api.fields import ConstantField, GeoJSONGeometryField, SeverityField, StrictCharField
from tracker.api.schema import geometry_schema
from tracker.models import Alert, AreaOfInterest, Incident, IncidentStatus, validate_lon_lat, validate_polygon


class FeatureListSerializer(GeoFeatureModelListSerializer):
    """A FeatureCollection. Its own class so that the OpenAPI schema of a paginated list is built by
    tracker.api.pagination.FeaturePagination rather than drf-spectacular's unpaginated FeatureCollection."""


class FeatureSerializer(GeoFeatureModelSerializer):
    """A GeoFeatureModelSerializer that parses its GeoJSON Feature input strictly.

    Errors name the geometry "geometry" (not the model field), properties by their names, and malformed
    Feature members ("type", "properties") by theirs.
    """

    # Text properties take strings only (see StrictCharField).
    serializer_field_mapping = {
        **GeoFeatureModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
    }

    def get_fields(self) -> dict:
        """Return fresh copies of the class's fields, derived from the model once per class.

        ModelSerializer derives them from the model's metadata on every instantiation (0.41 ms of CPU, against
        0.23 ms for the copies), and every write builds a serializer. Copies, as DRF makes of declared fields:
        a serializer binds its fields to itself."""
        cls = type(self)
        if "_field_template" not in cls.__dict__:
            cls._field_template = super().get_fields()
        return copy.deepcopy(cls._field_template)

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            message = 'Expected a GeoJSON Feature object: {"type": "Feature", "geometry": {...}, "properties": {...}}.'
            raise serializers.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [message]}, code="invalid")
        errors = {}
        if data.get("type") != "Feature":
            errors["type"] = ['Must be "Feature": the body is a GeoJSON Feature.']
        properties = data.get("properties")
        if properties is None:  # absent, or null as GeoJSON allows: no properties (false or [] are refused)
            properties = {}
        if not isinstance(properties, dict):
            errors["properties"] = ["Expected an object of feature properties."]
            properties = {}
        writable = [name for name, field in self.fields.items() if not field.read_only and name != self.Meta.geo_field]
        for name in sorted(set(properties) - set(self.fields) | ({self.Meta.geo_field} & set(properties))):
            errors[name] = [f"Unknown property; the writable ones are {', '.join(writable)}."]
        if errors:
            raise serializers.ValidationError(errors)
        attrs = dict(properties)
        if "geometry" in data:
            attrs[self.Meta.geo_field] = data["geometry"]
        try:
            return super(GeoFeatureModelSerializer, self).to_internal_value(attrs)
        except serializers.ValidationError as error:
            raise serializers.ValidationError(self.api_field_names(error.detail)) from None

    def api_field_names(self, detail):
        """Return error detail with the model's geometry field called "geometry", as in the Feature."""
        if isinstance(detail, dict) and self.Meta.geo_field in detail:
            detail = {GEOMETRY if name == self.Meta.geo_field else name: value for name, value in detail.items()}
        return detail


class IncidentSerializer(FeatureSerializer):
    """An incident: a GeoJSON Feature with a Point geometry."""

    location = GeoJSONGeometryField("Point", validators=[validate_lon_lat])
    severity = SeverityField(required=False)
    status = serializers.ChoiceField(choices=IncidentStatus.choices, required=False)
    reporter = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="Who reported it; null for a public report."
    )
    url = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        geo_field = "location"
        list_serializer_class = FeatureListSerializer
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

    def to_representation(self, incident: Incident) -> dict:
        # After a write, the feature its event carries: equal by construction, and not serialised twice.
        return features.logged_or_new(incident, features.incident_feature)

    def get_url(self, incident: Incident) -> str:
        """Return the path of the incident's detail page (declares the property's type for the schema)."""
        return features.incident_url(incident.pk)



class NewIncidentSerializer(IncidentSerializer):
    """A new incident (a create): as an incident, but its status, if given, can only be "open"."""

    status = serializers.ChoiceField(
        choices=[(IncidentStatus.OPEN, IncidentStatus.OPEN.label)], required=False, help_text="A new incident is open."
    )


class PublicReportSerializer(IncidentSerializer):
    """An anonymous report: a GeoJSON Feature with a Point geometry. Only name, description and severity are
    read from its properties; the incident is always open."""

    status = serializers.ChoiceField(choices=IncidentStatus.choices, read_only=True)


class AreaSerializer(FeatureSerializer):
    """An area of interest: a GeoJSON Feature with a Polygon geometry. Open incidents inside it at or above its
    threshold raise alerts."""

    polygon = GeoJSONGeometryField("Polygon", validators=[validate_polygon])
    threshold = SeverityField(required=False)
    owner = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="Who drew it; null if that user is gone."
    )

    class Meta:
        model = AreaOfInterest
        geo_field = "polygon"
        list_serializer_class = FeatureListSerializer
        fields = ("id", "name", "threshold", "owner", "created_at", "updated_at")
        read_only_fields = ("id", "owner", "created_at", "updated_at")

    def to_representation(self, area: AreaOfInterest) -> dict:
        return features.logged_or_new(area, features.area_feature)


class AlertSerializer(serializers.ModelSerializer):
    """An alert as plain JSON: which incident met which area's rule, and its cleared/acknowledged state."""

    incident_name = serializers.CharField(source="incident.name", read_only=True)
    area_name = serializers.CharField(source="area.name", read_only=True)
    severity = SeverityField(source="incident.severity", read_only=True, help_text="The incident's severity.")
    acknowledged_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="Who acknowledged it first, or null."
    )

    class Meta:
        model = Alert
        fields = (
            "id",
            "incident",
            "incident_name",
            "area",
            "area_name",
            "severity",
            "created_at",
            "cleared_at",
            "acknowledged_at",
            "acknowledged_by",
        )
        read_only_fields = fields


class ClusterPropertiesSerializer(serializers.Serializer):
    """What a cluster of incidents holds."""

    count = serializers.IntegerField(min_value=1, help_text="Incidents in the cluster.")
    max_severity = SeverityField(help_text="The highest severity among them.")
    open = serializers.IntegerField(min_value=0, help_text="How many of them are open.")


@extend_schema_field(geometry_schema("Point", "response"))
class ClusterCenterField(serializers.Field):
    """The centroid of a cluster's incidents as a GeoJSON Point, to the 6 decimals (about 0.1 m) a map needs."""

    def to_representation(self, value):
        return {"type": "Point", "coordinates": [round(value.x, 6), round(value.y, 6)]}


class ClusterSerializer(serializers.Serializer):
    """A cluster (tracker.selectors.Cluster) as a GeoJSON Point Feature at the centroid of its incidents."""

    type = ConstantField("Feature")
    geometry = ClusterCenterField(source="center")
    properties = ClusterPropertiesSerializer(source="*")


class ClusterCollectionSerializer(serializers.Serializer):
    """The clusters of a map view: a GeoJSON FeatureCollection, with the incidents they hold in all."""

    type = ConstantField("FeatureCollection")
    count = serializers.SerializerMethodField(help_text="Incidents in the view (the clusters' counts summed).")
    features = ClusterSerializer(many=True, source="*")

    def get_count(self, clusters: list) -> int:
        """The serialized instance is the list of clusters; return the incidents they hold."""
        return sum(cluster.count for cluster in clusters)
