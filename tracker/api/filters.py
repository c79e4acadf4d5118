"""Query-string filters for the list endpoints. Every parameter is validated: a malformed value is a 400 naming
the parameter, never ignored and never passed on to the database."""

import re
from datetime import UTC

import django_filters
from django import forms
from django.db.models import Q
from django_filters.fields import IsoDateTimeField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from tracker import selectors
from tracker.api.schema import NO_NUL
from tracker.models import (
    MAX_ID,
    MAX_LAT,
    MAX_LON,
    MAX_SEARCH_LENGTH,
    Alert,
    AreaOfInterest,
    Incident,
    IncidentStatus,
    Severity,
)

# Half the Earth's circumference: no two points are further apart.
MAX_DISTANCE_M = 20_040_000
ORDERING_HELP = "Sort keys, comma-separated; prefix - for descending. Ties are broken by id."


def degrees_pattern(limit: int) -> str:
    """Return a regular expression (no anchors) matching exactly the decimal numbers in [-limit, limit], for
    a whole limit of 10 or more: digits with an optional fraction and no leading zeros, or a number under 10
    with a negative exponent (what JavaScript's String() gives below 1e-6, e.g. "1e-7"). Built from the limit,
    so the published pattern and the server's check are one rule."""
    digits = str(limit)
    below = ["0", "[1-9]" + (f"[0-9]{{0,{len(digits) - 2}}}" if len(digits) > 2 else "")]  # fewer digits
    for i, digit in enumerate(digits):  # as many digits as the limit, the first smaller one at position i
        lowest = 1 if i == 0 else 0
        if int(digit) > lowest:
            below.append(f"{digits[:i]}[{lowest}-{int(digit) - 1}]" + "[0-9]" * (len(digits) - i - 1))
    return rf"-?(?:{digits}(?:\.0+)?|(?:{'|'.join(below)})(?:\.[0-9]+)?|[0-9](?:\.[0-9]+)?[eE]-[0-9]+)"


LONGITUDE = degrees_pattern(int(MAX_LON))
LATITUDE = degrees_pattern(int(MAX_LAT))


class PositionsField(forms.CharField):
    """Comma-separated lon,lat pairs in WGS 84 degrees, matched whole against `pattern` (the same regular
    expression the OpenAPI schema publishes); cleans to a tuple of floats."""

    def __init__(self, pairs: int, shape: str, **kwargs):
        self.regex = re.compile(",".join([LONGITUDE, LATITUDE] * pairs))
        self.message = (
            f"Expected {shape}: decimal degrees, longitude in [{-MAX_LON:g}, {MAX_LON:g}] and latitude in "
            f"[{-MAX_LAT:g}, {MAX_LAT:g}]."
        )
        super().__init__(**kwargs)

    @property
    def pattern(self) -> str:
        return f"^{self.regex.pattern}$"

    def to_python(self, value):
        if value is None:  # absent; an empty value is malformed like any other that does not match
            return None
        if not self.regex.fullmatch(value):
            raise forms.ValidationError(self.message, code="invalid")
        return tuple(float(part) for part in value.split(","))


class BBoxField(PositionsField):
    """min_lon,min_lat,max_lon,max_lat in WGS 84 degrees, with min <= max."""

    def __init__(self, **kwargs):
        super().__init__(2, "min_lon,min_lat,max_lon,max_lat", **kwargs)

    def validate(self, value):
        super().validate(value)
        if value is None:
            return
        min_lon, min_lat, max_lon, max_lat = value
        if min_lon > max_lon or min_lat > max_lat:
            raise forms.ValidationError(
                "Expected min_lon,min_lat,max_lon,max_lat with min_lon <= max_lon and min_lat <= max_lat.",
                code="invalid",
            )


class PointField(PositionsField):
    """lon,lat in WGS 84 degrees."""

    def __init__(self, **kwargs):
        super().__init__(1, "lon,lat", **kwargs)


def document(filter_: django_filters.Filter, schema: dict) -> None:
    """Publish `schema` as the filter's query parameter, described by its help_text (drf-spectacular drops
    the help_text of a filter whose schema is given)."""
    help_text = filter_.extra.get("help_text")
    extend_schema_field({**schema, "description": help_text} if help_text else schema)(filter_)


