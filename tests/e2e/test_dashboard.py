"""End to end in headless Chromium: sign-in, the live dashboard (events, alerts, two browsers, drawing areas,
escaped text, reconnect with resume) and the public report page, against a real server process."""

import random
import time

import pytest
from django.contrib.gis.geos import Point
from django.core.management import call_command
from django.db import connection

from tests.e2e.conftest import (
    DEFAULT_TIMEOUT_MS,
    api_post,
    elapsed_since,
    new_server,
    point_feature,
    screenshot,
    wait_connected,
)
from tests.factories import AreaFactory, UserFactory, square
from tests.support.processes import wait_until
from tracker import selectors, services
from tracker.management.commands.load_demo import DEMO_USERNAME
from tracker.models import Alert, AreaOfInterest, Event, Incident, IncidentStatus, Severity
from tracker.stream import replay

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE = "<img src=x onerror=alert(1)>"
# The bound from write to screen.
LIVE_BUDGET_S = 2.0
# Inside the demo's Microcentro area (alerts from "medium" up), near the map's centre.
MICROCENTRO = (-58.3790, -34.6060)


def incident_shown(page, incident_id: int) -> bool:
    """Whether the incident is in the page's store and drawn on the map."""
    return page.evaluate(
        """(id) => trackerDebug.state.incidents.has(id)
                   && trackerDebug.layers.incidents.group.hasLayer(trackerDebug.layers.incidents.markers.get(id))""",
        incident_id,
    )


def wait_for_alert(page, incident_name: str, timeout_ms: float) -> None:
    """Wait until the incident's alert toast is shown and its alert is in the alerts panel."""
    page.wait_for_function(
        """(name) => [...document.querySelectorAll('.toast[data-tone=alert] .toast__title')]
                        .some((title) => title.textContent === `Alert: ${name}`)
                     && [...document.querySelectorAll('#alerts-panel li[data-alert-id] .item__title')]
                        .some((title) => title.textContent === name)""",
        arg=incident_name,
        timeout=timeout_ms,
    )


def map_point(page, fx: float, fy: float) -> tuple[float, float]:
    """Return the page coordinates of the point at fractions (fx, fy) of the map's width and height."""
    box = page.locator("#map").bounding_box()
    return box["x"] + box["width"] * fx, box["y"] + box["height"] * fy


def page_position(page, lon: float, lat: float) -> tuple[float, float]:
    """Return the page coordinates at which the map shows lon/lat."""
    return tuple(page.evaluate(
        """([lon, lat]) => {
             const box = document.getElementById('map').getBoundingClientRect();
             const point = trackerDebug.map.latLngToContainerPoint([lat, lon]);
             return [point.x + box.left, point.y + box.top];
           }""",
        [lon, lat],
    ))


def test_sign_in_opens_the_live_dashboard_and_log_out_leaves_it(browsers):
    UserFactory(username="dispatcher")
    page = browsers.page(path="/")
    page.wait_for_url("**/accounts/login/?next=/")
    page.fill("input[name=username]", "dispatcher")
    page.fill("input[name=password]", "pw")
    page.click("button[type=submit]")
    page.wait_for_url(f"{browsers.server.url}/")
    wait_connected(page)
    assert page.locator(".app-header .app-user").inner_text() == "dispatcher"
    assert page.evaluate("trackerDebug.socket.status") == "connected"
    assert page.locator("#area-form").count() == 0 and page.locator(".leaflet-pm-toolbar").count() == 0  # not staff

    page.click(".app-header form button")
    # The logout redirect, or the dashboard itself when the server closes its socket (4401) on logout first.
    page.wait_for_url("**/accounts/login/**")
    page.goto("/")
    page.wait_for_url("**/accounts/login/?next=/")
    browsers.assert_clean()


