"""End to end in headless Chromium: a surge of events committed in one transaction reaches an open dashboard whole,
applied once each and in order, in batches (correctness, not speed: bench/surge.py times it)."""

import pytest
from django.contrib.gis.geos import Point
from django.db import transaction

from tests.factories import UserFactory
from tracker import services
from tracker.models import Event, Severity
from tracker.stream import replay

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SURGE = 500
# The dashboard's "Newest incidents" panel length.
NEWEST = 50
CENTRE = (-58.3816, -34.6037)

# Wraps the socket's per-event and per-batch callbacks (looked up at each call) to record what the dashboard applies.
RECORD_APPLIED = """() => {
  const socket = trackerDebug.socket;
  const record = { applied: [], batches: 0 };
  const onEnvelope = socket.onEnvelope;
  const onBatch = socket.onBatch;
  socket.onEnvelope = (envelope) => { record.applied.push(envelope.id); onEnvelope(envelope); };
  socket.onBatch = (count) => { record.batches += 1; onBatch(count); };
  window.surge = record;
}"""

SHOWN = """(ids) => {
  const { state, layers, socket } = trackerDebug;
  const incidents = layers.incidents;
  return {
    applied: window.surge.applied,
    batches: window.surge.batches,
    lastEventId: socket.lastEventId,
    stored: ids.filter((id) => state.incidents.has(id)).length,
    drawn: ids.filter((id) => incidents.group.hasLayer(incidents.markers.get(id))).length,
    names: ids.map((id) => state.incidents.get(id)?.properties.name),
    panel: [...document.querySelectorAll('#incidents-panel li[data-incident-id]')].map((li) => Number(li.dataset.incidentId)),
  };
}"""


def test_a_surge_committed_in_one_transaction_is_applied_whole_in_order_and_drawn(browsers):
    page = browsers.dashboard(UserFactory(), incidents=0)
    page.evaluate(RECORD_APPLIED)
    before = replay.last_event_id()

    with transaction.atomic():
        created = [
            services.incident_report(
                name=f"Surge {n:03d}",
                location=Point(CENTRE[0] + (n % 25 - 12) * 0.004, CENTRE[1] + (n // 25 - 10) * 0.003, srid=4326),
                severity=Severity.HIGH,
            )
            for n in range(SURGE)
        ]
    events = list(Event.objects.filter(id__gt=before).order_by("id").values_list("id", flat=True))
    assert len(events) == SURGE

    page.wait_for_function("(n) => window.surge.applied.length >= n", arg=SURGE, timeout=30_000)
    # The panels of the last batch are rendered in its frame; one more frame for anything scheduled after it.
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
    ids = [incident.pk for incident in created]
    shown = page.evaluate(SHOWN, ids)

    # Every event once, in id order, and the resume position is the last of them.
    assert shown["applied"] == events
    assert shown["lastEventId"] == events[-1]
    # Applied in batches: fewer than one per event (the burst arrives faster than the frames), at least one.
    assert 1 <= shown["batches"] < SURGE, shown["batches"]
    assert shown["stored"] == SURGE and shown["drawn"] == SURGE
    assert shown["names"] == [incident.name for incident in created]
    # The panel lists the newest 50, newest first (one transaction: equal times, then the higher id).
    assert shown["panel"] == ids[::-1][:NEWEST]
    browsers.assert_clean()
