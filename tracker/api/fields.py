"""Serializer fields shared by the API and the event envelopes."""

import math

from django.contrib.gis.geos import GEOSException, LinearRing, Point, Polygon
from rest_framework import serializers
from rest_framework_gis.fields import GeometryField

from tracker.models import MAX_POLYGON_VERTICES, Severity


SEVERITY_NAMES = Severity.labels


class SeverityField(serializers.ChoiceField):
    """Reads and writes a severity as its lowercase name ("info" ... "urgent"); stores the ordered integer."""

    def __init__(self, **kwargs):
        super().__init__(choices=SEVERITY_NAMES, **kwargs)

    def to_internal_value(self, data) -> int:
        name = super().to_internal_value(data)
        return int(Severity.from_name(name))

    def to_representation(self, value) -> str:
        return Severity(value).label


class StrictCharField(serializers.CharField):
    """A CharField that reads JSON strings only: DRF's own turns 0 or 1.5 into "0" and "1.5", which the OpenAPI
    schema (type string) says is refused."""

    def to_internal_value(self, data) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class ConstantField(serializers.Field):
    """A read-only member that is always `value` (e.g. a GeoJSON "type"); documented as a one-value enum."""

    def __init__(self, value: str, **kwargs):
        self.value = value
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, instance) -> str:
        return self.value


class GeoJSONGeometryField(GeometryField):
    """Reads one RFC 7946 GeoJSON geometry type into a WGS 84 GEOS geometry; writes like drf-gis.

    Input is built from the JSON coordinates directly, never handed to GDAL: WKT/EWKB strings and a "crs"
    member are refused, so no request can make GDAL resolve a spatial reference (a file or URL lookup).
    Positions are [longitude, latitude] with an optional altitude, which is dropped (storage is 2D).
    Range and polygon-validity rules are the model field's validators, which this field runs too.
    """

    def __init__(self, geom_type: str, **kwargs):
        if geom_type not in ("Point", "Polygon"):
            raise ValueError(f"unsupported geometry type {geom_type}")
        self.geom_type = geom_type
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail_with(
                f'Expected a GeoJSON {self.geom_type} object, e.g. {{"type": "{self.geom_type}", "coordinates": ...}}.'
            )
        if "crs" in data:
            self.fail_with('The "crs" member is not accepted: coordinates are WGS 84 longitude/latitude (RFC 7946).')
        if data.get("type") != self.geom_type:
            self.fail_with(f"Expected a GeoJSON {self.geom_type}, got {data.get('type')!r}.")
        if "coordinates" not in data:
            self.fail_with('A GeoJSON geometry needs a "coordinates" member.')
        if self.geom_type == "Point":
            return Point(*self._position(data["coordinates"]), srid=4326)
        return self._polygon(data["coordinates"])

    def fail_with(self, message: str):
        raise serializers.ValidationError(message, code="invalid")

    def _position(self, value) -> tuple[float, float]:
        """Return (lon, lat) of a GeoJSON position; raise a ValidationError for anything else."""
        if not isinstance(value, list) or len(value) not in (2, 3):
            self.fail_with("A position must be [longitude, latitude] or [longitude, latitude, altitude].")
        for number in value:
            if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
                self.fail_with("Position coordinates must be finite numbers.")
        return float(value[0]), float(value[1])

    def _polygon(self, value) -> Polygon:
        if not isinstance(value, list) or not value:
            self.fail_with("Polygon coordinates must be a list of linear rings (the exterior first).")
        if not all(isinstance(ring, list) for ring in value):
            self.fail_with("Each linear ring must be a list of positions.")
        count = sum(len(ring) for ring in value)
        if count > MAX_POLYGON_VERTICES:
            self.fail_with(f"A polygon may have at most {MAX_POLYGON_VERTICES} vertices; got {count}.")
        rings = []
        for ring in value:
            positions = [self._position(position) for position in ring]
            if len(positions) < 4:
                self.fail_with("A linear ring needs at least 4 positions (the last repeating the first).")
            if positions[0] != positions[-1]:
                self.fail_with("A linear ring must be closed: its last position must equal its first.")
            try:
                rings.append(LinearRing(positions))
            except GEOSException as exc:
                self.fail_with(f"Invalid linear ring: {exc}.")
        return Polygon(*rings, srid=4326)
