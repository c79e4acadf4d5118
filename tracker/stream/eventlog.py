"""The event log: every change becomes an Event row in the transaction that makes it.

`record()` writes an Event row in the caller's transaction and schedules its broadcast
(tracker.stream.publish) with `transaction.on_commit`, so a rolled-back change is never pushed and a pushed
event is always in the log. The broadcast carries the envelope already serialised to JSON text: it is
encoded once per event, not once per socket.
"""

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import partial

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from tracker.features import alert_summary, area_feature, incident_feature
from tracker.stream import replay
from tracker.stream.publish import publish
from tracker.models import Alert, AreaOfInterest, Event, EventType, Incident

# One event to record: (type, op, feature, extra envelope members).
Change = tuple[str, str, dict, dict]


def encode(envelope: dict) -> str:
    """Return the compact JSON text of an envelope (datetimes as ISO 8601)."""
    return json.dumps(envelope, cls=DjangoJSONEncoder, separators=(",", ":"))


def _next_event_ids(count: int) -> range:
    """Return the next `count` event ids, holding the counter's row lock until the current transaction ends.

    Holding the lock to commit is what makes ids commit-ordered and gap-free (see Event). The upsert also
    recreates the row after a table flush.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tracker_eventcounter (id, last_id) VALUES (1, %s) "
            "ON CONFLICT (id) DO UPDATE SET last_id = tracker_eventcounter.last_id + EXCLUDED.last_id "
            "RETURNING last_id",
            [count],
        )
        last = cursor.fetchone()[0]
    return range(last - count + 1, last + 1)


def record(event_type: str, op: str, feature: dict, **extra) -> Event:
    """Append an event to the log and broadcast it after the transaction commits.

    Returns the saved Event. Must be called inside the transaction that makes the change it describes
    (it opens one if there is none), so the event exists if and only if the change does.
    """
    return record_many([(event_type, op, feature, extra)])[0]


def record_many(changes: Sequence[Change]) -> list[Event]:
    """Append one event per (type, op, feature, extra members) in that order, and broadcast them in id order
    after the transaction commits; return the saved Events.

    Set-based for a change that touches many features at once (a deleted user's incidents): one counter
    update and one INSERT, whatever the count. The same transaction rule as record() holds.
    """
    if not changes:
        return []
    with transaction.atomic(savepoint=False):
        now = timezone.now()
        events, texts = [], []
        for event_id, (event_type, op, feature, extra) in zip(_next_event_ids(len(changes)), changes):
            envelope = {"id": event_id, "type": event_type, "op": op, "at": now, "feature": feature, **extra}
            text = encode(envelope)
            texts.append((event_id, text))
            events.append(Event(id=event_id, type=event_type, op=op, created_at=now, envelope=json.loads(text)))
        Event.objects.bulk_create(events)
        transaction.on_commit(partial(publish, texts))  # one PUBLISH pipeline for the lot, in id order
    return events


def incident_change(incident: Incident, op: str) -> Change:
    """Return the event of an incident change; for a delete, `incident` still holds its last state."""
    return EventType.INCIDENT, op, incident_feature(incident), {}


def area_change(area: AreaOfInterest, op: str) -> Change:
    """Return the event of an area change; for a delete, `area` still holds its last geometry."""
    return EventType.AREA, op, area_feature(area), {}


def alerts_change(incident: Incident, alerts: Iterable[Alert], op: str, *, feature: dict | None = None) -> Change:
    """Return the event of alerts of one incident: the incident feature (`feature` if given, else serialised
    now) and each alert with its area."""
    feature = incident_feature(incident) if feature is None else feature
    return EventType.ALERT, op, feature, {"alerts": [alert_summary(a) for a in alerts]}


def record_incident(incident: Incident, op: str) -> Event:
    """Log and broadcast an incident change (see incident_change)."""
    return record_many([incident_change(incident, op)])[0]


def record_area(area: AreaOfInterest, op: str) -> Event:
    """Log and broadcast an area change (see area_change)."""
    return record_many([area_change(area, op)])[0]


def record_alerts(incident: Incident, alerts: Iterable[Alert], op: str, *, feature: dict | None = None) -> Event:
    """Log and broadcast alerts of one incident (see alerts_change)."""
    return record_many([alerts_change(incident, alerts, op, feature=feature)])[0]


def prune(before: datetime) -> int:
    """Delete the events created before `before` and return how many were deleted.

    Deletes a prefix of the log (every id up to the newest old-enough one), so what is left stays a gap-free
    run of ids and a resume position is either fully replayable or older than the oldest event (resync).
    The newest event is always kept, so `last_event_id` never goes back.
    """
    newest = replay.last_event_id()
    cutoff = Event.objects.filter(created_at__lt=before, id__lt=newest).aggregate(cutoff=Max("id"))["cutoff"]
    if cutoff is None:
        return 0
    deleted, _ = Event.objects.filter(id__lte=cutoff).delete()
    return deleted
