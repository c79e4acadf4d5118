"""Reads of the event log: where it ends, and what a client resuming after an event id is owed.

The resume rule (replay, or resync because the position was pruned, is too far behind or is ahead of the
log) is `replay_plan`, used by the WebSocket and the REST event log alike.
"""

from typing import NamedTuple

from django.db.models import Max, Min

from tracker.models import Event


def last_event_id() -> int:
    """Return the id of the newest committed event, 0 when the log is empty."""
    return Event.objects.aggregate(last=Max("id"))["last"] or 0


def oldest_event_id() -> int | None:
    """Return the id of the oldest event still in the log, None when the log is empty."""
    return Event.objects.aggregate(first=Min("id"))["first"]


class ReplayPlan(NamedTuple):
    """What a socket resuming after an event id is sent before the live stream: `last` is the newest event id;
    `envelopes` the events after its position up to `last`, or None when it must resync over REST instead."""

    last: int
    envelopes: list[dict] | None


def replay_plan(after: int | None, *, limit: int) -> ReplayPlan:
    """Return the replay for a socket that saw every event up to `after` (None: a fresh client, nothing to
    replay). Its envelopes are None (resync) when `after` was pruned from the log, is more than `limit`
    events behind (one far-behind client must not make the server stream the whole log) or is ahead of the
    log (the client's state comes from another history, e.g. a database restored from a backup)."""
    last = last_event_id()
    if after is None or after == last:
        return ReplayPlan(last, [])
    oldest = oldest_event_id()
    if oldest is None or after > last or after < oldest - 1 or last - after > limit:
        return ReplayPlan(last, None)
    return ReplayPlan(last, events_after(after, upto=last))


def events_after(after: int, *, upto: int | None = None, limit: int | None = None) -> list[dict]:
    """Return the envelopes of events with after < id <= upto (no upper bound if None), in id order."""
    queryset = Event.objects.filter(id__gt=after)
    if upto is not None:
        queryset = queryset.filter(id__lte=upto)
    queryset = queryset.order_by("id").values_list("envelope", flat=True)
    if limit is not None:
        queryset = queryset[:limit]
    return list(queryset)
