"""Item 4: map load with 100,000 incidents in the database.

The incidents are bulk-loaded (COPY, no events: set-up, not what is measured) around the default map centre,
spread like a metropolitan area (normal, sigma 0.2 degrees, about 20 km), so that the default view at zoom 12
holds tens of thousands of them: the worst case a dispatcher opening the dashboard meets.

Measured in headless Chromium (playwright), signed in as the bench user, with every request to anything but
127.0.0.1 refused (map tiles are external and would be neither allowed nor comparable):
  - first draw: from navigation start to the frame after the incidents layer shows every incident of the
    view (markers, or clusters holding them: `visibleCount()` reaching the `count` of the view's first API
    answer), and the bytes transferred (encoded, headers included);
  - panning: PANS pans of a third of the screen, each timed until its incident loads have finished, and
    the longest main-thread task seen meanwhile (how long the page froze).
Beside it, the API alone: one page of 1,000 incidents of the view (and how many pages the whole view
takes, as the dashboard fetched it point by point before it had clusters) and the view's clusters answer.
"""

import asyncio
import json
import math
import random
import time

import psycopg
from playwright.async_api import async_playwright

from bench.common import (
    BENCH_DSN, HOST, PASSWORD, PORTS, USERNAME, Server, asgi_command, django_env, http_get, log, running,
)

CENTRE = (-58.3816, -34.6037)
ZOOM = 12
VIEWPORT = {"width": 1280, "height": 800}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
PANS = 2
PAN_TIMEOUT_S = 25
DRAW_TIMEOUT_S = 90
INCIDENTS_API = "/api/v1/incidents/"
LONG_TASKS = """
window.__longestTask = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) window.__longestTask = Math.max(window.__longestTask, entry.duration);
}).observe({ type: 'longtask', buffered: true });
"""


def load_incidents(count: int, seed: int = 4, sigma: float = 0.2) -> None:
    """Replace all incidents (and alerts; ids restart at 1) with `count` generated ones around CENTRE, normal with
    `sigma` degrees."""
    rng = random.Random(seed)
    with psycopg.connect(BENCH_DSN) as conn:
        conn.execute("TRUNCATE tracker_alert, tracker_incident RESTART IDENTITY CASCADE")
        with conn.cursor().copy(
            "COPY tracker_incident (name, description, severity, status, location, reported_publicly, "
            "created_at, updated_at) FROM STDIN"
        ) as copy:
            for i in range(count):
                lon = CENTRE[0] + rng.gauss(0, sigma)
                lat = CENTRE[1] + rng.gauss(0, sigma)
                status = "open" if rng.random() < 0.2 else "closed"
                copy.write_row((f"Incident {i}", "Generated for the map benchmark.", rng.randint(0, 4), status,
                                f"SRID=4326;POINT({lon:.6f} {lat:.6f})", False, "now", "now"))
        conn.execute("ANALYZE tracker_incident")


def view_bbox() -> tuple[float, float, float, float]:
    """Return the lon/lat box of the default view (CENTRE, ZOOM, VIEWPORT) in Web Mercator, as Leaflet has it."""
    degrees_per_px = 360 / (256 * 2**ZOOM)
    half_lon = VIEWPORT["width"] / 2 * degrees_per_px

    def lat_of(y: float) -> float:
        return math.degrees(math.atan(math.sinh(y)))

    y = math.asinh(math.tan(math.radians(CENTRE[1])))
    half_y = VIEWPORT["height"] / 2 * math.radians(degrees_per_px)
    return CENTRE[0] - half_lon, lat_of(y - half_y), CENTRE[0] + half_lon, lat_of(y + half_y)


def api_alone(base: str, token: str) -> dict:
    """Time, for the default view, one page of the incident API (1,000 features, as the dashboard asks for
    a view it draws point by point) and its clusters answer; count the pages the whole view would take."""
    headers = {"Authorization": f"Token {token}", "Accept-Encoding": "identity"}
    bbox = ",".join(f"{v:.6f}" for v in view_bbox())

    def timed(url: str) -> dict:
        started = time.perf_counter()
        status, body = http_get(url, timeout=60, headers=headers)
        answer = json.loads(body) if status == 200 else {}
        return {"status": status, "ms": (time.perf_counter() - started) * 1000, "bytes": len(body),
                "count": answer.get("count"), "features": len(answer.get("features", []))}

    page = timed(f"{base}{INCIDENTS_API}?in_bbox={bbox}&page_size=1000")
    clusters = timed(f"{base}{INCIDENTS_API}clusters/?in_bbox={bbox}&zoom={ZOOM}")
    return {"page": page, "pages_for_view": math.ceil((page["count"] or 0) / 1000), "clusters": clusters}


