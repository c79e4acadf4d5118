"""The markdown summary of a run (bench/results/RESULTS.md): tables per item and the issue's targets."""


def num(value, digits: int = 0) -> str:
    """Format a number with thousands separators, or "-" for a missing one."""
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def pct(value) -> str:
    return "-" if value is None else f"{100 * value:.2f} %"


def label(target: dict) -> str:
    if target.get("kind") == "baseline":
        return "floor: websockets broadcast"
    return f"{target.get('server')} + {target.get('layer')}"


def floor_for(runs: list[dict], n: int) -> dict:
    return next((r for r in runs if r.get("clients") == n and r.get("target", {}).get("kind") == "baseline"), {})


def connect_failures(run: dict) -> str:
    """Return ", N refused" when some sockets could not connect (they are left out of `delivered`)."""
    return f", {num(run['failed'])} refused" if run.get("failed") else ""


def push_table(runs: list[dict], floors: list[dict]) -> list[str]:
    lines = [
        "| server | sockets | rate /s | connect all (s) | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) | delivered "
        "| fan-out frames/s | vs floor | KB/socket |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        target = run.get("target", {})
        if "error" in run or "skipped" in run:
            why = run.get("skipped") or "failed: " + run["error"][:80]
            lines.append(f"| {label(target)} | {num(run.get('clients'))} | {why} |" + " |" * 9)
            continue
        floor = floor_for(floors, run["clients"])
        measured = target.get("kind") == "tracker" and floor.get("fps") and run.get("fps")
        ratio = run["fps"] / floor["fps"] if measured else None
        lines.append(
            f"| {label(target)} | {num(run['clients'])} | {num(run['rate'])} "
            f"| {num(run.get('connect_s'), 1)}{connect_failures(run)} "
            f"| {num(run.get('p50_ms'))} | {num(run.get('p95_ms'))} | {num(run.get('p99_ms'))} "
            f"| {num(run.get('max_ms'))} "
            f"| {pct(run.get('delivered'))} | {num(run.get('fps'))} | {pct(ratio) if ratio else '-'} "
            f"| {num(run.get('kb_per_socket'), 1)} |"
        )
    return lines


def alerts_table(item: dict) -> list[str]:
    lines = [
        "| areas | territory (km) | mean / max vertices | matches per incident | create p50 (ms) | create p99 (ms) "
        "| raw query p50 (ms) | raw p99 (ms) | create / raw (p50, p99) |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for run in item.get("runs", []):
        lines.append(
            f"| {num(run['areas'])} | {run['territory_km']} | {run['vertices']['mean']} / {run['vertices']['max']} "
            f"| {run['matches_per_incident']:.1f} "
            f"| {num(run['create_ms']['p50'], 1)} | {num(run['create_ms']['p99'], 1)} "
            f"| {num(run['raw_ms']['p50'], 2)} | {num(run['raw_ms']['p99'], 2)} "
            f"| {run['ratio_p50']:.1f}x, {run['ratio_p99']:.1f}x |"
        )
    growth = item.get("growth")
    if growth:
        lines.append("")
        lines.append(
            f"10x the areas: incident create p50 x{growth['create_p50_x']:.2f}, "
            f"raw query p50 x{growth['raw_p50_x']:.2f}."
        )
    return lines


def map_table(item: dict) -> list[str]:
    browser, api = item.get("browser", {}), item.get("api", {})
    page, clusters = api.get("page", {}), api.get("clusters", {})
    lines = [
        "| measure | value |",
        "|---|---:|",
        f"| incidents in the database | {num(item.get('incidents'))} |",
        f"| incidents in the dashboard's first view | {num(browser.get('view_incidents'))} |",
        f"| drawn as | {browser.get('mode')} |",
        f"| first map drawn (ms from navigation start) | {num(browser.get('first_draw_ms'))} |",
        f"| bytes until drawn (all requests) | {num(browser.get('bytes_to_first_draw'))} |",
        f"| requests until drawn | {num(browser.get('requests_to_first_draw'))} |",
        f"| longest main-thread task while loading (ms) | {num(browser.get('longest_task_ms_loading'))} |",
    ]
    for i, pan in enumerate(browser.get("pans", []), 1):
        lines.append(f"| pan {i}: loaded (ms) / bytes / longest task (ms) | {num(pan['ms'])} / {num(pan['bytes'])} "
                     f"/ {num(pan['longest_task_ms'])} |")
    lines += [
        f"| API, one page of 1,000 incidents (ms / bytes) | {num(page.get('ms'))} / {num(page.get('bytes'))} |",
        f"| API, pages of 1,000 for the whole view | {num(api.get('pages_for_view'))} |",
        f"| API, the view's clusters (ms / bytes / clusters) | {num(clusters.get('ms'))} / "
        f"{num(clusters.get('bytes'))} / {num(clusters.get('features'))} |",
    ]
    return lines


def latency_table(item: dict) -> list[str]:
    if not item:
        return ["not run"]
    server, local = item["server_ms"], item["in_process_ms"]
    lines = [
        f"`GET {item['path']}`, {item['rounds']} alternating rounds of {item['requests_per_round']} requests each side.",
        "",
        "| through | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, run in ((f"{item['server']}, one process (deploy/serve.sh)", server), ("in-process test client", local)):
        lines.append(f"| {name} | {num(run['p50'], 1)} | {num(run['p95'], 1)} | {num(run['p99'], 1)} "
                     f"| {num(run['max'], 1)} |")
    lines += ["", f"Server / in-process median: {item['ratio_p50']:.2f}x."]
    return lines


def slow_socket_table(item: dict) -> list[str]:
    if not item:
        return ["not run"]
    stalled = item["stalled_socket"]
    lines = [
        f"{item['readers']} readers, {item['events_per_phase']} incidents per phase at {item['rate']:.0f}/s "
        f"(frames of {item['frame_bytes']} bytes); latency from the event's `at` to receipt.",
        "",
        "| phase | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) | delivered |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, run in (("readers alone", item["baseline"]), ("with one stalled socket", item["stalled"])):
        lines.append(f"| {name} | {num(run['p50'], 1)} | {num(run['p95'], 1)} | {num(run['p99'], 1)} "
                     f"| {num(run['max'], 1)} | {pct(run['received'] / run['expected'])} |")
    lines += ["", f"p99 with / without: {item['p99_ratio']:.2f}x. The stalled socket was sent "
              f"{stalled['events_received']} events ({stalled['bytes_received']} bytes) and closed with "
              f"{stalled['close_code']}; resuming with ?after={stalled['resumed_after']} it got "
              f"{stalled['resumed_events']} more. Server RSS {num(item['rss_before_kb'])} kB before, "
              f"{num(item['rss_peak_stalled_kb'])} kB at most while it was stalled."]
    return lines


def surge_table(item: dict) -> list[str]:
    if not item:
        return ["not run"]
    lines = [
        f"Incidents committed in one transaction into an open dashboard (headless Chromium, {item['server']}); "
        "times from the start of the COMMIT; shown = in the store, its marker in the layer and the newest-incidents "
        "panel up to it, at the next frame (bench/surge.py).",
        "",
        "| events | 500th received / shown (ms) | last received / shown (ms) | all drawn, applied once in order | long tasks "
        "| longest (ms) | long tasks total (ms) |",
        "|---:|---:|---:|---|---:|---:|---:|",
    ]
    for run in item["runs"]:
        first, last = run["milestones"].get("500", {}), run["milestones"][str(run["events"])]
        tasks = run["long_tasks"]
        lines.append(
            f"| {num(run['events'])} | {num(first.get('received_ms'))} / {num(first.get('shown_ms'))} "
            f"| {num(last['received_ms'])} / {num(last['shown_ms'])} | {'yes' if run['complete'] else '**no**'} "
            f"| {tasks['count']} | {num(tasks['max_ms'])} | {num(tasks['total_ms'])} |"
        )
    return lines


def verdict(ok) -> str:
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def targets(results: dict) -> list[str]:
    push = results.get("push", [])
    tracker = {r["clients"]: r for r in push if r.get("target", {}).get("kind") == "tracker" and "error" not in r}
    rows = []
    t1 = tracker.get(1000, {})
    floor = floor_for(push, 1000)
    ratio = t1["fps"] / floor["fps"] if t1.get("fps") and floor.get("fps") else None
    rows.append(("1,000 sockets, 10/s: p99 <= 250 ms", f"{num(t1.get('p99_ms'))} ms",
                 None if t1.get("p99_ms") is None else t1["p99_ms"] <= 250))
    rows.append(("1,000 sockets: 100 % delivered", pct(t1.get("delivered")),
                 None if t1.get("delivered") is None else t1["delivered"] == 1))
    rows.append(("1,000 sockets: fan-out >= 50 % of the floor", pct(ratio), None if ratio is None else ratio >= 0.5))
    t5 = tracker.get(5000, {})
    rows.append(("5,000 sockets: all connected within 60 s",
                 f"{num(t5.get('connected'))} in {num(t5.get('connect_s'), 1)} s",
                 None if not t5 else t5.get("failed") == 0 and t5["connect_s"] <= 60))
    rows.append(("5,000 sockets: p99 <= 1 s", f"{num(t5.get('p99_ms'))} ms",
                 None if t5.get("p99_ms") is None else t5["p99_ms"] <= 1000))
    rows.append(("5,000 sockets: <= 50 KB server memory per socket", f"{num(t5.get('kb_per_socket'), 1)} KB",
                 None if t5.get("kb_per_socket") is None else t5["kb_per_socket"] <= 50))
    big = next((r for r in results.get("alerts", {}).get("runs", []) if r["areas"] == 100_000), None)
    rows.append(("100,000 areas: incident create p99 <= 20 ms",
                 "-" if not big else f"{num(big['create_ms']['p99'], 1)} ms",
                 None if not big else big["create_ms"]["p99"] <= 20))
    rows.append(("100,000 areas: create <= 3x the raw query (p99)",
                 "-" if not big else f"{big['ratio_p99']:.1f}x", None if not big else big["ratio_p99"] <= 3))
    browser = results.get("map", {}).get("browser", {})
    drawn = browser.get("first_draw_ms")
    rows.append(("100,000 incidents: first map drawn <= 2 s", f"{num(drawn)} ms" if drawn else "not drawn",
                 None if not browser else drawn is not None and drawn <= 2000))
    sent = browser.get("bytes_to_first_draw")
    rows.append(("100,000 incidents: <= 2 MB transferred", f"{num(sent)} bytes" if sent else "-",
                 None if sent is None else sent <= 2 * 2**20))
    latency = results.get("latency")
    rows.append(("one API request through the server: p50 <= 1.5x in-process",
                 f"{latency['ratio_p50']:.2f}x" if latency else "-",
                 None if not latency else latency["ratio_p50"] <= latency["target_ratio"]))
    slow = results.get("slow_socket")
    rows.append(("a stalled socket: the others' p99 within 2x", f"{slow['p99_ratio']:.2f}x" if slow else "-",
                 None if not slow else slow["p99_ratio"] <= 2))
    surge = next((r for r in results.get("surge", {}).get("runs", []) if r["events"] == 2000), None)
    shown = surge and surge["milestones"]["2000"]["shown_ms"]
    rows.append(("a surge of 2,000 events: all shown within 1 s", f"{num(shown)} ms" if shown else "-",
                 None if not surge else surge["targets"]["shown_within_1s"]))
    rows.append(("a surge of 2,000 events: no main-thread task over 100 ms",
                 f"{num(surge['long_tasks']['max_ms'])} ms" if surge else "-",
                 None if not surge else surge["targets"]["no_task_over_100ms"]))
    return ["| target | measured | |", "|---|---:|---|"] + [f"| {t} | {m} | {verdict(ok)} |" for t, m, ok in rows]


def markdown(results: dict) -> str:
    """Return the RESULTS.md text for `results` (see bench.run_all)."""
    m, setup = results.get("machine", {}), results.get("setup", {})
    out = [
        "# Benchmark results",
        "",
        f"Run {results.get('started')} in {results.get('elapsed_s')} s on {m.get('cpu')}, {m.get('cores')} cores, "
        f"{m.get('memory_gib')} GiB, Linux {m.get('kernel')}, Python {m.get('python')}. One server process; "
        f"{setup.get('client_processes')} client processes (asyncio + websockets) on {setup.get('clients_on')}. "
        "Latency: start of the POST (floor: of the Redis PUBLISH) to receipt by the client; medians of the "
        "repetitions' percentiles. Fan-out: frames/s from a burst's commit to its last receipt.",
        "Why targets are missed and which changes meet them: bench/README.md, \"What limits it\".",
        "",
        "## Targets",
        "",
        *targets(results),
        "",
        "## 1. Push latency and fan-out (the default pair, beside the floor)",
        "",
        *push_table(results.get("push", []), results.get("push", [])),
        "",
        "## 2. Servers and channel layers at 1,000 sockets (one repetition each)",
        "",
        *push_table(results.get("servers", []), results.get("push", [])),
        "",
        "## 3. Alert matching",
        "",
        *alerts_table(results.get("alerts", {})),
        "",
        "## 4. Map load",
        "",
        *map_table(results.get("map", {})),
        "",
        "## 5. Single-request latency",
        "",
        *latency_table(results.get("latency", {})),
        "",
        "## 6. One socket that stops reading (bench/slow_socket.py)",
        "",
        *slow_socket_table(results.get("slow_socket", {})),
        "",
        "## 7. A surge of events into an open dashboard (bench/surge.py)",
        "",
        *surge_table(results.get("surge", {})),
        "",
    ]
    return "\n".join(out)
