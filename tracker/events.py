"""The event log and its broadcast: the only module that publishes to the `notifications` group.

`record()` writes an Event row in the caller's transaction and schedules its broadcast with
`transaction.on_commit`, so a rolled-back change is never pushed and a pushed event is always in the log.
The broadcast carries the envelope already serialised to JSON text: it is encoded once per event, not once
per socket.
"""

import asyncio
import json
import logging
from collections.abc import Iterable
from datetime import datetime
from functools import cache

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from tracker import selectors
from tracker.api.serializers import AreaSerializer, IncidentSerializer
from tracker.logs import log_event_pushed
from tracker.models import Alert, AreaOfInterest, Event, EventOp, EventType, Incident

logger = logging.getLogger(__name__)

GROUP = "notifications"
# The channel-layer message type (every layer message needs one); tracker.stream receives it, once per process.
PUSH_MESSAGE_TYPE = "event.push"


def incident_feature(incident: Incident) -> dict:
    """Return the incident as the REST API's GeoJSON Feature."""
    return IncidentSerializer(incident).data


def area_feature(area: AreaOfInterest) -> dict:
    """Return the area as the REST API's GeoJSON Feature."""
    return AreaSerializer(area).data


def alert_summary(alert: Alert) -> dict:
    """Return the per-alert part of an alert envelope: the alert's id and state and the area it fell in."""
    return {
        "id": alert.pk,
        "area": {"id": alert.area_id, "name": alert.area.name, "threshold": alert.area.get_threshold_display()},
        "created_at": alert.created_at,
        "acknowledged_at": alert.acknowledged_at,
        "acknowledged_by": alert.acknowledged_by.username if alert.acknowledged_by else None,
        "cleared_at": alert.cleared_at,
    }


def encode(envelope: dict) -> str:
    """Return the compact JSON text of an envelope (datetimes as ISO 8601)."""
    return json.dumps(envelope, cls=DjangoJSONEncoder, separators=(",", ":"))


def _next_event_id() -> int:
    """Return the next event id, holding the counter's row lock until the current transaction ends.

    Holding the lock to commit is what makes ids commit-ordered and gap-free (see Event). The upsert also
    recreates the row after a table flush.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tracker_eventcounter (id, last_id) VALUES (1, 1) "
            "ON CONFLICT (id) DO UPDATE SET last_id = tracker_eventcounter.last_id + 1 "
            "RETURNING last_id"
        )
        return cursor.fetchone()[0]


def record(event_type: str, op: str, feature: dict, **extra) -> Event:
    """Append an event to the log and broadcast it after the transaction commits.

    Returns the saved Event. Must be called inside the transaction that makes the change it describes
    (it opens one if there is none), so the event exists if and only if the change does.
    """
    with transaction.atomic(savepoint=False):
        event_id = _next_event_id()
        now = timezone.now()
        envelope = {"id": event_id, "type": event_type, "op": op, "at": now, "feature": feature, **extra}
        text = encode(envelope)
        event = Event.objects.create(id=event_id, type=event_type, op=op, created_at=now, envelope=json.loads(text))
        transaction.on_commit(lambda: publish(event_id, text))
    return event


def record_incident(incident: Incident, op: str) -> Event:
    """Log and broadcast an incident change; for a delete, `incident` still holds its last state."""
    return record(EventType.INCIDENT, op, incident_feature(incident))


def record_area(area: AreaOfInterest, op: str) -> Event:
    """Log and broadcast an area change; for a delete, `area` still holds its last geometry."""
    return record(EventType.AREA, op, area_feature(area))


def record_alerts(incident: Incident, alerts: Iterable[Alert], op: str, *, feature: dict | None = None) -> Event:
    """Log and broadcast alerts of one incident: the incident feature (`feature` if given, else serialised
    now) and each alert with its area."""
    feature = incident_feature(incident) if feature is None else feature
    return record(EventType.ALERT, op, feature, alerts=[alert_summary(a) for a in alerts])


async def _group_send(message: dict) -> None:
    # Bounded: the caller is a request that has already committed; a hung Redis must not hold it.
    await asyncio.wait_for(
        get_channel_layer().group_send(GROUP, message), settings.TRACKER["PUBLISH_TIMEOUT_SECONDS"]
    )


@cache
def _publisher() -> redis.Redis:
    """Return the synchronous Redis client used to publish (thread-safe; one connection pool per process)."""
    timeout = settings.TRACKER["PUBLISH_TIMEOUT_SECONDS"]
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=timeout, socket_timeout=timeout)


def _send(message: dict) -> int | None:
    """Send `message` to the group; return how many server processes received it, None if not known.

    With RedisPubSubChannelLayer (the default) a group is one Redis channel, `<prefix>__group__<group>`, and a
    group send is one PUBLISH of the layer's serialisation; doing that PUBLISH here, synchronously, spares
    the committing thread an event loop round trip per event (a new loop and connection in a shell or
    script, a hop onto the busy server loop in a request), and PUBLISH answers the recipients count. Other
    layers go through group_send. (Written against channels-redis 4.3, pinned; the live-stream tests would
    fail if the channel naming changed.)
    """
    layer = get_channel_layer()
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    if isinstance(layer, RedisPubSubChannelLayer) and len(config["hosts"]) == 1:
        channel = f"{config.get('prefix', 'asgi')}__group__{GROUP}"
        return _publisher().publish(channel, layer.serialize(message))
    async_to_sync(_group_send)(message)
    return None


def publish(event_id: int, text: str) -> None:
    """Send an event's JSON text to every server process subscribed to the group, waiting at most
    PUBLISH_TIMEOUT_SECONDS; never raises.

    A failed publish (Redis down) loses nothing: the event is in the log, and sockets get it from there when
    the next event shows them the gap or, at the latest, on their process's next catch-up tick
    (tracker.stream).
    """
    try:
        recipients = _send({"type": PUSH_MESSAGE_TYPE, "id": event_id, "text": text})
    except Exception as error:
        # A warning, not a traceback per event: during a Redis outage every write lands here.
        logger.warning("could not publish event %s (%r); sockets will get it from the log", event_id, error)
    else:
        log_event_pushed(event_id, GROUP, recipients)


def prune(before: datetime) -> int:
    """Delete the events created before `before` and return how many were deleted.

    Deletes a prefix of the log (every id up to the newest old-enough one), so what is left stays a gap-free
    run of ids and a resume position is either fully replayable or older than the oldest event (resync).
    The newest event is always kept, so `last_event_id` never goes back.
    """
    newest = selectors.last_event_id()
    cutoff = Event.objects.filter(created_at__lt=before, id__lt=newest).aggregate(cutoff=Max("id"))["cutoff"]
    if cutoff is None:
        return 0
    deleted, _ = Event.objects.filter(id__lte=cutoff).delete()
    return deleted
