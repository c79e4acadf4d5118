"""Publishing after commit: the only code that sends to the `notifications` group."""

import asyncio
import logging
from functools import cache

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings

from tracker.ops.logs import log_event_pushed

logger = logging.getLogger(__name__)

GROUP = "notifications"
# The channel-layer message type (every layer message needs one); tracker.stream.fanout receives it, once per
# process.
PUSH_MESSAGE_TYPE = "event.push"


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


def _send(messages: list[dict]) -> list[int | None]:
    """Send `messages` to the group in order; return how many server processes received each, None if not
    known.

    With RedisPubSubChannelLayer (the default) a group is one Redis channel, `<prefix>__group__<group>`, and a
    group send is one PUBLISH of the layer's serialisation; doing the PUBLISHes here, synchronously and in one
    pipeline (one round trip however many events a change logged: an area over thousands of incidents logs
    one alert event each), spares the committing thread an event loop round trip per event (a new loop and
    connection in a shell or script, a hop onto the busy server loop in a request), and PUBLISH answers the
    recipients count. Other layers go through group_send. (Written against channels-redis 4.3, pinned; the
    live-stream tests would fail if the channel naming changed.)
    """
    layer = get_channel_layer()
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    if isinstance(layer, RedisPubSubChannelLayer) and len(config["hosts"]) == 1:
        channel = f"{config.get('prefix', 'asgi')}__group__{GROUP}"
        pipeline = _publisher().pipeline(transaction=False)
        for message in messages:
            pipeline.publish(channel, layer.serialize(message))
        return pipeline.execute()
    for message in messages:
        async_to_sync(_group_send)(message)
    return [None] * len(messages)


def publish(events: list[tuple[int, str]]) -> None:
    """Send events, (id, JSON text) in id order, to every server process subscribed to the group, waiting at
    most PUBLISH_TIMEOUT_SECONDS; never raises.

    A failed publish (Redis down) loses nothing: the events are in the log, and sockets get them from there
    when the next event shows them the gap or, at the latest, on their process's next catch-up tick
    (tracker.stream.fanout).
    """
    try:
        recipients = _send([{"type": PUSH_MESSAGE_TYPE, "id": event_id, "text": text} for event_id, text in events])
    except Exception as error:
        # A warning, not a traceback per event: during a Redis outage every write lands here.
        ids = f"{events[0][0]}" if len(events) == 1 else f"{events[0][0]}-{events[-1][0]}"
        logger.warning("could not publish event %s (%r); sockets will get it from the log", ids, error)
    else:
        for (event_id, _text), count in zip(events, recipients):
            log_event_pushed(event_id, GROUP, count)