class PositionsFilter(django_filters.Filter):
    """A filter on a PositionsField. Its OpenAPI schema is one string with the server's own pattern, not an
    array, which OpenAPI serialises as repeated parameters (?in_bbox=1&in_bbox=2...) that the server refuses."""

    example: str

    def __init__(self, help_text: str = "", **kwargs):
        help_text = f"{help_text} One value, comma-separated (e.g. {self.example}).".strip()
        super().__init__(help_text=help_text, **kwargs)
        document(self, {"type": "string", "pattern": self.field_class().pattern, "example": self.example})


class BBoxFilter(PositionsFilter):
    field_class = BBoxField
    example = "-58.45,-34.65,-58.35,-34.55"


class PointFilter(PositionsFilter):
    field_class = PointField
    example = "-58.3816,-34.6037"


class SearchFilter(django_filters.CharFilter):
    """Text to look for (case-insensitive), at most MAX_SEARCH_LENGTH characters."""

    def __init__(self, **kwargs):
        super().__init__(max_length=MAX_SEARCH_LENGTH, **kwargs)
        document(self, {"type": "string", "maxLength": MAX_SEARCH_LENGTH, "pattern": NO_NUL})


@extend_schema_field({"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID})
class IdFilter(django_filters.Filter):
    field_class = forms.IntegerField

    def __init__(self, **kwargs):
        super().__init__(min_value=1, max_value=MAX_ID, **kwargs)


class UTCDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, converted to UTC here: PostgreSQL refuses UTC offsets beyond +-15:59 that
    ISO 8601 allows, and a date at the edge of the calendar may not survive the conversion (a 400)."""

    def to_python(self, value):
        if value == "":  # present but empty: not a date-time (the schema says so), not "no filter"
            raise forms.ValidationError("Enter a valid date/time.", code="invalid")
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("Date-time out of range.", code="invalid") from None


class DateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeField


@extend_schema_field(OpenApiTypes.BOOL)
class BooleanFilter(django_filters.TypedChoiceFilter):
    """Exactly "true" or "false"; anything else is a 400 rather than silently ignored."""

    def __init__(self, **kwargs):
        super().__init__(choices=[("true", "true"), ("false", "false")], coerce=lambda value: value == "true", **kwargs)


class StableOrderingFilter(django_filters.OrderingFilter):
    """Orders by the requested fields, then by id, so pages never overlap or skip rows with equal keys."""

    def filter(self, qs, value):
        qs = super().filter(qs, value)
        if value:
            qs = qs.order_by(*qs.query.order_by, "-id")
        return qs


class DistanceForm(forms.Form):
    """`point` and `dist` come together."""

    def clean(self):
        cleaned = super().clean()
        if (cleaned.get("point") is None) != (cleaned.get("dist") is None) and not self.errors:
            missing = "dist" if cleaned.get("dist") is None else "point"
            self.add_error(missing, "`point` and `dist` must be given together.")
        return cleaned


class DistanceFilter(django_filters.NumberFilter):
    """A radius in metres, from 0 to MAX_DISTANCE_M."""

    def __init__(self, **kwargs):
        super().__init__(min_value=0, max_value=MAX_DISTANCE_M, **kwargs)
        document(self, {"type": "number", "minimum": 0, "maximum": MAX_DISTANCE_M, "example": 1000})


class IncidentFilterSet(django_filters.FilterSet):
    in_bbox = BBoxFilter(
        method="filter_bbox",
        help_text="Incidents inside min_lon,min_lat,max_lon,max_lat (WGS 84 degrees, edges included).",
    )
    point = PointFilter(method="filter_distance", help_text="Center lon,lat of a distance filter; needs `dist`.")
    dist = DistanceFilter(
        method="filter_distance",
        help_text="Radius in metres (on the WGS 84 spheroid) around `point`; needs `point`.",
    )
    severity = django_filters.MultipleChoiceFilter(
        choices=Severity.name_choices(),
        method="filter_severity",
        help_text="One or more severities (repeat the parameter).",
    )
    min_severity = django_filters.ChoiceFilter(
        choices=Severity.name_choices(), method="filter_min_severity", help_text="Severity at least this."
    )
    status = django_filters.ChoiceFilter(choices=IncidentStatus.choices)
    created_after = DateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="Created at or after (ISO 8601)."
    )
    created_before = DateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="Created before (ISO 8601)."
    )
    search = SearchFilter(method="filter_search", help_text="Text in the name or description.")
    ordering = StableOrderingFilter(fields=("created_at", "severity", "name"), help_text=ORDERING_HELP)

    class Meta:
        model = Incident
        fields = ()
        form = DistanceForm

    def filter_bbox(self, queryset, name, value):
        return queryset.filter(location__coveredby=selectors.bbox(*value))

    def filter_distance(self, queryset, name, value):
        # Both parameters route here; apply the filter once, when the pair is complete.
        point, dist = self.form.cleaned_data.get("point"), self.form.cleaned_data.get("dist")
        if name != "point" or point is None or dist is None:
            return queryset
        return selectors.incidents_within(queryset, selectors.point(*point), float(dist))

    def filter_severity(self, queryset, name, value: list[str]):
        return queryset.filter(severity__in=[Severity.from_name(label) for label in value]) if value else queryset

    def filter_min_severity(self, queryset, name, value: str):
        return queryset.filter(severity__gte=Severity.from_name(value))

    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(description__icontains=value))


# Web map zoom levels: 0 shows the world in one 256 px tile, 22 is the deepest Leaflet and most tile servers go.
MAX_ZOOM = 22


@extend_schema_field({"type": "integer", "minimum": 0, "maximum": MAX_ZOOM})
class ZoomFilter(django_filters.Filter):
    """The map's zoom level; it sets the cluster grid rather than filtering rows (see the view)."""

    field_class = forms.IntegerField

    def __init__(self, **kwargs):
        super().__init__(min_value=0, max_value=MAX_ZOOM, required=True, method=self.keep_all, **kwargs)

    @staticmethod
    def keep_all(queryset, name, value):
        return queryset


class IncidentClusterFilterSet(IncidentFilterSet):
    """The incident filters, for a map view: `in_bbox` and `zoom` are required; the clusters have no order."""

    in_bbox = BBoxFilter(
        method="filter_bbox",
        required=True,
        help_text="The map view: min_lon,min_lat,max_lon,max_lat (WGS 84 degrees, edges included).",
    )
    zoom = ZoomFilter(help_text=f"The map's zoom level (0..{MAX_ZOOM}); a cluster cell is about 32 px wide at it.")
    ordering = None


class AreaFilterSet(django_filters.FilterSet):
    in_bbox = BBoxFilter(
        method="filter_bbox", help_text="Areas intersecting min_lon,min_lat,max_lon,max_lat (WGS 84 degrees)."
    )
    search = SearchFilter(field_name="name", lookup_expr="icontains", help_text="Text in the name.")
    ordering = StableOrderingFilter(fields=("name", "created_at", "threshold"), help_text=ORDERING_HELP)

    class Meta:
        model = AreaOfInterest
        fields = ()

    def filter_bbox(self, queryset, name, value):
        return queryset.filter(polygon__intersects=selectors.bbox(*value))


ALERT_STATE_HELP = (
    "active: neither cleared nor acknowledged (what a dispatcher must act on; the dashboard's open alerts); "
    "acknowledged: acknowledged and not cleared; cleared: cleared, whether acknowledged or not."
)


class AlertFilterSet(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(
        choices=[(state, state) for state in selectors.ALERT_STATES], method="filter_state", help_text=ALERT_STATE_HELP
    )
    acknowledged = BooleanFilter(
        method="filter_acknowledged", help_text="Acknowledged (true) or not (false), cleared or not; see `state`."
    )
    active = BooleanFilter(
        method="filter_active", help_text="Not cleared (true), acknowledged or not, or cleared (false); see `state`."
    )
    area = IdFilter(field_name="area_id", help_text="Alerts of this area id.")
    incident = IdFilter(field_name="incident_id", help_text="Alerts of this incident id.")

    class Meta:
        model = Alert
        fields = ()

    def filter_state(self, queryset, name, value):
        return selectors.alerts_in_state(queryset, value)

    def filter_acknowledged(self, queryset, name, value):
        return queryset.filter(acknowledged_at__isnull=not value)

    def filter_active(self, queryset, name, value):
        return queryset.filter(cleared_at__isnull=value)
