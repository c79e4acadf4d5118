"""Domain models: incidents (points), areas of interest (polygons), the alerts between them, and the event log.

Coordinates are stored in SRID 4326 (WGS 84, GeoJSON order lon/lat); every spatial column has a GiST index.
"""

from django.conf import settings
from django.contrib.gis.db import models
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q


class Severity(models.IntegerChoices):
    """Ordered severities: comparisons in SQL (`severity >= threshold`) follow the integer order."""

    INFO = 0, "info"
    LOW = 1, "low"
    MEDIUM = 2, "medium"
    HIGH = 3, "high"
    URGENT = 4, "urgent"

    @classmethod
    def from_name(cls, name: str) -> "Severity":
        """Return the member whose lowercase label is `name`; raise ValueError for an unknown name."""
        for member in cls:
            if member.label == name:
                return member
        raise ValueError(f"unknown severity {name!r}; expected one of {', '.join(cls.labels)}")

    @classmethod
    def name_choices(cls) -> list[tuple[str, str]]:
        """Return (name, name) choices, lowest first: forms and filters take severities by name ("high")."""
        return [(label, label) for label in cls.labels]


class IncidentStatus(models.TextChoices):
    OPEN = "open", "open"
    CLOSED = "closed", "closed"


# The limits every entry point shares (model validation, REST API and its schema, HTML forms, the live socket);
# written here once and imported.
# A polygon with more vertices than this is refused: it keeps one area from making every ST_Covers check slow.
MAX_POLYGON_VERTICES = 10_000
# WGS 84 degrees: a longitude lies in [-MAX_LON, MAX_LON], a latitude in [-MAX_LAT, MAX_LAT].
MAX_LON = 180.0
MAX_LAT = 90.0
# The largest id of any row, event ids included: ids are PostgreSQL bigints, so a larger one names nothing.
MAX_ID = 2**63 - 1
# The longest name of an incident or an area.
MAX_NAME_LENGTH = 200
# The longest text search (API `search`, the incident list's `q`): bounds the ILIKE pattern's work.
MAX_SEARCH_LENGTH = 200


def validate_position(lon: float, lat: float) -> None:
    """Raise ValidationError (code "out_of_range") unless (lon, lat) is a finite WGS 84 longitude/latitude."""
    if not (-MAX_LON <= lon <= MAX_LON and -MAX_LAT <= lat <= MAX_LAT):  # also false for NaN
        raise ValidationError(
            f"Coordinates must be longitude in [{-MAX_LON:g}, {MAX_LON:g}] and latitude in [{-MAX_LAT:g}, "
            f"{MAX_LAT:g}]; got (%(lon)s, %(lat)s).",
            code="out_of_range",
            params={"lon": lon, "lat": lat},
        )


def validate_lon_lat(geometry) -> None:
    """Raise ValidationError unless every coordinate of `geometry` is a finite WGS 84 longitude/latitude."""
    for lon, lat in _coordinates(geometry):
        validate_position(lon, lat)


def _coordinates(geometry):
    """Yield the (lon, lat) pairs of a Point or Polygon."""
    if geometry.geom_type == "Point":
        yield geometry.x, geometry.y
    else:
        for ring in geometry:
            yield from ring.coords


def validate_polygon(polygon) -> None:
    """Raise ValidationError unless `polygon` is a valid, simple, bounded-size WGS 84 polygon."""
    if polygon.num_points > MAX_POLYGON_VERTICES:
        raise ValidationError(
            "A polygon may have at most %(limit)d vertices; got %(count)d.",
            code="too_many_vertices",
            params={"limit": MAX_POLYGON_VERTICES, "count": polygon.num_points},
        )
    validate_lon_lat(polygon)
    if polygon.empty:
        raise ValidationError("The polygon is empty.", code="empty")
    if not polygon.valid:
        raise ValidationError("Invalid polygon: %(reason)s.", code="invalid", params={"reason": polygon.valid_reason})
    if polygon.area == 0:
        raise ValidationError("The polygon has no area.", code="empty")