async def signed_in_page(browser, base: str):
    """Return a page (VIEWPORT) of a new context of `browser`, signed in as the bench user on the server at `base`,
    which refuses every request to anything but that server."""
    context = await browser.new_context(viewport=VIEWPORT)
    # Only this machine's server: external map tiles are refused, not fetched.
    await context.route("**/*", lambda route: route.continue_()
                        if route.request.url.startswith(base) else route.abort())
    page = await context.new_page()
    await page.goto(f"{base}/accounts/login/")
    await page.fill("input[name=username]", USERNAME)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_load_state("load")
    return page


async def in_browser(base: str) -> dict:
    """Open the dashboard signed in and return first-draw time and bytes, and the panning figures."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            return await measure_dashboard(await signed_in_page(browser, base), base)
        finally:
            await browser.close()


async def measure_dashboard(page, base: str) -> dict:
    transferred = {"bytes": 0, "requests": 0}
    in_flight = {"incidents": 0, "started": 0}
    view_count: dict = {}

    async def finished(request):
        sizes = await request.sizes()
        transferred["bytes"] += sizes["responseBodySize"] + sizes["responseHeadersSize"]
        transferred["requests"] += 1
        if INCIDENTS_API in request.url:
            in_flight["incidents"] -= 1
            if "count" not in view_count:
                response = await request.response()
                view_count["count"] = (await response.json()).get("count")

    def started(request):
        if INCIDENTS_API in request.url:
            in_flight["incidents"] += 1
            in_flight["started"] += 1

    def failed(request):  # superseded loads are aborted by the dashboard
        if INCIDENTS_API in request.url:
            in_flight["incidents"] -= 1

    page.on("request", started)
    page.on("requestfailed", failed)
    page.on("requestfinished", lambda request: asyncio.ensure_future(finished(request)))
    await page.add_init_script(LONG_TASKS)
    await page.goto(f"{base}/")
    result: dict = {"viewport": VIEWPORT}
    deadline = time.monotonic() + DRAW_TIMEOUT_S
    while "count" not in view_count and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    try:
        # visibleCount(): the markers drawn, or in clustered mode the incidents the drawn clusters hold.
        await page.wait_for_function(
            "n => window.trackerDebug && window.trackerDebug.layers.incidents.visibleCount() >= n",
            arg=view_count.get("count", 1), timeout=max(1, deadline - time.monotonic()) * 1000, polling=50,
        )
        drawn_ms = await page.evaluate(
            "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now()))))"
        )
        result["first_draw_ms"] = drawn_ms
    except Exception:
        result["first_draw_ms"] = None  # not drawn within DRAW_TIMEOUT_S
    result["drawn_incidents"] = await page.evaluate(
        "window.trackerDebug ? trackerDebug.layers.incidents.visibleCount() : 0")
    result["mode"] = await page.evaluate("window.trackerDebug ? trackerDebug.layers.incidents.mode : null")
    result["view_incidents"] = view_count.get("count")
    result["bytes_to_first_draw"] = transferred["bytes"]
    result["requests_to_first_draw"] = transferred["requests"]
    result["longest_task_ms_loading"] = await page.evaluate("window.__longestTask")
    result["pans"] = []
    for _ in range(PANS if result["first_draw_ms"] is not None else 0):
        await page.evaluate("window.__longestTask = 0")
        before, loads_before = transferred["bytes"], in_flight["started"]
        started_at = time.perf_counter()
        await page.evaluate(f"trackerDebug.map.panBy([{VIEWPORT['width'] // 3}, 0], {{animate: false}})")
        # The load starts after the dashboard's move debounce; the pan is done when its loads have finished.
        pan_deadline = time.monotonic() + PAN_TIMEOUT_S
        while in_flight["started"] == loads_before and time.monotonic() < started_at + 3:
            await asyncio.sleep(0.01)
        while in_flight["incidents"] > 0 and time.monotonic() < pan_deadline:
            await asyncio.sleep(0.01)
        result["pans"].append({
            "ms": (time.perf_counter() - started_at) * 1000,
            "bytes": transferred["bytes"] - before,
            "longest_task_ms": await page.evaluate("window.__longestTask"),
        })
    return result


def measure(count: int, token: str, server_kind: str) -> dict:
    """Load `count` incidents, serve the app with `server_kind` and measure the dashboard and the API; return
    the figures."""
    started = time.monotonic()
    load_incidents(count)
    log(f"map: {count} incidents loaded in {time.monotonic() - started:.0f} s")
    port = PORTS["map"]
    server = Server(f"map-{server_kind}", asgi_command(server_kind, port), port, django_env())
    with running(server):
        server.wait_ready(60, path="/healthz")
        base = f"http://{HOST}:{port}"
        result = {"incidents": count, "server": server_kind, "view_bbox": view_bbox()}
        result["api"] = api_alone(base, token)
        result["browser"] = asyncio.run(in_browser(base))
    return result