def test_incident_in_an_area_appears_and_alerts_within_two_seconds_in_two_browsers(browsers):
    call_command("load_demo", verbosity=0)
    demo = UserFactory._meta.model.objects.get(username=DEMO_USERNAME)
    dispatcher = UserFactory(username="dispatcher")
    areas, incidents = AreaOfInterest.objects.count(), Incident.objects.count()
    wall = browsers.dashboard(demo, areas=areas, incidents=incidents)
    desk = browsers.dashboard(dispatcher, areas=areas, incidents=incidents)

    start = time.monotonic()
    created = api_post(browsers.server, dispatcher, "incidents/", point_feature(
        "Building fire", *MICROCENTRO, severity="urgent", description="Smoke from the 3rd floor."))
    for page in (wall, desk):
        budget_ms = max(0.0, LIVE_BUDGET_S - elapsed_since(start)) * 1000
        page.wait_for_function("(id) => trackerDebug.state.incidents.has(id)", arg=created["id"], timeout=budget_ms)
        wait_for_alert(page, "Building fire", timeout_ms=max(1.0, LIVE_BUDGET_S - elapsed_since(start)) * 1000)
    assert elapsed_since(start) <= LIVE_BUDGET_S
    assert incident_shown(wall, created["id"]) and incident_shown(desk, created["id"])
    alert = Alert.objects.get(incident_id=created["id"])
    assert alert.area.name == "Microcentro"
    screenshot(wall, "dashboard.png")

    # Acknowledged in one browser: gone from both panels, recorded with who did it.
    desk.click(f"#alerts-panel li[data-alert-id='{alert.pk}'] button[data-action=acknowledge]")
    for page in (desk, wall):
        page.wait_for_selector(f"#alerts-panel li[data-alert-id='{alert.pk}']", state="detached")
    alert.refresh_from_db()
    assert alert.acknowledged_by == dispatcher and alert.acknowledged_at is not None
    browsers.assert_clean()


def test_staff_draws_an_area_on_the_map_and_it_is_saved(browsers):
    staff = UserFactory(username="supervisor", is_staff=True)
    page = browsers.dashboard(staff, areas=0)
    page.click(".leaflet-pm-toolbar .leaflet-pm-icon-polygon")
    corners = [map_point(page, fx, fy) for fx, fy in ((0.3, 0.3), (0.6, 0.3), (0.6, 0.6), (0.3, 0.6))]
    for x, y in corners:
        page.mouse.click(x, y)
    page.mouse.click(*corners[0])  # on the first vertex: closes the ring
    page.wait_for_selector("#area-form")
    page.fill("#area-form input[name=name]", "Stadium perimeter")
    page.select_option("#area-form select[name=threshold]", "medium")
    page.click("#area-form button[type=submit]")
    page.wait_for_selector("#area-form", state="detached")

    area = wait_until(lambda: AreaOfInterest.objects.filter(name="Stadium perimeter").first(), 5, "the saved area")
    assert (area.threshold, area.owner) == (Severity.MEDIUM, staff)
    drawn = area.polygon.exterior_ring.coords
    assert len(drawn) == 5 and drawn[0] == drawn[-1]
    for (lon, lat), (x, y) in zip(drawn[:-1], corners, strict=True):
        at_x, at_y = page_position(page, lon, lat)
        assert abs(at_x - x) <= 1 and abs(at_y - y) <= 1  # where it was clicked, to the pixel
    page.wait_for_function("(id) => trackerDebug.layers.areas.polygons.has(id)", arg=area.pk)

    # Persisted: another browser loads it over REST.
    other = browsers.dashboard(UserFactory(), areas=1)
    assert other.evaluate("[...trackerDebug.state.areas.keys()]") == [area.pk]
    browsers.assert_clean()


def test_report_page_creates_an_incident_the_dashboard_shows_live(browsers):
    wall = browsers.dashboard(UserFactory(username="dispatcher"), incidents=0)
    report = browsers.page(path="/report/")  # anonymous
    report.wait_for_selector("#report-form")
    report.mouse.click(*map_point(report, 0.5, 0.5))
    report.fill("#report-form input[name=name]", "Car crash on the avenue")
    report.fill("#report-form textarea[name=description]", "Two cars, no injuries visible.")
    report.select_option("#report-form select[name=severity]", "high")
    report.click("#report-form button[type=submit]")
    report.wait_for_selector("#report-confirmation")
    assert "Car crash on the avenue" in report.locator("#report-confirmation").inner_text()

    incident = Incident.objects.get(name="Car crash on the avenue")
    assert incident.reported_publicly and incident.reporter is None and incident.get_severity_display() == "high"
    wall.wait_for_selector(f"#incidents-panel li[data-incident-id='{incident.pk}']")
    assert incident_shown(wall, incident.pk)
    browsers.assert_clean()


