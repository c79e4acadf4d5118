"""Reads of the event log: where it ends, and what a client resuming after an event id is owed.

The resume rule (replay, or resync because the position was pruned, is too far behind or is ahead of the
log) is `resume_from`, written once: the WebSocket's `replay_plan` and the REST event log both decide by it.
"""

from typing import NamedTuple

from django.conf import settings
from django.db.models import Max, Min

from tracker.models import Event


def last_event_id() -> int:
    """Return the id of the newest committed event, 0 when the log is empty."""
    return Event.objects.aggregate(last=Max("id"))["last"] or 0


def oldest_event_id() -> int | None:
    """Return the id of the oldest event still in the log, None when the log is empty."""
    return Event.objects.aggregate(first=Min("id"))["first"]


class Resume(NamedTuple):
    """Where a client that saw every event up to a position stands: `last` is the newest event id; `resync`
    is True when the log cannot bring it up to date and it must refetch the current state over REST."""

    last: int
    resync: bool


def resume_from(after: int, *, limit: int | None = None) -> Resume:
    """Return the resume decision for a client that saw every event up to `after` (the one rule for the
    WebSocket and the REST event log). It must resync when `after`:
    - was pruned from the log (events after it are no longer all there: it is below the oldest kept id - 1),
    - is more than `limit` events behind (one far-behind client must not make the server stream the whole
      log; None: settings.TRACKER["REPLAY_LIMIT"]), or
    - is ahead of the log (the client's state comes from another history, e.g. a database restored from a
      backup): its position means nothing here.
    A client at the head (`after == last`) never resyncs."""
    limit = settings.TRACKER["REPLAY_LIMIT"] if limit is None else limit
    last = last_event_id()
    if after == last:
        return Resume(last, False)
    oldest = oldest_event_id()
    return Resume(last, oldest is None or after > last or after < oldest - 1 or last - after > limit)


class ReplayPlan(NamedTuple):
    """What a socket resuming after an event id is sent before the live stream: `last` is the newest event id;
    `envelopes` the events after its position up to `last`, or None when it must resync over REST instead."""

    last: int
    envelopes: list[dict] | None


def replay_plan(after: int | None, *, limit: int | None = None) -> ReplayPlan:
    """Return the replay for a socket that saw every event up to `after` (None: a fresh client, nothing to
    replay): envelopes None (resync) or every event after it, as `resume_from` decides."""
    if after is None:
        return ReplayPlan(last_event_id(), [])
    position = resume_from(after, limit=limit)
    if position.resync:
        return ReplayPlan(position.last, None)
    return ReplayPlan(position.last, events_after(after, upto=position.last))


def events_after(after: int, *, upto: int | None = None, limit: int | None = None) -> list[dict]:
    """Return the envelopes of events with after < id <= upto (no upper bound if None), in id order."""
    queryset = Event.objects.filter(id__gt=after)
    if upto is not None:
        queryset = queryset.filter(id__lte=upto)
    queryset = queryset.order_by("id").values_list("envelope", flat=True)
    if limit is not None:
        queryset = queryset[:limit]
    return list(queryset)