class LiveQuerySet(models.QuerySet):
    """QuerySet of a LiveModel: `update()` (and so `bulk_update()`) reach the stream like a save.

    Django's update() is a plain UPDATE that no signal sees: a shell's
    `Incident.objects.filter(...).update(status="closed")` would change rows with no event and no alert
    cleared. Here it stays one UPDATE (with a new updated_at), then each updated row is validated and
    handed to the post_save receivers as saved, all in one transaction: a row the model would refuse rolls
    the whole update back. (bulk_create, like raw SQL, still bypasses the stream.)
    """

    def update(self, **kwargs) -> int:
        from django.db.models.signals import post_save
        from django.utils import timezone

        with transaction.atomic(using=self.db, savepoint=False):
            pks = list(self.values_list("pk", flat=True))
            count = super().update(**{"updated_at": timezone.now(), **kwargs})
            for row in self.model._base_manager.using(self.db).filter(pk__in=pks).order_by("pk"):
                row.full_clean()
                post_save.send(
                    sender=self.model, instance=row, created=False, update_fields=frozenset(kwargs), raw=False,
                    using=self.db,
                )  # fmt: skip
        return count


class LiveModel(models.Model):
    """A model whose changes are pushed live (see tracker.signals).

    Every save validates first, so a shell or script write with a bad geometry gets a ValidationError instead
    of storing a row PostGIS cannot reason about. Save and delete run in one transaction with their signal
    receivers, so the row, its event and its alerts commit together even outside any atomic block. Its
    queryset's update() does the same (LiveQuerySet).
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LiveQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        # A foreign key whose object is already loaded on the instance is not looked up again (a query per
        # save): the database's constraint still refuses a reference to a missing row.
        loaded = [field.name for field in self._meta.concrete_fields if field.is_relation and field.is_cached(self)]
        self.full_clean(exclude=loaded)
        # No savepoint: like Django's own save_base, a failure here dooms the enclosing transaction anyway.
        with transaction.atomic(savepoint=False):
            super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        with transaction.atomic(savepoint=False):
            return super().delete(*args, **kwargs)


class Incident(LiveModel):
    name = models.CharField(max_length=MAX_NAME_LENGTH)
    description = models.TextField(blank=True, max_length=5000)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices, default=Severity.MEDIUM, db_index=True)
    status = models.CharField(max_length=6, choices=IncidentStatus.choices, default=IncidentStatus.OPEN)
    location = models.PointField(srid=4326, validators=[validate_lon_lat])
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents"
    )
    reported_publicly = models.BooleanField(
        default=False, help_text="Reported anonymously through the public report page."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "severity"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return self.status == IncidentStatus.OPEN


class AreaOfInterest(LiveModel):
    name = models.CharField(max_length=MAX_NAME_LENGTH)
    threshold = models.PositiveSmallIntegerField(
        choices=Severity.choices,
        default=Severity.HIGH,
        help_text="Open incidents inside the area at this severity or above raise an alert.",
    )
    polygon = models.PolygonField(srid=4326, validators=[validate_polygon])
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="areas"
    )

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "area of interest"
        verbose_name_plural = "areas of interest"

    def __str__(self) -> str:
        return self.name


class Alert(models.Model):
    """An incident meeting an area's rule. Active (cleared_at null) while the rule holds; at most one active per pair.

    When the incident stops meeting the rule (closed, moved out, lowered) the alert is cleared, so meeting it
    again later raises a new alert; staying in the same state never does.
    """

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="alerts")
    area = models.ForeignKey(AreaOfInterest, on_delete=models.CASCADE, related_name="alerts")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    cleared_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "area"], condition=Q(cleared_at__isnull=True), name="one_active_alert_per_pair"
            )
        ]

    def __str__(self) -> str:
        return f"{self.incident} in {self.area}"


class EventType(models.TextChoices):
    INCIDENT = "incident"
    AREA = "area"
    ALERT = "alert"


class EventOp(models.TextChoices):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


class Event(models.Model):
    """Append-only log of every pushed envelope.

    `id` is taken from EventCounter in the writing transaction's last statement before COMMIT, which holds the
    counter's row lock until the commit ends (tracker.stream.ids): ids are gap-free and become visible in id
    order, so a client that saw N has seen every event <= N.
    """

    id = models.BigIntegerField(primary_key=True)
    type = models.CharField(max_length=10, choices=EventType.choices)
    op = models.CharField(max_length=10, choices=EventOp.choices)
    created_at = models.DateTimeField(db_index=True)
    envelope = models.JSONField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"#{self.id} {self.type} {self.op}"


class EventCounter(models.Model):
    """The single row whose lock orders event ids by commit (see Event)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_id = models.BigIntegerField(default=0)
