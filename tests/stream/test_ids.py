"""Event ids are assigned in one statement right before COMMIT (tracker.stream.ids): in commit order and
gap-free, never for a rolled-back savepoint or a failed commit, and without holding the counter's lock
through the transaction's work.

Transactional tests (real commits, threads with connections of their own): inside a test case's transaction
the ids are assigned at record time instead (tracker.stream.eventlog.record_many).
"""

import json
import logging
import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction

from tests.factories import IncidentFactory, UserFactory
from tracker.models import Event, EventCounter, Incident
from tracker.stream import eventlog, ids

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 10  # seconds a thread waits for its turn before the test gives up on it


@pytest.fixture
def published(monkeypatch) -> list[tuple[int, str]]:
    """The (id, text) pairs handed to publish after each commit, in the order published."""
    sent: list[tuple[int, str]] = []
    monkeypatch.setattr(eventlog, "publish", sent.extend)
    return sent


def in_thread(work) -> threading.Thread:
    """Start `work` in a thread with a database connection of its own (closed when it ends)."""

    def run():
        try:
            work()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def names_by_id() -> list[tuple[int, str]]:
    return [(event.id, event.envelope["feature"]["properties"]["name"]) for event in Event.objects.order_by("id")]


def test_ids_follow_the_commit_order_not_the_record_order(published):
    """Four writers record in the order 0, 1, 2, 3 and commit in the order 3, 2, 1, 0: the ids are 3, 2, 1, 0's,
    consecutive, and each is published with the text of its stored envelope."""
    count = 4
    recorded = [threading.Event() for _ in range(count)]
    committed = [threading.Event() for _ in range(count)]
    errors = []

    def writer(number):
        def work():
            try:
                if number > 0:
                    assert recorded[number - 1].wait(WAIT)
                with transaction.atomic():
                    IncidentFactory(name=f"writer {number}")
                    recorded[number].set()
                    if number < count - 1:
                        assert committed[number + 1].wait(WAIT), "a later writer could not commit"
                committed[number].set()
            except BaseException as error:  # noqa: BLE001  (reported by the test)
                errors.append(error)
                recorded[number].set()
                committed[number].set()

        return work

    threads = [in_thread(writer(number)) for number in range(count)]
    for thread in threads:
        thread.join(3 * WAIT)
    assert not errors, errors
    events = names_by_id()
    first = events[0][0]
    assert events == [(first + offset, f"writer {count - 1 - offset}") for offset in range(count)]
    assert EventCounter.objects.get().last_id == first + count - 1
    stored = {event.id: event.envelope for event in Event.objects.all()}
    assert [event_id for event_id, _ in published] == [event_id for event_id, _ in events]
    assert all(json.loads(text) == stored[event_id] for event_id, text in published)


def test_the_counter_lock_is_not_held_while_a_transaction_works():
    """A transaction that recorded events and is still open does not hold the counter: another write assigns
    its ids and commits meanwhile (with a lock timeout, so a held lock fails the test instead of hanging)."""
    recorded, release = threading.Event(), threading.Event()

    def open_writer():
        with transaction.atomic():
            IncidentFactory(name="still open")
            recorded.set()
            release.wait(WAIT)

    thread = in_thread(open_writer)
    try:
        assert recorded.wait(WAIT)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            IncidentFactory(name="committed first")
        assert names_by_id()[-1][1] == "committed first"
    finally:
        release.set()
        thread.join(WAIT)
    (first, a), (second, b) = names_by_id()[-2:]
    assert (a, b) == ("committed first", "still open") and second == first + 1


def test_a_rolled_back_savepoint_logs_and_publishes_nothing(published):
    with transaction.atomic():
        IncidentFactory(name="kept")
        with pytest.raises(RuntimeError), transaction.atomic():
            IncidentFactory(name="dropped")
            raise RuntimeError("roll back the savepoint")
        IncidentFactory(name="kept too")
    events = names_by_id()
    assert [name for _, name in events] == ["kept", "kept too"]
    assert events[1][0] == events[0][0] + 1 == EventCounter.objects.get().last_id
    assert [event_id for event_id, _ in published] == [event_id for event_id, _ in events]


def test_a_failed_commit_logs_publishes_and_numbers_nothing(published):
    """The commit itself fails (a deferred foreign key check: the reporter was deleted meanwhile), after the
    ids were assigned: the transaction rolls back whole, and the next write gets the next id."""
    IncidentFactory(name="before")
    before = EventCounter.objects.get().last_id
    gone = UserFactory()
    get_user_model().objects.filter(pk=gone.pk).delete()
    with pytest.raises(IntegrityError):
        IncidentFactory(name="reporter gone", reporter=gone)
    assert not Incident.objects.filter(name="reporter gone").exists()
    assert EventCounter.objects.get().last_id == before
    IncidentFactory(name="after")
    assert names_by_id()[-2:] == [(before, "before"), (before + 1, "after")]
    assert [event_id for event_id, _ in published] == [before, before + 1]


def test_each_assignment_logs_its_ids_and_lock_hold_time(caplog):
    caplog.set_level(logging.DEBUG, logger="tracker.stream.ids")
    with transaction.atomic():
        IncidentFactory()
        IncidentFactory()
    (record,) = [record for record in caplog.records if record.name == "tracker.stream.ids"]
    assert record.first_id == Event.objects.order_by("id").first().id
    assert record.count == 2
    assert isinstance(record.lock_hold_ms, float) and 0 <= record.lock_hold_ms < 1000


def test_a_transaction_of_many_saves_is_published_once_in_id_order(monkeypatch):
    """Three saves in one transaction: one publish after the commit with all their events in id order (one
    PUBLISH pipeline, not one per save)."""
    calls: list[list[tuple[int, str]]] = []
    monkeypatch.setattr(eventlog, "publish", calls.append)
    with transaction.atomic():
        for number in range(3):
            IncidentFactory(name=f"save {number}")
        assert calls == []
    assert len(calls) == 1
    assert [event_id for event_id, _text in calls[0]] == [event_id for event_id, _name in names_by_id()]
    assert [json.loads(text)["feature"]["properties"]["name"] for _id, text in calls[0]] == [
        f"save {number}" for number in range(3)
    ]


def test_a_value_holding_the_column_separator_is_logged_as_it_is(published):
    """The columns of the numbering statement are joined by ids.SEPARATOR: a name that holds that character is
    logged and published intact (JSON text escapes it)."""
    name = f"north{ids.SEPARATOR}gate"
    IncidentFactory(name=name)
    (event,) = Event.objects.all()
    assert event.envelope["feature"]["properties"]["name"] == name
    assert [json.loads(text)["feature"]["properties"]["name"] for _id, text in published] == [name]