def test_hostile_names_show_as_text_everywhere_on_the_dashboard(browsers):
    staff = UserFactory(is_staff=True)
    area = AreaFactory(name=HOSTILE, polygon=square(-58.40, -34.62, -58.36, -34.59), threshold=Severity.LOW)
    page = browsers.dashboard(staff, areas=1)
    created = api_post(browsers.server, staff, "incidents/", point_feature(
        HOSTILE, *MICROCENTRO, severity="high", description=HOSTILE))
    wait_for_alert(page, HOSTILE, timeout_ms=DEFAULT_TIMEOUT_MS)
    panel_item = page.locator(f"#incidents-panel li[data-incident-id='{created['id']}'] .item__title")
    assert panel_item.inner_text() == HOSTILE

    panel_item.click()  # opens the incident's popup
    page.wait_for_selector(".incident-popup")
    assert page.locator(".incident-popup__name").inner_text() == HOSTILE
    assert page.locator(".incident-popup__description").inner_text() == HOSTILE
    page.evaluate("(id) => trackerDebug.layers.areas.polygons.get(id).openTooltip()", area.pk)
    assert HOSTILE in page.locator(".leaflet-tooltip").inner_text()

    assert page.locator("img[src=x]").count() == 0
    browsers.assert_clean()  # no alert() dialog fired


def test_server_restart_shows_reconnecting_then_connected_with_the_missed_incident(browsers, chromium):
    own = new_server()  # killed and restarted here; the module's server stays up for the other tests
    try:
        browsers.server = own
        page = browsers.dashboard(UserFactory(), incidents=0)
        # Every badge state in order, from now on.
        page.evaluate(
            """() => {
                 const badge = document.getElementById('connection-badge');
                 window.badgeStates = [];
                 new MutationObserver(() => window.badgeStates.push(badge.dataset.state))
                   .observe(badge, {attributes: true, attributeFilter: ['data-state']});
               }"""
        )
        last_seen = page.evaluate("trackerDebug.socket.lastEventId")

        own.kill()
        page.wait_for_function("() => window.badgeStates.includes('reconnecting')")
        # Written while no server is up: only the event log has it.
        missed = services.incident_report(name="Missed while offline", location=Point(*MICROCENTRO, srid=4326))
        missed_event = replay.last_event_id()
        assert missed_event > last_seen
        own.restart()

        # The backoff may be waiting up to 16 s by now (5th attempt); no reload of the page is involved.
        wait_connected(page, timeout_ms=30_000)
        page.wait_for_function("(id) => trackerDebug.state.incidents.has(id)", arg=missed.pk)
        states = page.evaluate("window.badgeStates")
        assert states[0] == "reconnecting" and states[-1] == "connected", states
        # It came through the resumed socket (?after=N replays the log), not a REST reload.
        assert page.evaluate("trackerDebug.socket.lastEventId") == missed_event
        assert Event.objects.filter(id=missed_event, type="incident", op="created").exists()
        browsers.assert_clean()
    finally:
        own.stop()


def bulk_incidents(count: int, half_lon: float, half_lat: float, seed: int = 4) -> None:
    """Create `count` incidents spread evenly around the map's default centre (bulk_create bypasses save() and
    the signals: load data, no events)."""
    rng = random.Random(seed)
    center_lon, center_lat = -58.3816, -34.6037
    Incident.objects.bulk_create(
        Incident(
            name=f"Load {n}",
            severity=rng.choice(Severity.values),
            location=Point(
                center_lon + rng.uniform(-half_lon, half_lon), center_lat + rng.uniform(-half_lat, half_lat), srid=4326
            ),
        )
        for n in range(count)
    )


def view_bbox(page) -> tuple[float, float, float, float]:
    """Return the map's current view as min_lon, min_lat, max_lon, max_lat."""
    return tuple(page.evaluate(
        """() => { const b = trackerDebug.map.getBounds();
                   return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; }"""
    ))


def test_ten_thousand_incidents_are_drawn_and_the_map_still_pans(browsers, capsys):
    """Load, not a benchmark: the dashboard shows 10,000 incidents (as clusters: more than its threshold) and a
    pan completes; bench/ has the timings."""
    bulk_incidents(10_000, 0.1, 0.06)
    start = time.monotonic()
    page = browsers.dashboard(UserFactory())
    page.wait_for_function("() => trackerDebug.layers.incidents.visibleCount() === 10000", timeout=60_000)
    loaded_s = elapsed_since(start)
    assert page.evaluate("trackerDebug.layers.incidents.mode") == "clusters"
    clusters = page.locator(".incident-cluster").count()
    assert 1 < clusters < 10_000
    assert sum(int(n) for n in page.eval_on_selector_all(".incident-cluster", "els => els.map(e => e.dataset.count)")) == 10_000
    pan_ms = page.evaluate(
        """() => new Promise((resolve) => {
             const map = trackerDebug.map;
             const start = performance.now();
             map.once('moveend', () => requestAnimationFrame(() => resolve(performance.now() - start)));
             map.panBy([300, 200], {animate: false});
           })"""
    )
    # Panned away from part of the incidents: the clusters are refetched for the new view.
    page.wait_for_function("() => trackerDebug.layers.incidents.visibleCount() < 10000")
    panned = page.evaluate("trackerDebug.layers.incidents.visibleCount()")
    assert panned == selectors.incidents_in_bbox(*view_bbox(page)).count()
    page.locator(".filters input[name=severity][value=info]").uncheck()
    # The server counts again with the filter.
    page.wait_for_function("(n) => trackerDebug.layers.incidents.visibleCount() !== n", arg=panned)
    remaining = page.evaluate("trackerDebug.layers.incidents.visibleCount()")
    assert remaining == selectors.incidents_in_bbox(*view_bbox(page)).exclude(severity=Severity.INFO).count()
    assert 0 < remaining < panned
    with capsys.disabled():
        print(f"\n  10,000 incidents: {clusters} clusters drawn in {loaded_s:.1f} s, pan {pan_ms:.0f} ms")
    browsers.assert_clean()


