"""OpenAPI (drf-spectacular) additions: the GeoJSON Feature shapes as the API reads and writes them, the
event envelope, and the JSON error responses each operation can give."""

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import build_object_type
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from tracker.api.parsers import GeoJSONParser
from tracker.models import MAX_LAT, MAX_LON, MAX_POLYGON_VERTICES, EventOp, EventType

LONGITUDE = {"type": "number", "minimum": -MAX_LON, "maximum": MAX_LON, "description": "Longitude"}
LATITUDE = {"type": "number", "minimum": -MAX_LAT, "maximum": MAX_LAT, "description": "Latitude"}
ALTITUDE = {"type": "number", "description": "Altitude (dropped: storage is 2D)"}
POINT_EXAMPLE = [-58.3816, -34.6037]
# Text that PostgreSQL can store: no NUL character (Django refuses one with a 400). A text property that may
# not be blank also needs a character that is not whitespace, since DRF trims it before that check; one that
# may be blank is published as a non-empty string or "" (drf-spectacular adds the "" branch of a oneOf).
NO_NUL = r"^[^\u0000]*$"
NON_EMPTY_NO_NUL = r"^[^\u0000]+$"
NOT_BLANK = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"


def position_schema(direction: str) -> dict:
    """Return the schema of a GeoJSON position: a tuple (OpenAPI 3.1 prefixItems), since the longitude and
    latitude ranges differ; a request may add an altitude."""
    prefix = [LONGITUDE, LATITUDE, ALTITUDE] if direction == "request" else [LONGITUDE, LATITUDE]
    return {
        "type": "array",
        "prefixItems": prefix,
        # maxItems bounds it to the prefix; `items: false` would say the same, but openapi-python-client
        # cannot read boolean schemas.
        "minItems": 2,
        "maxItems": len(prefix),
        "description": "[longitude, latitude] in WGS 84 degrees"
        + (" (an altitude may follow; it is dropped)." if direction == "request" else "."),
    }


def geometry_schema(geom_type: str, direction: str) -> dict:
    """Return the schema of one RFC 7946 geometry type; requests may not carry a "crs" member."""
    position = position_schema(direction)
    if geom_type == "Point":
        coordinates = {**position, "example": POINT_EXAMPLE}
    else:
        coordinates = {
            "type": "array",
            "minItems": 1,
            "items": {"type": "array", "minItems": 4, "items": position},
            "description": (
                "Linear rings, the exterior first, each closed (last position = first). The polygon must be "
                f"valid (no self-intersection) and have at most {MAX_POLYGON_VERTICES} vertices in all."
            ),
            "example": [[[-58.45, -34.65], [-58.35, -34.65], [-58.35, -34.55], [-58.45, -34.55], [-58.45, -34.65]]],
        }
    schema = build_object_type(
        properties={"type": {"type": "string", "enum": [geom_type]}, "coordinates": coordinates},
        required=["type", "coordinates"],
    )
    if direction == "request":
        schema["description"] = 'A GeoJSON geometry; a "crs" member is refused (coordinates are always WGS 84).'
    return schema


class FeatureSerializerExtension(OpenApiSerializerExtension):
    """Describes tracker.api.serializers.FeatureSerializer: a GeoJSON Feature whose `properties` are the
    serializer's fields, with the geometry type it really accepts. Takes precedence over drf-spectacular's
    generic GeoFeatureModelSerializer support, which does not mark required members."""

    target_class = "tracker.api.serializers.FeatureSerializer"
    match_subclasses = True
    priority = 1

    def map_serializer(self, auto_schema, direction):
        serializer = self.target
        geo_field = serializer.Meta.geo_field
        base = auto_schema._map_serializer(serializer, direction, bypass_extensions=True)
        fields = {name: schema for name, schema in base["properties"].items() if name not in (geo_field, "id")}
        members = {"type": {"type": "string", "enum": ["Feature"]}}
        required = ["type"]
        if direction == "response":
            # A read always carries every property (null where there is no value).
            properties = build_object_type(properties=fields, required=list(fields))
            members["id"] = base["properties"]["id"]
            required += ["id", "geometry", "properties"]
        else:
            properties = build_object_type(
                properties=fields, required=[name for name in base.get("required", []) if name in fields]
            )
            properties["additionalProperties"] = False
            properties["description"] = (
                "Unknown properties are refused; the read-only ones a read returns are accepted and ignored."
            )
            if serializer.partial:
                # GeoJSON allows "properties": null; in a partial update it changes no property.
                properties["type"] = ["object", "null"]
            else:
                required += ["geometry", "properties"]
        members["geometry"] = geometry_schema(serializer.fields[geo_field].geom_type, direction)
        members["properties"] = properties
        return build_object_type(properties=members, required=required, description=base.get("description"))


