"""What a client holds: a REST snapshot of incidents, areas and alerts, then every pushed envelope applied with the
merge rules of the browser's store (frontend/src/state.js), so the Python contract test and the Vitest replay
hold the server to the same contract.

The store keeps every alert, in every state (the browser keeps the open ones; frontend/tests/contract.test.js
checks those): an alert envelope carries each alert's state, so a client can hold all of them.
"""

import copy
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

ALERT_FIELDS = (
    "id", "incident", "incident_name", "area", "area_name", "severity",
    "created_at", "cleared_at", "acknowledged_at", "acknowledged_by",
)  # fmt: skip


def _micros(text: str | None) -> int | None:
    """Return an ISO 8601 time in microseconds since the epoch, as state.js's timeMicros."""
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return (moment - EPOCH) // timedelta(microseconds=1) if moment.tzinfo else None


def normalize_alert(pushed: dict, incident: dict) -> dict:
    """Return an alert of an `alert` envelope in the REST shape (state.js's normalizeAlert, plus cleared_at)."""
    return {
        "id": pushed["id"],
        "incident": incident["id"],
        "incident_name": incident["properties"]["name"],
        "area": pushed["area"]["id"],
        "area_name": pushed["area"]["name"],
        "severity": incident["properties"]["severity"],
        "created_at": pushed["created_at"],
        "cleared_at": pushed.get("cleared_at"),
        "acknowledged_at": pushed.get("acknowledged_at"),
        "acknowledged_by": pushed.get("acknowledged_by"),
    }


class ClientState:
    """Incidents and areas (GeoJSON Features) and alerts (REST shape), each by id."""

    def __init__(self, snapshot: dict):
        snapshot = copy.deepcopy(snapshot)  # the store changes its items; the caller's snapshot stays as taken
        self.incidents = {f["id"]: f for f in snapshot["incidents"]}
        self.areas = {f["id"]: f for f in snapshot["areas"]}
        self.alerts = {a["id"]: a for a in snapshot["alerts"]}
        self.gone = {"incident": set(), "area": set()}
        self.last_event_id = snapshot["last_event_id"]

    def as_snapshot(self) -> dict:
        """Return the state in the shape of tests.contract.test_contract.rest_snapshot(), sorted by id."""
        return {
            "incidents": [self.incidents[k] for k in sorted(self.incidents)],
            "areas": [self.areas[k] for k in sorted(self.areas)],
            "alerts": [self.alerts[k] for k in sorted(self.alerts)],
        }

    def apply(self, envelope: dict) -> None:
        """Apply one envelope; it must be the next one (each event once, in id order)."""
        assert envelope["id"] == self.last_event_id + 1, (
            f"expected event {self.last_event_id + 1}, got {envelope['id']}"
        )
        self.last_event_id = envelope["id"]
        kind, op, feature = envelope["type"], envelope["op"], envelope["feature"]
        if kind in ("incident", "area"):
            self._feature(kind, op, feature)
            return
        assert kind == "alert", envelope
        self._feature("incident", "updated", feature)
        for pushed in envelope["alerts"]:
            if op == "deleted":  # deleted by itself (the admin): gone in whatever state it was
                self.alerts.pop(pushed["id"], None)
            else:
                self.alerts[pushed["id"]] = normalize_alert(pushed, feature)

    def _feature(self, kind: str, op: str, feature: dict) -> None:
        items = self.incidents if kind == "incident" else self.areas
        if op == "deleted":
            # The database cascades the alerts away without events of their own (as state.js's removeItem).
            self.gone[kind].add(feature["id"])
            items.pop(feature["id"], None)
            for alert_id in [a["id"] for a in self.alerts.values() if a[kind] == feature["id"]]:
                del self.alerts[alert_id]
            return
        if feature["id"] in self.gone[kind]:
            return
        stored = items.get(feature["id"])
        if stored is not None and not self._fresher(feature, stored):
            return
        items[feature["id"]] = feature
        # The alerts of the list show their incident's name and severity and their area's name.
        for alert in self.alerts.values():
            if alert[kind] == feature["id"]:
                if kind == "incident":
                    alert["incident_name"] = feature["properties"]["name"]
                    alert["severity"] = feature["properties"]["severity"]
                else:
                    alert["area_name"] = feature["properties"]["name"]

    @staticmethod
    def _fresher(incoming: dict, stored: dict) -> bool:
        """state.js's isFresher: strictly newer updated_at, to the microsecond."""
        new, old = _micros(incoming["properties"]["updated_at"]), _micros(stored["properties"]["updated_at"])
        return new is None or old is None or new > old