def test_a_crowded_view_shows_clusters_and_zooming_in_shows_the_incidents(browsers):
    bulk_incidents(3000, 0.05, 0.03)  # more than the dashboard's threshold (2,000) in the default view
    page = browsers.dashboard(UserFactory())
    page.wait_for_function("() => trackerDebug.layers.incidents.visibleCount() === 3000")
    assert page.evaluate("trackerDebug.layers.incidents.mode") == "clusters"
    zoom = page.evaluate("trackerDebug.map.getZoom()")

    # A live incident in the view: in the side panel at once, and counted once the clusters are refetched.
    user = UserFactory()
    created = api_post(browsers.server, user, "incidents/", point_feature("Live in a crowd", *MICROCENTRO))
    page.wait_for_selector(f"#incidents-panel li[data-incident-id='{created['id']}']")
    page.wait_for_function("() => trackerDebug.layers.incidents.visibleCount() === 3001")

    # A click on a cluster zooms in on it; a few zoom levels in, the view holds few enough to show each one.
    page.locator(".incident-cluster").first.click()
    page.wait_for_function("(z) => trackerDebug.map.getZoom() === z + 2", arg=zoom)
    page.evaluate("() => { trackerDebug.map.setZoom(trackerDebug.map.getZoom() + 2, {animate: false}); }")
    page.wait_for_function("() => trackerDebug.layers.incidents.mode === 'points'")
    assert page.locator(".incident-cluster").count() == 0
    in_view = list(selectors.incidents_in_bbox(*view_bbox(page)).values_list("id", flat=True))
    assert 0 < len(in_view) <= 2000
    drawn = page.evaluate(
        """(ids) => ids.filter((id) => trackerDebug.layers.incidents.group.hasLayer(
                      trackerDebug.layers.incidents.markers.get(id))).length""",
        in_view,
    )
    assert drawn == len(in_view)

    # Back out: clusters again.
    page.evaluate("(z) => { trackerDebug.map.setZoom(z, {animate: false}); }", zoom)
    page.wait_for_function("() => trackerDebug.layers.incidents.mode === 'clusters'")
    page.wait_for_function("() => trackerDebug.layers.incidents.visibleCount() === 3001")
    browsers.assert_clean()


# Records, from before the page's own scripts run, every state the alerts panel passes through: whether
# "No open alerts." is visible and the status line. A MutationObserver sees each DOM change, so a
# false all-clear shown for a single frame is caught too.
RECORD_ALERTS_PANEL = """
window.alertsPanelLog = [];
new MutationObserver(() => {
  const panel = document.getElementById('alerts-panel');
  if (!panel) return;
  const empty = panel.querySelector('.empty');
  const status = panel.querySelector('.list-status');
  const entry = {
    none: Boolean(empty) && getComputedStyle(empty).display !== 'none',
    status: status && !status.hidden ? status.textContent : '',
  };
  const last = window.alertsPanelLog.at(-1);
  if (!last || last.none !== entry.none || last.status !== entry.status) window.alertsPanelLog.push(entry);
}).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
"""


