"""The contract test (Zulip's verify_action, made model-based): whatever sequence of changes, through whatever write
path, a client that loaded a REST snapshot and applied every pushed envelope holds what a fresh REST snapshot holds.

Hypothesis drives random sequences through every write path: the REST API (incidents created, edited, moved,
closed, reopened and deleted; areas drawn, reshaped, re-thresholded and deleted; alerts acknowledged), the public
report endpoint, the admin's add/change/delete forms (with the Leaflet widget's GeoJSON or WKT), the ORM as a
shell would use it (model save/delete, queryset delete, services) and users deleted, deactivated and renamed.
The client is tests.contract.client.ClientState on a real WebSocket to the real ASGI application; every change
commits for real (transaction=True) and is published through the real Redis.

Each example is also written to test-artifacts/contract/ (initial snapshot, per step the envelopes and the
snapshot after it), which frontend/tests/contract.test.js replays through the browser's own store.
"""

import asyncio
import itertools
import json
import shutil

import pytest
from django.contrib.auth import get_user_model
from django.contrib.gis.geos import Point, Polygon
from django.db import connection
from django.test import Client
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.conftest import Socket
from tests.contract.client import ClientState
from tests.support.processes import ROOT
from tracker import selectors, services
from tracker.models import Alert, AreaOfInterest, Incident, Severity
from tracker.stream import replay

ARTIFACTS = ROOT / "test-artifacts" / "contract"
MAX_RECORDED = 30  # examples written per run: enough to replay, bounded on disk under HYPOTHESIS_PROFILE=long
SEVERITIES = list(Severity.labels)
# The states as the issue defines them, written out again here: the test checks the API's selector against them.
ALERT_STATES = {
    "active": lambda a: a["cleared_at"] is None and a["acknowledged_at"] is None,
    "acknowledged": lambda a: a["cleared_at"] is None and a["acknowledged_at"] is not None,
    "cleared": lambda a: a["cleared_at"] is not None,
}
User = get_user_model()
REPORT_ADDRESSES = itertools.count(1)

# A 4 x 4 degree world on a half-degree grid: points often fall inside areas, and sometimes on their edges.
coordinate = st.integers(0, 8).map(lambda n: n / 2)
point = st.tuples(coordinate, coordinate)
span = st.tuples(st.integers(0, 3), st.integers(1, 4)).map(lambda s: (s[0], min(4, s[0] + s[1])))
square = st.tuples(span, span).map(lambda s: (s[0][0], s[1][0], s[0][1], s[1][1]))
severity = st.sampled_from(SEVERITIES)
name = st.sampled_from(["Fire", "Flood", "Gas leak", "Crash", "Storm", "Fire 2"])
status = st.sampled_from(["open", "closed"])


def point_geojson(xy) -> dict:
    return {"type": "Point", "coordinates": list(xy)}


def polygon(box) -> Polygon:
    result = Polygon.from_bbox(box)
    result.srid = 4326
    return result


def polygon_geojson(box) -> dict:
    return json.loads(polygon(box).json)


def rest_list(client, path: str, key: str, **params) -> list[dict]:
    """Return every item of a paginated list, following `next`."""
    items, url, query = [], path, {"page_size": 1000, **params}
    while url:
        response = client.get(url, query)
        assert response.status_code == 200, response.content
        body = response.json()
        items.extend(body[key])
        url, query = body["next"], None
    return sorted(items, key=lambda item: item["id"])


def rest_snapshot(client) -> dict:
    """Return what REST shows now: every incident, area and alert, sorted by id."""
    return {
        "incidents": rest_list(client, "/api/v1/incidents/", "features"),
        "areas": rest_list(client, "/api/v1/areas/", "features"),
        "alerts": rest_list(client, "/api/v1/alerts/", "results"),
    }


