"""The event log: every change becomes an Event row in the transaction that makes it.

`record_many()` encodes the events at once and leaves them, without ids, in the transaction's on-commit list;
right before the COMMIT they get their ids and their rows, all of the transaction's in one statement
(tracker.stream.ids), and after it they are broadcast (tracker.stream.publish). So a rolled-back change (or
savepoint) is never logged nor pushed, a pushed event is always in the log, and the event counter's lock is
held for the final statement and the commit only. The broadcast carries the envelope already serialised to JSON
text: it is encoded once per event, not once per socket.
"""

import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from tracker.features import alert_summary, area_feature, incident_feature, keep_logged
from tracker.stream import ids, replay
from tracker.stream.publish import publish
from tracker.models import Alert, AreaOfInterest, Event, EventType, Incident

# One event to record: (type, op, feature, extra envelope members).
Change = tuple[str, str, dict, dict]


def encode(envelope: dict) -> str:
    """Return the compact JSON text of an envelope (datetimes as ISO 8601)."""
    return json.dumps(envelope, cls=DjangoJSONEncoder, separators=(",", ":"))


def record_many(changes: Sequence[Change]) -> None:
    """Log one event per (type, op, feature, extra members), in that order, with the transaction's commit, and
    broadcast them in id order after it.

    Must be called inside the transaction that makes the changes (it opens one if there is none), so the
    events exist if and only if the changes do. Their ids are not known before the commit: they are assigned,
    and the Event rows inserted, right before it (tracker.stream.ids). Set-based: however many events a
    transaction records, one statement logs them all.

    Inside a test case's transaction (Django's TestCase, pytest-django's `db`), which is rolled back and never
    commits, the ids are assigned and the rows inserted here instead, so that such tests can read them;
    transactional tests (transactional_db, the live servers, tests/contract) take the commit path.
    """
    if not changes:
        return
    now = timezone.now()
    # The envelope's text without its id (prepended once known) and without the opening brace (see ids.Row).
    rows = [
        (event_type, op, now, encode({"type": event_type, "op": op, "at": now, "feature": feature, **extra})[1:])
        for event_type, op, feature, extra in changes
    ]
    # `publish` looked up now: tests replace the module's to lose a broadcast.
    pending = ids.PendingEvents(rows, publish)
    with transaction.atomic(savepoint=False):
        transaction.on_commit(pending)
        if connection.atomic_blocks[0]._from_testcase:
            ids.assign(connection, [pending])


def incident_change(incident: Incident, op: str) -> Change:
    """Return the event of an incident change; for a delete, `incident` still holds its last state. The
    feature is kept on the instance for the response to the write (features.keep_logged)."""
    return EventType.INCIDENT, op, keep_logged(incident, incident_feature(incident)), {}


def area_change(area: AreaOfInterest, op: str) -> Change:
    """Return the event of an area change; for a delete, `area` still holds its last geometry. The feature is
    kept on the instance for the response to the write (features.keep_logged)."""
    return EventType.AREA, op, keep_logged(area, area_feature(area)), {}


def alerts_change(incident: Incident, alerts: Iterable[Alert], op: str, *, feature: dict | None = None) -> Change:
    """Return the event of alerts of one incident: the incident feature (`feature` if given, else serialised
    now) and each alert with its area."""
    feature = incident_feature(incident) if feature is None else feature
    return EventType.ALERT, op, feature, {"alerts": [alert_summary(a) for a in alerts]}


def record_incident(incident: Incident, op: str) -> None:
    """Log and broadcast an incident change (see incident_change, record_many)."""
    record_many([incident_change(incident, op)])


def record_area(area: AreaOfInterest, op: str) -> None:
    """Log and broadcast an area change (see area_change, record_many)."""
    record_many([area_change(area, op)])


def record_alerts(incident: Incident, alerts: Iterable[Alert], op: str, *, feature: dict | None = None) -> None:
    """Log and broadcast alerts of one incident (see alerts_change, record_many)."""
    record_many([alerts_change(incident, alerts, op, feature=feature)])


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
