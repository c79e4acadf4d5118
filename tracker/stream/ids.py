"""Event ids, assigned as late as possible: all of a transaction's events get theirs in one statement sent
with its COMMIT (tracker.stream.dbbackend), so the counter's row lock is held for that statement and the
commit only, not for the transaction's work.

The guarantee is unchanged: ids are gap-free and become visible in id order ("saw N means saw everything up to
N"). A transaction takes the EventCounter row lock in the statement that numbers and inserts its events and
keeps it until its COMMIT ends; the next transaction's numbering waits for it, so a later id always commits
later, and a transaction that rolls back takes its counter increment with it.

Events waiting for their ids are `PendingEvents` objects in Django's own on-commit list of the connection
(`connection.run_on_commit`): Django drops those of a rolled-back savepoint, and after the commit the same
object publishes its events with the ids it was given. Everything that can fail in Python (the JSON encoding)
happens when the events are recorded; inside commit() only database errors can happen, the only errors on
which Django's atomic block rolls back.

No model imports: the database backend imports this module, possibly before the apps are loaded.
"""

import logging
from collections.abc import Callable, Iterable
from datetime import datetime

logger = logging.getLogger(__name__)

# One row per event, in the order recorded: (type, op, created_at, the envelope's JSON text without its
# leading "{" and without the "id" member, which is prepended when the id is known).
Row = tuple[str, str, datetime, str]
# Joins the values of a column into one parameter (chr(30) in ASSIGN_SQL): ASCII's record separator, which no
# value holds (JSON text escapes control characters; types, ops and ISO times have none).
SEPARATOR = "\x1e"

# Numbers and inserts every pending event of the transaction at once, and answers the first id and the server's
# time once the counter's row lock is held (clock_timestamp() in the upsert's RETURNING, which runs after the
# lock is taken). The upsert also recreates the counter's row after a table flush. Data-modifying CTEs always
# run to completion, so `logged` inserts though nothing reads it.
ASSIGN_SQL = """
WITH counter AS (
    INSERT INTO tracker_eventcounter (id, last_id) VALUES (1, %(count)s)
    ON CONFLICT (id) DO UPDATE SET last_id = tracker_eventcounter.last_id + EXCLUDED.last_id
    RETURNING last_id - %(count)s AS base, clock_timestamp() AS locked_at
), logged AS (
    INSERT INTO tracker_event (id, type, op, created_at, envelope)
    SELECT counter.base + e.n, e.type, e.op, e.created_at, ('{"id":' || (counter.base + e.n) || ',' || e.body)::jsonb
    FROM counter, unnest(
        string_to_array(%(types)s, chr(30)), string_to_array(%(ops)s, chr(30)),
        string_to_array(%(times)s, chr(30))::timestamptz[], string_to_array(%(bodies)s, chr(30))
    ) WITH ORDINALITY AS e(type, op, created_at, body, n)
)
SELECT base + 1, EXTRACT(EPOCH FROM locked_at)::float8 FROM counter"""

# The numbering, the COMMIT and the server's time after it, sent as one query string (the simple query
# protocol of psycopg's client-side binding cursor, Django's default): the lock is released by the server's
# COMMIT right after the numbering, with no round trip and no wait for this process's GIL in between. An
# error in the numbering abandons the rest of the string (no COMMIT: the caller rolls back); a failed COMMIT
# (a deferred constraint) ends the transaction rolled back. The last SELECT runs after the COMMIT, outside
# the transaction, and only times it (were it to fail, the commit would stand unpublished, and the processes'
# catch-up would deliver its events from the log).
ASSIGN_AND_COMMIT_SQL = ASSIGN_SQL + "; COMMIT; SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8"


def text(event_id: int, body: str) -> str:
    """Return the JSON text of an envelope from its id and its text without the id (see Row)."""
    return f'{{"id":{event_id},{body}'