def reset_world() -> None:
    """Empty the domain and the users (not the event log, whose ids must only grow)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE tracker_alert, tracker_incident, tracker_areaofinterest, authtoken_token, django_session, "
            "django_admin_log, auth_user CASCADE"
        )


class Contract(RuleBasedStateMachine):
    loop: asyncio.AbstractEventLoop  # one loop for the whole test: the process fan-out is per loop
    recorded = 0

    def __init__(self):
        super().__init__()
        reset_world()
        self.count = 0
        self.admin = User.objects.create_superuser("admin", password="pw")
        self.api = self.client_for(self.admin)
        self.admin_site = Client()
        self.admin_site.force_login(self.admin)
        self.socket = None
        self.record = {"initial": None, "steps": []}
        self.action = "start"

    # -- helpers -----------------------------------------------------------------------------------------------

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    def serial(self) -> int:
        self.count += 1
        return self.count

    @staticmethod
    def client_for(user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    def ids(self, model) -> list[int]:
        return list(model.objects.order_by("pk").values_list("pk", flat=True))

    def users(self, **filters) -> list[int]:
        return list(User.objects.filter(is_superuser=False, **filters).order_by("pk").values_list("pk", flat=True))

    def step(self, action: str) -> None:
        self.action = action

    def expect(self, response, *codes: int) -> None:
        assert response.status_code in codes, (self.action, response.status_code, response.content[:500])

    def admin_post(self, path: str, data: dict) -> None:
        response = self.admin_site.post(path, data)
        errors = response.context["adminform"].form.errors if response.status_code == 200 else None
        assert response.status_code == 302, (self.action, response.status_code, errors)

    # -- start -------------------------------------------------------------------------------------------------

    @initialize(
        incidents=st.lists(st.tuples(point, severity, st.sampled_from([None, 0, 1])), max_size=4),
        areas=st.lists(st.tuples(square, st.sampled_from([None, 0, 1])), max_size=2),
    )
    def start(self, incidents, areas):
        """Seed the world through the ORM (two users who report and own some of it), open the socket, take the
        snapshot the client starts from."""
        seeded = [User.objects.create_user(f"seed{n}", password="pw", is_staff=n == 0) for n in range(2)]
        for box, owner in areas:
            owner = None if owner is None else seeded[owner]
            services.area_create(name="Seed area", polygon=polygon(box), threshold=Severity.HIGH, owner=owner)
        for xy, level, reporter in incidents:
            services.incident_report(
                name="Seed",
                location=Point(*xy, srid=4326),
                severity=Severity.from_name(level),
                reporter=None if reporter is None else seeded[reporter],
            )
        token = Token.objects.create(user=self.admin)
        self.socket, connected, _ = self.run(Socket.open(token=token.key))
        assert connected
        hello = self.run(self.socket.receive())
        assert hello["type"] == "hello", hello
        snapshot = {**rest_snapshot(self.api), "last_event_id": hello["last_event_id"]}
        assert hello["last_event_id"] == replay.last_event_id()
        self.client = ClientState(snapshot)
        self.record["initial"] = snapshot

    def teardown(self):
        if self.socket is not None:
            self.run(self.socket.close())
        if self.record["initial"] is not None and Contract.recorded < MAX_RECORDED:
            Contract.recorded += 1
            path = ARTIFACTS / f"sequence-{Contract.recorded:03d}.json"
            path.write_text(json.dumps(self.record, indent=1))

    # -- the contract --------------------------------------------------------------------------------------

    @invariant()
    def client_equals_a_fresh_snapshot(self):
        target = replay.last_event_id()
        events = []
        while self.client.last_event_id < target:
            envelope = self.run(self.socket.receive_event(timeout=5))
            assert envelope.get("type") in ("incident", "area", "alert"), (self.action, envelope)
            events.append(envelope)
            self.client.apply(envelope)
        snapshot = rest_snapshot(self.api)
        self.record["steps"].append({"action": self.action, "events": events, "snapshot": snapshot})
        assert self.client.as_snapshot() == snapshot, self.action
        for state, holds in ALERT_STATES.items():
            listed = rest_list(self.api, "/api/v1/alerts/", "results", state=state)
            assert listed == [a for a in snapshot["alerts"] if holds(a)], (self.action, state)

    # -- users ---------------------------------------------------------------------------------------------------

    @rule(staff=st.booleans())
    def create_user(self, staff):
        n = self.serial()
        self.step(f"orm: create user u{n} (staff={staff})")
        User.objects.create_user(f"u{n}", password="pw", is_staff=staff)

    @precondition(lambda self: self.users())
    @rule(data=st.data(), via_admin=st.booleans())
    def delete_user(self, data, via_admin):
        pk = data.draw(st.sampled_from(self.users()))
        self.step(f"{'admin' if via_admin else 'orm'}: delete user {pk}")
        if via_admin:
            self.admin_post(f"/admin/auth/user/{pk}/delete/", {"post": "yes"})
        else:
            User.objects.get(pk=pk).delete()

    @precondition(lambda self: self.users(is_active=True))
    @rule(data=st.data())
    def deactivate_user(self, data):
        pk = data.draw(st.sampled_from(self.users(is_active=True)))
        self.step(f"orm: deactivate user {pk}")
        user = User.objects.get(pk=pk)
        user.is_active = False
        user.save()

    @precondition(lambda self: self.users())
    @rule(data=st.data())
    def rename_user(self, data):
        pk = data.draw(st.sampled_from(self.users()))
        new = f"renamed{self.serial()}"
        self.step(f"orm: rename user {pk} to {new}")
        user = User.objects.get(pk=pk)
        user.username = new
        user.save()

    # -- incidents -----------------------------------------------------------------------------------------------

    @rule(data=st.data(), xy=point, level=severity, title=name)
    def rest_create_incident(self, data, xy, level, title):
        reporters = [None, *self.users(is_active=True)]
        reporter = data.draw(st.sampled_from(reporters))
        self.step(f"rest: user {reporter or 'admin'} reports {title!r} {level} at {xy}")
        client = self.api if reporter is None else self.client_for(User.objects.get(pk=reporter))
        body = {"type": "Feature", "geometry": point_geojson(xy), "properties": {"name": title, "severity": level}}
        self.expect(client.post("/api/v1/incidents/", body, format="json"), 201)

    @rule(xy=point, level=severity, title=name)
    def public_report(self, xy, level, title):
        self.step(f"report page: {title!r} {level} at {xy}")
        # One address per report in the whole run: the endpoint's rate limit counts per address, in Redis,
        # across examples (a repeated address would make the answer depend on earlier examples).
        client = APIClient(REMOTE_ADDR=f"2001:db8::{next(REPORT_ADDRESSES):x}")
        body = {"type": "Feature", "geometry": point_geojson(xy), "properties": {"name": title, "severity": level}}
        self.expect(client.post("/api/v1/report/", body, format="json"), 201)

    @precondition(lambda self: self.ids(Incident))
    @rule(
        data=st.data(),
        changes=st.fixed_dictionaries(
            {}, optional={"name": name, "severity": severity, "status": status, "description": st.just("Updated.")}
        ),
        move=st.none() | point,
    )
    def rest_update_incident(self, data, changes, move):
        pk = data.draw(st.sampled_from(self.ids(Incident)))
        self.step(f"rest: patch incident {pk} {changes} move={move}")
        body = {"type": "Feature", "properties": changes}
        if move is not None:
            body["geometry"] = point_geojson(move)
        self.expect(self.api.patch(f"/api/v1/incidents/{pk}/", body, format="json"), 200)

    @precondition(lambda self: self.ids(Incident))
    @rule(data=st.data())
    def rest_delete_incident(self, data):
        pk = data.draw(st.sampled_from(self.ids(Incident)))
        self.step(f"rest: delete incident {pk}")
        self.expect(self.api.delete(f"/api/v1/incidents/{pk}/"), 204)

    @rule(data=st.data(), xy=point, level=severity, title=name, wkt=st.booleans())
    def admin_add_incident(self, data, xy, level, title, wkt):
        reporter = data.draw(st.sampled_from(["", *self.users()]))
        self.step(f"admin: add incident {title!r} {level} at {xy} reporter={reporter or None}")
        location = Point(*xy, srid=4326)
        self.admin_post(
            "/admin/tracker/incident/add/",
            {
                "name": title,
                "description": "",
                "severity": Severity.from_name(level),
                "status": "open",
                "location": location.wkt if wkt else location.json,
                "reporter": reporter,
                "_save": "Save",
            },
        )

    @precondition(lambda self: self.ids(Incident))
    @rule(data=st.data(), xy=point, level=severity, state=status, public=st.booleans())
    def admin_change_incident(self, data, xy, level, state, public):
        pk = data.draw(st.sampled_from(self.ids(Incident)))
        reporter = data.draw(st.sampled_from(["", *self.users()]))
        self.step(f"admin: change incident {pk} to {level} {state} at {xy} reporter={reporter or None}")
        incident = Incident.objects.get(pk=pk)
        form = {
            "name": incident.name,
            "description": incident.description,
            "severity": Severity.from_name(level),
            "status": state,
            "location": Point(*xy, srid=4326).json,
            "reporter": reporter,
            "_save": "Save",
        }
        if public:
            form["reported_publicly"] = "on"
        self.admin_post(f"/admin/tracker/incident/{pk}/change/", form)

    @precondition(lambda self: self.ids(Incident))
    @rule(data=st.data())
    def admin_delete_incident(self, data):
        pk = data.draw(st.sampled_from(self.ids(Incident)))
        self.step(f"admin: delete incident {pk}")
        self.admin_post(f"/admin/tracker/incident/{pk}/delete/", {"post": "yes"})

    @precondition(lambda self: self.ids(Incident))
    @rule(
        data=st.data(), level=severity, state=status, move=st.none() | point, via=st.sampled_from(["save", "service"])
    )
    def orm_change_incident(self, data, level, state, move, via):
        pk = data.draw(st.sampled_from(self.ids(Incident)))
        self.step(f"orm ({via}): incident {pk} to {level} {state} move={move}")
        incident = Incident.objects.get(pk=pk)
        changes = {"severity": Severity.from_name(level), "status": state}
        if move is not None:
            changes["location"] = Point(*move, srid=4326)
        if via == "service":
            services.incident_update(incident=incident, **changes)
        else:
            for field, value in changes.items():
                setattr(incident, field, value)
            incident.save()

    @precondition(lambda self: self.ids(Incident))
    @rule(data=st.data(), via=st.sampled_from(["instance", "queryset"]))
    def orm_delete_incidents(self, data, via):
        ids = self.ids(Incident)
        chosen = data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=3, unique=True))
        self.step(f"orm ({via}): delete incidents {chosen}")
        if via == "queryset":
            Incident.objects.filter(pk__in=chosen).delete()
        else:
            for incident in Incident.objects.filter(pk__in=chosen):
                incident.delete()

    @precondition(lambda self: self.ids(Incident))
    @rule(data=st.data(), levels=st.lists(severity, min_size=2, max_size=4))
    def orm_rapid_updates(self, data, levels):
        """A shell loop: several saves of one incident, as fast as they go."""
        pk = data.draw(st.sampled_from(self.ids(Incident)))
        self.step(f"orm: incident {pk} saved {len(levels)} times in a row: {levels}")
        incident = Incident.objects.get(pk=pk)
        for level in levels:
            incident.severity = Severity.from_name(level)
            incident.save()

    @precondition(lambda self: self.ids(Incident))
    @rule(data=st.data(), level=severity, state=status)
    def orm_queryset_update(self, data, level, state):
        """A shell's bulk edit: QuerySet.update() on some incidents."""
        chosen = data.draw(st.lists(st.sampled_from(self.ids(Incident)), min_size=1, max_size=3, unique=True))
        self.step(f"orm: Incident.objects.filter(pk__in={chosen}).update(severity={level}, status={state})")
        Incident.objects.filter(pk__in=chosen).update(severity=Severity.from_name(level), status=state)

    # -- areas -------------------------------------------------------------------------------------------------

    @rule(box=square, level=severity)
    def rest_create_area(self, box, level):
        self.step(f"rest: draw area {box} threshold {level}")
        body = {"type": "Feature", "geometry": polygon_geojson(box), "properties": {"name": "Zone", "threshold": level}}
        self.expect(self.api.post("/api/v1/areas/", body, format="json"), 201)

    @precondition(lambda self: self.ids(AreaOfInterest))
    @rule(data=st.data(), box=st.none() | square, level=st.none() | severity, title=st.none() | name)
    def rest_update_area(self, data, box, level, title):
        pk = data.draw(st.sampled_from(self.ids(AreaOfInterest)))
        self.step(f"rest: patch area {pk} box={box} threshold={level} name={title}")
        body = {"type": "Feature", "properties": {}}
        if box is not None:
            body["geometry"] = polygon_geojson(box)
        if level is not None:
            body["properties"]["threshold"] = level
        if title is not None:
            body["properties"]["name"] = title
        self.expect(self.api.patch(f"/api/v1/areas/{pk}/", body, format="json"), 200)

    @precondition(lambda self: self.ids(AreaOfInterest))
    @rule(data=st.data())
    def rest_delete_area(self, data):
        pk = data.draw(st.sampled_from(self.ids(AreaOfInterest)))
        self.step(f"rest: delete area {pk}")
        self.expect(self.api.delete(f"/api/v1/areas/{pk}/"), 204)

    @rule(data=st.data(), box=square, level=severity, wkt=st.booleans())
    def admin_add_area(self, data, box, level, wkt):
        owner = data.draw(st.sampled_from(["", *self.users()]))
        self.step(f"admin: add area {box} threshold {level} owner={owner or None}")
        shape = polygon(box)
        self.admin_post(
            "/admin/tracker/areaofinterest/add/",
            {
                "name": "Admin zone",
                "threshold": Severity.from_name(level),
                "polygon": shape.wkt if wkt else shape.json,
                "owner": owner,
                "_save": "Save",
            },
        )

    @precondition(lambda self: self.ids(AreaOfInterest))
    @rule(data=st.data(), box=square, level=severity, title=name)
    def admin_change_area(self, data, box, level, title):
        pk = data.draw(st.sampled_from(self.ids(AreaOfInterest)))
        owner = data.draw(st.sampled_from(["", *self.users()]))
        self.step(f"admin: change area {pk} to {box} threshold {level} name {title!r} owner={owner or None}")
        self.admin_post(
            f"/admin/tracker/areaofinterest/{pk}/change/",
            {
                "name": title,
                "threshold": Severity.from_name(level),
                "polygon": polygon(box).json,
                "owner": owner,
                "_save": "Save",
            },
        )

    @precondition(lambda self: self.ids(AreaOfInterest))
    @rule(data=st.data())
    def admin_delete_area(self, data):
        pk = data.draw(st.sampled_from(self.ids(AreaOfInterest)))
        self.step(f"admin: delete area {pk}")
        self.admin_post(f"/admin/tracker/areaofinterest/{pk}/delete/", {"post": "yes"})

    @precondition(lambda self: self.ids(AreaOfInterest))
    @rule(data=st.data(), box=st.none() | square, level=severity, delete=st.booleans())
    def orm_change_area(self, data, box, level, delete):
        pk = data.draw(st.sampled_from(self.ids(AreaOfInterest)))
        area = AreaOfInterest.objects.get(pk=pk)
        if delete:
            self.step(f"orm: delete area {pk}")
            area.delete()
            return
        self.step(f"orm: area {pk} box={box} threshold {level}")
        area.threshold = Severity.from_name(level)
        if box is not None:
            area.polygon = polygon(box)
        area.save()

    # -- alerts --------------------------------------------------------------------------------------------------

    @precondition(lambda self: self.ids(Alert))
    @rule(data=st.data())
    def acknowledge_alert(self, data):
        pk = data.draw(st.sampled_from(self.ids(Alert)))
        who = data.draw(st.sampled_from([None, *self.users(is_active=True)]))
        self.step(f"rest: user {who or 'admin'} acknowledges alert {pk}")
        client = self.api if who is None else self.client_for(User.objects.get(pk=who))
        self.expect(client.post(f"/api/v1/alerts/{pk}/acknowledge/"), 200)

    @precondition(lambda self: self.ids(Alert))
    @rule(data=st.data())
    def admin_delete_alert(self, data):
        pk = data.draw(st.sampled_from(self.ids(Alert)))
        self.step(f"admin: delete alert {pk}")
        self.admin_post(f"/admin/tracker/alert/{pk}/delete/", {"post": "yes"})


@pytest.mark.django_db(transaction=True)
def test_a_client_that_applies_every_pushed_event_equals_a_fresh_snapshot(contract_settings):
    assert set(ALERT_STATES) == set(selectors.ALERT_STATES)  # every state the API offers is checked
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    Contract.loop = asyncio.new_event_loop()
    Contract.recorded = 0
    try:
        run_state_machine_as_test(Contract, settings=contract_settings)
    finally:
        Contract.loop.run_until_complete(Contract.loop.shutdown_asyncgens())
        Contract.loop.close()
