"""Item 7: a surge of events into an open dashboard.

PRELOADED incidents are bulk-loaded (no events) in the default view, one `deploy/serve.sh uvicorn` process serves
the app, and headless Chromium, signed in as a dispatcher, has the dashboard open, connected and showing them. Then
`bench.djtasks burst` commits N incidents (N in SIZES) in ONE transaction, so that N events reach the page back to
back. Measured in the page, in ms from the start of the COMMIT (time.time_ns() in the task; in the page
performance.timeOrigin + performance.now(): the same wall clock on this machine):
  - received: when the page's WebSocket got the k-th event frame (a listener on every socket the page opens);
  - shown: when the k-th incident of the surge (id PRELOADED + k: ids restart at 1 and follow the order of
    creation) is in the store, its marker is in the incidents layer and the "Newest incidents" panel lists it
    or a newer one first, checked once per animation frame and taken at the second frame after the one in which
    it first held (the frame that draws the canvas redraw Leaflet requested has been produced by then);
    for k = MILESTONE and k = N;
  - main-thread long tasks (PerformanceObserver 'longtask': tasks over 50 ms) that ended after the commit
    started, until SETTLE_S after the last was shown: count, longest, total.
Afterwards it checks that every incident of the surge is drawn, that the dashboard applied the N events once each
in id order, and that the socket's position is the last event's id. Targets (issue 14): all 2,000 shown within 1 s of the commit, no main-thread task over 100 ms.
"""

import asyncio
import time

import psycopg
from playwright.async_api import TimeoutError as PlaywrightTimeout
from playwright.async_api import async_playwright

from bench.common import BENCH_DSN, HOST, Server, asgi_command, django_env, django_task, log, running
from bench.mapload import CHROMIUM_ARGS, DRAW_TIMEOUT_S, load_incidents, signed_in_page

# Surges measured, each into a freshly opened dashboard; within the largest, MILESTONE is timed too.
SIZES = (500, 2_000)
MILESTONE = 500
# A dispatcher's screen is not empty when a storm hits: the dashboard first shows this many incidents (bulk-loaded
# around the map centre, nearly all in the first view, fewer than the clustering threshold, so drawn as markers).
PRELOADED = 1_500
PRELOAD_SIGMA = 0.04
# The benchmarks' ports are 18200-18299 (bench.common.PORTS); this item's server has its own.
PORT = 18207
SHOWN_TIMEOUT_S = 60
SETTLE_S = 1.0
TARGET_SHOWN_MS = 1_000
TARGET_LONGEST_TASK_MS = 100

# Installed before the dashboard's own code: counts every event frame a socket of the page receives, and keeps
# every long task.
PAGE_PROBES = """
window.__surge = { frames: 0, frameAt: {}, longTasks: [] };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) window.__surge.longTasks.push([entry.startTime, entry.duration]);
}).observe({ type: 'longtask', buffered: true });
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener('message', (event) => {
      // Control frames (hello, ping) carry no "id"; event frames start with it.
      if (!event.data.startsWith('{"id"')) return;
      const probe = window.__surge;
      probe.frames += 1;
      if (probe.watch?.includes(probe.frames)) probe.frameAt[probe.frames] = performance.timeOrigin + performance.now();
    });
  }
};
"""

# Started right before the commit: checks once per animation frame whether the k-th incident is shown (see above)
# and records the wall-clock time two frames later.
WATCH_SHOWN = """
([milestones, preloaded]) => {
  const probe = window.__surge;
  Object.assign(probe, { watch: milestones, frames: 0, frameAt: {}, shownAt: {}, longTasks: [], applied: [] });
  const { state, layers, socket } = window.trackerDebug;
  // The ids of the events the dashboard applies, in the order it applies them.
  const apply = socket.onEnvelope;
  socket.onEnvelope = (envelope) => {
    probe.applied.push(envelope.id);
    apply(envelope);
  };
  const newestShown = () => Number(document.querySelector('#incidents-panel li[data-incident-id]')?.dataset.incidentId ?? 0);
  // The k-th incident of the surge has id preloaded + k.
  const shown = (k) => {
    const id = preloaded + k;
    return state.incidents.has(id) && layers.incidents.group.hasLayer(layers.incidents.markers.get(id))
      && newestShown() >= id;
  };
  let pending = [...milestones];
  const check = () => {
    const now = pending.filter(shown);
    if (now.length) {
      requestAnimationFrame(() => requestAnimationFrame(() => {
        for (const k of now) probe.shownAt[k] = performance.timeOrigin + performance.now();
      }));
      pending = pending.filter((k) => !now.includes(k));
    }
    if (pending.length) requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
}
"""

CHECK_ALL = """
([count, preloaded]) => {
  const { state, layers, socket } = window.trackerDebug;
  let drawn = 0;
  for (let id = preloaded + 1; id <= preloaded + count; id += 1) {
    if (state.incidents.has(id) && layers.incidents.group.hasLayer(layers.incidents.markers.get(id))) drawn += 1;
  }
  const applied = window.__surge.applied;
  const inOrder = applied.every((id, i) => i === 0 || id === applied[i - 1] + 1);
  return { drawn, applied: applied.length, first_applied: applied[0] ?? null, in_order: inOrder,
           last_event_id: socket.lastEventId, panel_first: Number(
    document.querySelector('#incidents-panel li[data-incident-id]')?.dataset.incidentId ?? 0) };
}
"""