class PendingEvents:
    """The events of one eventlog.record_many call, in the connection's on-commit list until committed.

    `first_id` is None until the ids are assigned; the events then have first_id, first_id + 1, ... in order.
    Called after the commit (as an on-commit callback), the transaction's first batch hands every event the
    commit numbered, (id, JSON text) in id order, to `publish`, and the others nothing: one PUBLISH pipeline
    per transaction, however many saves it made (a transaction of 2,000 saves is 2,000 batches).
    """

    __slots__ = ("first_id", "group", "publish", "rows")

    def __init__(self, rows: list[Row], publish: Callable[[list[tuple[int, str]]], None]):
        self.rows = rows
        self.publish = publish
        self.first_id: int | None = None
        # The batches numbered with this one, itself first, that it publishes (see _number); empty otherwise.
        self.group: list[PendingEvents] = []

    def __len__(self) -> int:
        return len(self.rows)

    def texts(self) -> list[tuple[int, str]]:
        """Return (id, envelope JSON text) per event; only once the ids are assigned."""
        return [(self.first_id + offset, text(self.first_id + offset, row[3])) for offset, row in enumerate(self.rows)]

    def __call__(self) -> None:
        if self.group:
            self.publish([event for batch in self.group for event in batch.texts()])


def unassigned(run_on_commit: Iterable[tuple]) -> list[PendingEvents]:
    """Return the PendingEvents without ids among a connection's on-commit entries, in the order recorded."""
    return [func for _sids, func, _robust in run_on_commit if isinstance(func, PendingEvents) and func.first_id is None]


def _parameters(pending: list[PendingEvents]) -> dict:
    """Return the statement's parameters: the count, and each column as ONE text of the rows' values joined by
    SEPARATOR (split back into arrays by the server). Client-side binding quotes a Python list element by
    element: for 2,000 events that took 165 ms against 3 ms for the same bodies as one string."""
    rows = [row for batch in pending for row in batch.rows]
    return {
        "count": len(rows),
        "types": SEPARATOR.join(row[0] for row in rows),
        "ops": SEPARATOR.join(row[1] for row in rows),
        "times": SEPARATOR.join(row[2].isoformat() for row in rows),
        "bodies": SEPARATOR.join(row[3] for row in rows),
    }


def _number(pending: list[PendingEvents], first_id: int) -> None:
    """Give the batches their ids from `first_id` on, in order; the first of them publishes them all."""
    pending[0].group = pending
    for batch in pending:
        batch.first_id = first_id
        first_id += len(batch)


def assign(connection, pending: list[PendingEvents]) -> None:
    """Give `pending` the next ids, in order, and insert their Event rows, in one statement on `connection`,
    whose transaction then holds the counter's row lock until it ends. Raises only database errors."""
    with connection.cursor() as cursor:
        cursor.execute(ASSIGN_SQL, _parameters(pending))
        first_id, _locked_at = cursor.fetchone()
    _number(pending, first_id)


def assign_and_commit(connection) -> None:
    """Commit the transaction of `connection` (a Django connection, in a transaction, outside any atomic
    block), its pending events numbered and inserted first, in the same round trip (ASSIGN_AND_COMMIT_SQL).

    Does nothing when there are no pending events (the caller commits as usual). Raises only database errors,
    the COMMIT's included. Logs each assignment on logger "tracker.stream.ids" at DEBUG with `first_id`,
    `count` and `lock_hold_ms`: the server's time from taking the counter's lock to the end of the COMMIT (one
    clock, the database's).
    """
    pending = unassigned(connection.run_on_commit)
    if not pending:
        return
    with connection.cursor() as cursor:
        cursor.execute(ASSIGN_AND_COMMIT_SQL, _parameters(pending))
        first_id, locked_at = cursor.fetchone()
        cursor.nextset()  # COMMIT
        cursor.nextset()
        (committed_at,) = cursor.fetchone()
    _number(pending, first_id)
    if logger.isEnabledFor(logging.DEBUG):
        count = sum(len(batch) for batch in pending)
        held_ms = (committed_at - locked_at) * 1000
        logger.debug(
            "event ids %d-%d assigned; counter lock held %.3f ms",
            first_id, first_id + count - 1, held_ms,
            extra={"first_id": first_id, "count": count, "lock_hold_ms": held_ms},
        )  # fmt: skip