def test_a_cleared_alert_stays_gone_after_a_reload(browsers):
    """Defect 1: close the incident of an alert; the panel drops it live, and a reload does not bring it back."""
    AreaFactory(name="Centro", threshold=Severity.LOW, polygon=square(-58.39, -34.615, -58.37, -34.60))
    user = UserFactory()
    page = browsers.dashboard(user)
    created = api_post(browsers.server, user, "incidents/", point_feature("Gas leak", *MICROCENTRO, severity="high"))
    wait_for_alert(page, "Gas leak", timeout_ms=DEFAULT_TIMEOUT_MS)
    alert = Alert.objects.get(incident_id=created["id"])

    services.incident_update(incident=Incident.objects.get(pk=created["id"]), status=IncidentStatus.CLOSED)
    page.wait_for_selector(f"#alerts-panel li[data-alert-id='{alert.pk}']", state="detached")
    alert.refresh_from_db()
    assert alert.cleared_at is not None

    page.reload()
    wait_connected(page)
    # Loaded: the panel says so, or (today's bug) the cleared alert is listed again.
    page.wait_for_function(
        "(id) => document.querySelector(`#alerts-panel li[data-alert-id='${id}']`)"
        " || document.querySelector('#alerts-panel[data-loading=false]')",
        arg=alert.pk,
    )
    assert page.locator("#alerts-panel li[data-alert-id]").count() == 0
    assert page.locator("#alerts-panel .empty").is_visible()  # the server's answer: none active
    browsers.assert_clean()


def bulk_alerts(area, *, active: int, cleared: int, acknowledged: int) -> None:
    """Give `area` that many alerts in each state, on as many incidents, in three set-based INSERTs (no save(),
    no signals, no events: load data). Newest first by id, a second apart."""
    bulk_incidents(active + cleared + acknowledged, 0.05, 0.03)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tracker_alert (incident_id, area_id, created_at) "
            "SELECT id, %s, now() - make_interval(secs => (SELECT max(id) FROM tracker_incident) - id) "
            "FROM tracker_incident",
            [area.pk],
        )
        cursor.execute(
            "UPDATE tracker_alert SET cleared_at = now() WHERE id IN (SELECT id FROM tracker_alert ORDER BY id LIMIT %s)",
            [cleared],
        )
        cursor.execute(
            "UPDATE tracker_alert SET acknowledged_at = now() "
            "WHERE id IN (SELECT id FROM tracker_alert WHERE cleared_at IS NULL ORDER BY id LIMIT %s)",
            [acknowledged],
        )


def test_many_alerts_show_loading_then_the_count_never_none(browsers):
    """Defect 6: with thousands of active alerts the panel says "Loading" until the answer is in, then shows the
    newest 50 and the total; it never says "No open alerts". "Show more" grows the window; acknowledging refills
    it and counts down."""
    area = AreaFactory(name="Busy", polygon=square(-58.5, -34.7, -58.3, -34.5))
    bulk_alerts(area, active=3000, cleared=400, acknowledged=300)
    active = selectors.alerts_in_state(Alert.objects.all(), "active").count()
    assert active == 3000

    context = browsers.context(UserFactory())
    context.add_init_script(RECORD_ALERTS_PANEL)
    page = context.new_page()
    page.on("pageerror", lambda error: browsers.errors.append(str(error)))
    start = time.monotonic()
    page.goto("/")
    page.wait_for_selector("#alerts-panel li[data-alert-id]", timeout=60_000)
    shown_s = elapsed_since(start)
    log = page.evaluate("window.alertsPanelLog")
    assert not any(entry["none"] for entry in log), log
    assert log[0] == {"none": False, "status": "Loading alerts…"}, log
    page.wait_for_selector(f"#alerts-panel .list-status:text-is('Showing 50 of {active:,}')")
    assert page.locator("#alerts-panel li[data-alert-id]").count() == 50
    assert page.locator("#alerts-panel h2 .count").text_content() == f"({active:,})"
    newest = list(selectors.alerts_in_state(Alert.objects.all(), "active").values_list("id", flat=True)[:50])
    shown = [int(n) for n in page.eval_on_selector_all("#alerts-panel li[data-alert-id]", "els => els.map(e => e.dataset.alertId)")]
    assert shown == newest

    page.click("#alerts-panel button[data-action=more-alerts]")
    page.wait_for_selector(f"#alerts-panel .list-status:text-is('Showing 100 of {active:,}')")
    screenshot(page, "dashboard-many-alerts.png")
    first = newest[0]
    page.click(f"#alerts-panel li[data-alert-id='{first}'] button[data-action=acknowledge]")
    page.wait_for_selector(f"#alerts-panel .list-status:text-is('Showing 100 of {active - 1:,}')")
    assert page.locator(f"#alerts-panel li[data-alert-id='{first}']").count() == 0
    assert not any(entry["none"] for entry in page.evaluate("window.alertsPanelLog"))
    assert shown_s < 10, shown_s  # generous: one page of 50 and a count, not 30 pages
    browsers.assert_clean()
