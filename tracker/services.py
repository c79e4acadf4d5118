"""Writes. Every change to incidents, areas and alerts goes through these functions (or a plain model save,
which fires the same signals); each runs in one transaction, so a failure leaves nothing half-written.
Called inside a larger transaction (an API view's), a service joins it without a savepoint: its failure fails
that transaction too (no caller carries on after one), and a savepoint would cost two statements per write.

The alert rule itself (which pairs alert) lives in the selectors; `sync_*_alerts` turn its answer into Alert
rows and events, and are called from the signal receivers so that every save path raises alerts.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.gis.geos import Point, Polygon
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from tracker import selectors
from tracker.stream import eventlog
from tracker.models import Alert, AreaOfInterest, EventOp, Incident, Severity

INCIDENT_EDITABLE = frozenset({"name", "description", "severity", "status", "location"})
AREA_EDITABLE = frozenset({"name", "threshold", "polygon"})


def _apply(instance, changes: dict, editable: frozenset) -> None:
    """Set `changes` on `instance`; raise ValueError for a field that may not be changed this way."""
    unknown = set(changes) - editable
    if unknown:
        raise ValueError(f"cannot change {', '.join(sorted(unknown))}")
    for field, value in changes.items():
        setattr(instance, field, value)


@transaction.atomic(savepoint=False)
def incident_report(
    *,
    name: str,
    location: Point,
    severity: int = Severity.MEDIUM,
    description: str = "",
    reporter: AbstractBaseUser | None = None,
    reported_publicly: bool = False,
) -> Incident:
    """Create and return an open incident; its event and any alerts are recorded in the same transaction."""
    incident = Incident(
        name=name,
        description=description,
        severity=severity,
        location=location,
        reporter=reporter,
        reported_publicly=reported_publicly,
    )
    incident.save()
    return incident


@transaction.atomic(savepoint=False)
def incident_update(*, incident: Incident, **changes) -> Incident:
    """Apply `changes` (name, description, severity, status, location) and return the saved incident."""
    _apply(incident, changes, INCIDENT_EDITABLE)
    incident.save()
    return incident


@transaction.atomic(savepoint=False)
def incident_delete(*, incident: Incident) -> None:
    """Delete the incident (its alerts go with it); the delete event carries its last state."""
    incident.delete()


@transaction.atomic(savepoint=False)
def area_create(
    *, name: str, polygon: Polygon, threshold: int = Severity.HIGH, owner: AbstractBaseUser | None = None
) -> AreaOfInterest:
    """Create and return an area; open incidents already inside it that meet the threshold alert at once."""
    area = AreaOfInterest(name=name, polygon=polygon, threshold=threshold, owner=owner)
    area.save()
    return area


@transaction.atomic(savepoint=False)
def area_update(*, area: AreaOfInterest, **changes) -> AreaOfInterest:
    """Apply `changes` (name, threshold, polygon) and return the saved area."""
    _apply(area, changes, AREA_EDITABLE)
    area.save()
    return area


@transaction.atomic(savepoint=False)
def area_delete(*, area: AreaOfInterest) -> None:
    """Delete the area (its alerts go with it); the delete event carries its last geometry."""
    area.delete()


@transaction.atomic(savepoint=False)
def alert_acknowledge(*, alert: Alert, user: AbstractBaseUser) -> Alert:
    """Record who acknowledged the alert and when, and return it. Acknowledging again changes nothing."""
    # The alert's row only (of=self): locking its incident and area too would wait on a reshape or an edit of
    # them that is waiting for this alert (see lock_active_alerts).
    alert = Alert.objects.select_for_update(of=("self",)).select_related("incident", "area").get(pk=alert.pk)
    if alert.acknowledged_at is None:
        alert.acknowledged_at = timezone.now()
        alert.acknowledged_by = user
        alert.save(update_fields=["acknowledged_at", "acknowledged_by"])
        eventlog.record_alerts(alert.incident, [alert], EventOp.UPDATED)
    return alert


def sync_incident_alerts(
    incident: Incident, *, created: bool = False, feature: dict | None = None
) -> list[eventlog.Change]:
    """Bring the incident's active alerts in line with the rule and return their events, for the caller to
    record after the incident's own (tracker.signals).

    Areas it newly meets get an alert (one `alert` event listing them all); active alerts whose area it no
    longer meets are cleared, so meeting it again later alerts again. `created` says the incident was just
    inserted, so it has no alerts yet (not looked up); `feature`, the incident's GeoJSON when the caller
    already has it, saves serialising it again.

    The active alerts are locked here, in id order, so that every row lock of the write comes before the
    event counter's, which is always the transaction's last lock (tracker.stream.ids takes it in the
    statement right before COMMIT): a write and an acknowledgement of its alerts never wait on each other in
    a cycle (tests/test_lock_order.py).
    """
    # Only what the alert event names: an area's polygon can have thousands of vertices.
    matching = {area.pk: area for area in selectors.areas_alerting_for(incident).only("id", "name", "threshold")}
    active = (
        {}
        if created
        else {alert.area_id: alert for alert in _locked_active(incident.alerts.select_related("area", "acknowledged_by"))}
    )
    changes = _clear([alert for area_id, alert in active.items() if area_id not in matching])
    new = _raise([Alert(incident=incident, area=matching[area_id]) for area_id in sorted(matching.keys() - active.keys())])
    if new:
        changes.append(eventlog.alerts_change(incident, new, EventOp.CREATED, feature=feature))
    return changes


def sync_area_alerts(area: AreaOfInterest) -> list[eventlog.Change]:
    """Bring the area's active alerts in line with the rule and return their events, for the caller to record
    after the area's own (the active alerts locked in id order, as in sync_incident_alerts).

    Each incident that newly meets the area gets one alert and one `alert` event; active alerts of incidents
    that no longer meet it (the polygon or threshold changed) are cleared. Set-based: a fixed number of
    queries however many incidents the area covers (one INSERT of alerts; the caller records the events in one).
    """
    matching = {incident.pk: incident for incident in selectors.incidents_alerting_in(area).select_related("reporter")}
    active = {
        alert.incident_id: alert
        for alert in _locked_active(area.alerts.select_related("incident__reporter", "acknowledged_by"))
    }
    changes = _clear([alert for incident_id, alert in active.items() if incident_id not in matching])
    new = _raise([Alert(incident=matching[incident_id], area=area) for incident_id in sorted(matching.keys() - active.keys())])
    changes += [eventlog.alerts_change(alert.incident, [alert], EventOp.CREATED) for alert in new]
    return changes


def _raise(alerts: list[Alert]) -> list[Alert]:
    """Insert the new alerts (one statement) and return those inserted, with their ids.

    A pair that a concurrent write raised first is skipped, not a unique violation: the rule is decided before
    the event counter serialises writers (see sync_incident_alerts), so an incident reopened while its area is
    redrawn can be decided by both. ON CONFLICT on the partial unique index (one active alert per pair) waits
    for the other transaction and then skips the pair; Django's bulk_create cannot name a partial index.
    """
    if not alerts:
        return []
    now = timezone.now()
    values = ", ".join(["(%s, %s, %s)"] * len(alerts))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Alert._meta.db_table} (incident_id, area_id, created_at) VALUES {values} "
            "ON CONFLICT (incident_id, area_id) WHERE cleared_at IS NULL DO NOTHING RETURNING id, incident_id, area_id",
            [value for alert in alerts for value in (alert.incident_id, alert.area_id, now)],
        )
        inserted = {(incident_id, area_id): pk for pk, incident_id, area_id in cursor.fetchall()}
    raised = []
    for alert in alerts:
        alert.pk = inserted.get((alert.incident_id, alert.area_id))
        if alert.pk is not None:
            alert.created_at = now
            raised.append(alert)
    return raised


def _locked_active(alerts: QuerySet[Alert]) -> QuerySet[Alert]:
    """Return the active alerts among `alerts`, row-locked in id order (the order keeps two lockers of
    overlapping sets, an incident's alerts and an area's, from waiting on each other)."""
    return alerts.filter(cleared_at__isnull=True).order_by("pk").select_for_update(of=("self",))


def _clear(alerts: list[Alert]) -> list[eventlog.Change]:
    """Mark active alerts cleared (the rule no longer holds), in one UPDATE; return one event per alert."""
    if not alerts:
        return []
    now = timezone.now()
    Alert.objects.filter(pk__in=[alert.pk for alert in alerts]).update(cleared_at=now)
    for alert in alerts:
        alert.cleared_at = now
    return [eventlog.alerts_change(alert.incident, [alert], EventOp.UPDATED) for alert in alerts]


def user_deleting(user: AbstractBaseUser) -> None:
    """Before `user` is deleted (pre_delete, inside the deletion's transaction): detach it from every incident,
    area and alert that names it, and record an event for each changed feature.

    Django's SET_NULL runs as a plain UPDATE with no event, so it is done here instead (Django's own update
    then matches no row): reporter, owner and acknowledged_by become null, incidents and areas get a new
    `updated_at` (clients keep a feature only if it is newer than theirs), and the events commit with the
    delete. The user row is locked first, so no other transaction can point a row at it until the delete
    commits (a foreign key check needs a share lock on the row it references).
    """
    type(user).objects.select_for_update().filter(pk=user.pk).values_list("pk").first()
    incident_ids = list(Incident.objects.filter(reporter=user).values_list("pk", flat=True))
    area_ids = list(AreaOfInterest.objects.filter(owner=user).values_list("pk", flat=True))
    alert_ids = list(Alert.objects.filter(acknowledged_by=user).values_list("pk", flat=True))
    now = timezone.now()
    # _base_manager: a plain UPDATE (not LiveQuerySet's per-row save path); the events are recorded below, in bulk.
    Incident._base_manager.filter(pk__in=incident_ids).update(reporter=None, updated_at=now)
    AreaOfInterest._base_manager.filter(pk__in=area_ids).update(owner=None, updated_at=now)
    Alert.objects.filter(pk__in=alert_ids).update(acknowledged_by=None)
    _record_user_features(incident_ids, area_ids, alert_ids)


def user_renamed(user: AbstractBaseUser) -> None:
    """After `user`'s username changed: record an event for every incident, area and alert that shows it.

    Incidents and areas get a new `updated_at`, since what they show changed (clients keep a feature only if
    it is newer than theirs). Call it in the transaction of the rename where there is one.
    """
    with transaction.atomic(savepoint=False):
        now = timezone.now()
        # _base_manager: plain UPDATEs, as in user_deleting.
        incidents = Incident._base_manager.filter(reporter=user)
        areas = AreaOfInterest._base_manager.filter(owner=user)
        incidents.update(updated_at=now)
        areas.update(updated_at=now)
        _record_user_features(
            list(incidents.values_list("pk", flat=True)),
            list(areas.values_list("pk", flat=True)),
            list(Alert.objects.filter(acknowledged_by=user).values_list("pk", flat=True)),
        )


def _record_user_features(incident_ids: list[int], area_ids: list[int], alert_ids: list[int]) -> None:
    """Record an `updated` event for each of these incidents and areas as they now are, and one `alert`
    event per incident for these alerts, in as few statements as the counts allow."""
    incidents = Incident.objects.filter(pk__in=incident_ids).select_related("reporter").order_by("pk")
    areas = AreaOfInterest.objects.filter(pk__in=area_ids).select_related("owner").order_by("pk")
    by_incident: dict[int, list[Alert]] = {}
    alerts = Alert.objects.filter(pk__in=alert_ids).select_related("incident__reporter", "area", "acknowledged_by")
    for alert in alerts.order_by("incident_id", "pk"):
        by_incident.setdefault(alert.incident_id, []).append(alert)
    eventlog.record_many(
        [
            *(eventlog.incident_change(incident, EventOp.UPDATED) for incident in incidents),
            *(eventlog.area_change(area, EventOp.UPDATED) for area in areas),
            *(eventlog.alerts_change(group[0].incident, group, EventOp.UPDATED) for group in by_incident.values()),
        ]
    )