class ErrorSerializer(serializers.Serializer):
    """The body of every error response (see tracker.api.exceptions)."""

    detail = serializers.CharField(help_text="What went wrong, for a human.")
    code = serializers.CharField(help_text="What went wrong, for a program (e.g. invalid, not_found, throttled).")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="On a validation error: the messages per offending field or query parameter.",
    )
    last_event_id = serializers.IntegerField(required=False, help_text='On "resync": where to continue from.')


class EnvelopeFeatureField(serializers.JSONField):
    """The feature of an event envelope: an incident or an area Feature, as the REST API returns them."""


class EnvelopeFeatureFieldExtension(OpenApiSerializerFieldExtension):
    target_class = EnvelopeFeatureField

    def map_serializer_field(self, auto_schema, direction):
        from tracker.api.serializers import AreaSerializer, IncidentSerializer

        refs = [auto_schema.resolve_serializer(s, "response").ref for s in (IncidentSerializer, AreaSerializer)]
        return {"oneOf": refs}


class StrictCharFieldExtension(OpenApiSerializerFieldExtension):
    """A text property as the server reads it: a string (never a number), with the characters it accepts."""

    target_class = "tracker.api.fields.StrictCharField"

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["pattern"] = NON_EMPTY_NO_NUL if self.target.allow_blank else NOT_BLANK
        return schema


class ConstantFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "tracker.api.fields.ConstantField"

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "string", "enum": [self.target.value]}


class EnvelopeAreaSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    threshold = serializers.CharField()


class EnvelopeAlertSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    area = EnvelopeAreaSerializer()
    created_at = serializers.DateTimeField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    acknowledged_by = serializers.CharField(allow_null=True)
    cleared_at = serializers.DateTimeField(allow_null=True)


class EnvelopeSerializer(serializers.Serializer):
    """An event as the WebSocket pushes it (tracker.stream.eventlog builds it; this class only describes it)."""

    id = serializers.IntegerField(help_text="Strictly increasing and gap-free.")
    type = serializers.ChoiceField(choices=EventType.choices)
    op = serializers.ChoiceField(choices=EventOp.choices)
    at = serializers.DateTimeField()
    feature = EnvelopeFeatureField(help_text="The incident (for incident and alert events) or area Feature.")
    alerts = EnvelopeAlertSerializer(many=True, required=False, help_text="Alert events only.")


class EventPageSerializer(serializers.Serializer):
    results = EnvelopeSerializer(many=True)
    last_event_id = serializers.IntegerField(help_text="Resume from here (after=last_event_id).")
    next = serializers.URLField(allow_null=True, help_text="More events follow: the URL of the next batch.")


class AutoSchema(openapi.AutoSchema):
    """Adds the JSON error responses an operation can give to what drf-spectacular infers."""

    def map_parsers(self) -> list[str]:
        """Return the request media types to publish: application/json only. The server reads
        application/geo+json as the very same body (tracker.api.parsers.GeoJSONParser; the 415 says so), but a
        second media type with the same schema makes openapi-python-client generate a body argument it cannot
        dispatch (issues #1276 and #1451 there)."""
        return [media_type for media_type in super().map_parsers() if media_type != GeoJSONParser.media_type]

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, description in self.error_statuses().items():
            if code not in responses:
                error = OpenApiResponse(ErrorSerializer, description=description)
                responses[code] = self._get_response_for_code(error, code, direction=direction)
        return responses

    def error_statuses(self) -> dict[str, str]:
        has_body = self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None
        has_query = any(p["in"] == "query" for p in self._get_parameters())
        needs_login = not any(isinstance(p, AllowAny) for p in self.view.get_permissions())
        statuses = {}
        if has_body or has_query:
            statuses["400"] = "Invalid input: `errors` names each offending field or parameter."
        if needs_login:
            statuses["401"] = "Missing or wrong credentials."
            if self.method not in ("GET", "HEAD", "OPTIONS"):
                statuses["403"] = "Not allowed (permissions, or a session request without a CSRF token)."
        if "{" in self.path or self._is_list_view():
            statuses["404"] = "No such object, or a page past the last one."
        if has_body:
            statuses["411"] = "The body was sent chunked, without a Content-Length."
            statuses["413"] = "The body is larger than the API reads."
            statuses["415"] = "The body is not JSON (application/json or application/geo+json)."
        if self.view.get_throttles():
            statuses["429"] = "Too many requests from this address; see Retry-After."
        return statuses


class AggregateSchema(AutoSchema):
    """For a view whose one answer is computed from the filtered rows (not a list of them): its filters are
    documented like a list's, which drf-spectacular does only for lists."""

    def get_filter_backends(self):
        return getattr(self.view, "filter_backends", [])