def last_event_id() -> int:
    with psycopg.connect(BENCH_DSN) as conn:
        return conn.execute("SELECT coalesce(max(id), 0) FROM tracker_event").fetchone()[0]


async def surge_in_browser(base: str, count: int, preloaded: int) -> dict:
    """Open the dashboard signed in (showing the `preloaded` incidents, ids 1 to `preloaded`), commit `count`
    incidents in one transaction and return the page's figures."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = await signed_in_page(browser, base)
            await page.add_init_script(PAGE_PROBES)
            await page.goto(f"{base}/")
            await page.wait_for_selector("#connection-badge[data-state=connected]")
            # The view's incidents arrive in one apply, after their last page.
            await page.wait_for_function(f"() => trackerDebug.state.incidents.size >= {min(preloaded, 1)} "
                                         "&& document.querySelector('#incidents-panel[data-empty]')",
                                         timeout=DRAW_TIMEOUT_S * 1000)
            await asyncio.sleep(2)  # the first load's work is over
            shown_before = await page.evaluate("() => trackerDebug.layers.incidents.visibleCount()")
            milestones = sorted({min(MILESTONE, count), count})
            await page.evaluate(WATCH_SHOWN, [milestones, preloaded])
            burst = await asyncio.to_thread(django_task, "burst", "--count", str(count))
            commit_ms = burst["commit_ns"] / 1e6
            try:
                await page.wait_for_function(f"() => window.__surge.shownAt[{count}] !== undefined",
                                             timeout=SHOWN_TIMEOUT_S * 1000, polling=100)
            except PlaywrightTimeout:
                log(f"surge: not all {count} shown within {SHOWN_TIMEOUT_S} s of the commit")
            await asyncio.sleep(SETTLE_S)
            probe = await page.evaluate("() => window.__surge")
            origin = await page.evaluate("() => performance.timeOrigin")
            final = await page.evaluate(CHECK_ALL, [count, preloaded])
        finally:
            await browser.close()

    def since_commit(at: float | None) -> float | None:
        return None if at is None else at - commit_ms

    # Long tasks that ended after the commit started (one running across it froze the page in the surge too).
    tasks = [duration for start, duration in probe["longTasks"] if origin + start + duration >= commit_ms]
    return {
        "events": count,
        "preloaded": preloaded,
        "drawn_before": shown_before,
        "publish_after_commit_ms": (burst["published_ns"] - burst["commit_ns"]) / 1e6,
        "milestones": {
            str(k): {"received_ms": since_commit(probe["frameAt"].get(str(k))),
                     "shown_ms": since_commit(probe["shownAt"].get(str(k)))}
            for k in milestones
        },
        "long_tasks": {"count": len(tasks), "max_ms": max(tasks, default=0), "total_ms": sum(tasks)},
        "frames_received": probe["frames"],
        "drawn": final["drawn"],
        "applied": final["applied"],
        "first_applied": final["first_applied"],
        "applied_in_order": final["in_order"],
        "panel_first": final["panel_first"],
        "last_event_id": final["last_event_id"],
    }


def measure(server_kind: str, sizes: tuple[int, ...] = SIZES, preloaded: int = PRELOADED) -> dict:
    """Serve the app with `server_kind` and, for each size, surge that many incidents into a freshly opened
    dashboard already showing `preloaded` incidents; return the figures per size with the targets' verdicts."""
    server = Server(f"surge-{server_kind}", asgi_command(server_kind, PORT), PORT, django_env())
    runs = []
    with running(server):
        server.wait_ready(60, path="/healthz")
        for count in sizes:
            load_incidents(preloaded, sigma=PRELOAD_SIGMA)
            first_event = last_event_id() + 1
            started = time.monotonic()
            run = asyncio.run(surge_in_browser(f"http://{HOST}:{PORT}", count, preloaded))
            run["expected_last_event_id"] = first_event + count - 1
            # Every incident drawn, every event applied once in id order, and the resume position the last one.
            run["complete"] = (run["drawn"] == count and run["applied"] == count and run["applied_in_order"]
                               and run["first_applied"] == first_event
                               and run["last_event_id"] == run["expected_last_event_id"])
            shown = run["milestones"][str(count)]["shown_ms"]
            run["targets"] = {
                "shown_within_1s": shown is not None and shown <= TARGET_SHOWN_MS and run["complete"],
                "no_task_over_100ms": run["long_tasks"]["max_ms"] <= TARGET_LONGEST_TASK_MS,
            }
            log(f"surge: {count} events, all shown {shown} ms after the commit, complete {run['complete']}, "
                f"long tasks {run['long_tasks']} ({time.monotonic() - started:.0f} s)")
            runs.append(run)
    return {"server": server_kind, "preloaded": preloaded, "runs": runs}
