"""events/?after=N: the WebSocket's envelopes from the log, in order, in batches, with resync when pruned."""

import pytest

from tests.api.conftest import API, assert_error
from tests.factories import IncidentFactory
from tracker.models import Event
from tracker.stream import replay

pytestmark = pytest.mark.django_db

URL = API + "events/"


def test_replays_the_logged_envelopes_in_id_order_in_batches(api):
    for index in range(5):
        IncidentFactory(name=f"i{index}")
    logged = list(Event.objects.order_by("id").values_list("envelope", flat=True))
    first = api.get(URL, {"after": 0, "limit": 2}).json()
    assert first["results"] == logged[:2]
    assert first["last_event_id"] == logged[1]["id"]
    collected, page = list(first["results"]), first
    while page["next"]:
        page = api.get(page["next"]).json()
        collected += page["results"]
    assert collected == logged
    assert page["last_event_id"] == replay.last_event_id() and page["next"] is None


def test_caught_up_or_ahead_gets_nothing_and_the_head(api):
    IncidentFactory()
    last = replay.last_event_id()
    for after in (last, last + 100):
        body = api.get(URL, {"after": after}).json()
        assert body == {"results": [], "last_event_id": last, "next": None}


def test_an_empty_log(api):
    assert api.get(URL).json() == {"results": [], "last_event_id": 0, "next": None}


def test_pruned_position_answers_410_resync(api):
    for _ in range(3):
        IncidentFactory()
    oldest = replay.oldest_event_id()
    Event.objects.filter(id__lte=oldest + 1).delete()  # as prune_events would
    body = assert_error(api.get(URL, {"after": oldest - 1}), 410)
    assert body["code"] == "resync" and body["last_event_id"] == replay.last_event_id()
    assert api.get(URL, {"after": oldest + 1}).status_code == 200  # the first kept event is next: fine


@pytest.mark.parametrize("params", [{"after": "-1"}, {"after": "x"}, {"after": str(2**63)}, {"limit": "0"},
                                    {"limit": "1001"}])
def test_malformed_parameters(api, params):
    assert_error(api.get(URL, params), 400, next(iter(params)))


def test_needs_a_login(anon):
    assert_error(anon.get(URL), 401)
