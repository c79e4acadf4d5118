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


def lock_ms(summary: dict) -> str:
    hold = summary.get("lock_hold_ms", {})
    return f"{num(hold['p50'], 2)} / {num(hold['p99'], 2)}" if hold.get("measured") else "not measured"


def checks(summary: dict) -> str:
    if not summary.get("reps"):
        return "-"
    return "ok" if summary["checks_passed"] else "**failed**"


def rate(summary: dict) -> str:
    """Return the median rate of a writes summary with the range over its repetitions: "56.0 (52-60)"."""
    low_high = summary.get("per_s_range")
    spread = f" ({num(low_high[0])}-{num(low_high[1])})" if low_high and summary.get("reps", 0) > 1 else ""
    return num(summary.get("per_s"), 1) + spread


def cpu_ms_per_create(summary: dict) -> float | None:
    """Return the servers' CPU milliseconds per create of a writes summary (their cores over the rate)."""
    cores, rate = summary.get("server_cpu_cores"), summary.get("per_s")
    return None if not cores or not rate else 1000 * sum(cores) / rate


def writes_row(item: dict, writers: int) -> dict:
    """Return the item's summary row at `writers` (bench.writes.summarise), {} if it has none."""
    return next((row for row in item.get("by_writers", []) if row["writers"] == writers), {})


def writes_table(item: dict) -> list[str]:
    if not item:
        return ["not run"]
    lines = [
        f"Closed-loop writers; REST: {item['reps']} repetitions of {num(item['seconds'])} s for each process count, "
        f"alternating (medians, the rates' range in brackets); raw: {num(item['raw_seconds'])} s; each after "
        f"{num(item['warmup_s'])} s of warm-up. Writers are threads in {item['client_processes']} client processes "
        "on the same 2 cores as the servers, nginx and PostgreSQL. REST: POST /api/v1/incidents/ through nginx "
        "(the deploy site, TLS), each create raising one alert; raw: INSERT of a point row + COMMIT (psycopg). "
        "Checks, every REST cell: event ids gap-free and numbering creates + alerts; one WebSocket through nginx got "
        "every event once, in order.",
        "",
        "| writers | raw /s | 1 process: creates/s | p50 (ms) | p99 (ms) | 2 processes: creates/s | p50 (ms) "
        "| p99 (ms) | 2nd process adds | lock hold p50 / p99 (ms), 2 processes | not 2xx (1 / 2 proc.) "
        "| backends waiting for a lock / in a transaction (mean, 2 proc.) "
        "| CPU (cores, 2 proc.): servers / clients | server CPU per create (ms, 2 proc.) | checks (1 / 2 proc.) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|---:|---|",
    ]
    for row in item.get("by_writers", []):
        one, two = row["rest"]["1"], row["rest"]["2"]
        gain = row.get("second_process_gain")
        lines.append(
            f"| {row['writers']} | {num(row.get('raw_per_s'))} | {rate(one)} | {num(one.get('p50_ms'))} "
            f"| {num(one.get('p99_ms'))} | {rate(two)} | {num(two.get('p50_ms'))} "
            f"| {num(two.get('p99_ms'))} | {'-' if gain is None else f'{100 * gain:+.0f} %'} | {lock_ms(two)} "
            f"| {num(one.get('not_2xx'))} / {num(two.get('not_2xx'))} "
            f"| {num(two.get('lock_waiting_mean'), 1)} / {num(two.get('in_transaction_mean'), 1)} "
            f"| {' + '.join(num(c, 2) for c in two.get('server_cpu_cores', []))} "
            f"/ {num(two.get('client_cpu_cores'), 2)} | {num(cpu_ms_per_create(two), 1)} "
            f"| {checks(one)} / {checks(two)} |"
        )
    busy = [r["machine_busy"] for r in item.get("runs", []) if r.get("mode") == "rest"]
    if busy:
        lines += ["", f"The machine's CPU was {100 * min(busy):.0f}-{100 * max(busy):.0f} % busy during the REST cells "
                      "(the servers, PostgreSQL, nginx, the clients and whatever else ran on it)."]
    ceiling = [r for r in item.get("runs", []) if r.get("mode") == "static"]
    if ceiling:
        lines += ["", "What the client and nginx do at all (a static file through nginx): " + ", ".join(
            f"{num(r['per_s'])}/s at {r['writers']} writers (client CPU {num(r['client_cpu_cores'], 2)} cores)"
            for r in ceiling) + "."]
    failed = [r for r in item.get("runs", []) if "failed" in r]
    if failed:
        lines += ["", "Failed cells: " + "; ".join(f"{r['cell']}: {r['failed'][:120]}" for r in failed) + "."]
    statements = item.get("statements")
    if statements:
        lines += ["", f"SQL statements of one create ({statements['alerts']} alert, {statements['events']} events), "
                      f"BEGIN and COMMIT apart (the raw baseline: 1), captured by Django through the test client: "
                      f"{statements['statements']} (+ {statements['transaction_control']}); the pool's connection "
                      "check before each request is not counted.", ""]
        lines += [f"{n}. `{sql[:110]}`" for n, sql in enumerate(statements["sql"], 1)]
    return lines


def writes_targets(item: dict) -> list[tuple]:
    """Return the target rows of the writes item (issue 14): (target, measured, met or None)."""
    goal = item.get("targets", {})
    at = goal.get("at_writers", 16)
    row = writes_row(item, at)
    two = row.get("rest", {}).get("2", {})
    gain = row.get("second_process_gain")
    hold = two.get("lock_hold_ms", {})
    statements = item.get("statements", {}).get("statements")
    rest = [r for r in item.get("runs", []) if r.get("mode") == "rest"]
    return [
        (f"writes, {at} writers, 2 processes: >= {goal.get('creates_per_s')} creates/s",
         f"{num(two.get('per_s'), 1)}/s", None if two.get("per_s") is None else two["per_s"] >= goal["creates_per_s"]),
        (f"writes, {at} writers, 2 processes: p99 <= {goal.get('p99_ms')} ms", f"{num(two.get('p99_ms'))} ms",
         None if two.get("p99_ms") is None else two["p99_ms"] <= goal["p99_ms"]),
        (f"writes, {at} writers: the 2nd process adds >= {100 * goal.get('second_process_gain', 0):.0f} %",
         "-" if gain is None else f"{100 * gain:+.0f} %",
         None if gain is None else gain >= goal["second_process_gain"]),
        (f"writes: event-id lock held <= {goal.get('lock_hold_p99_ms')} ms p99 ({at} writers, 2 processes)",
         f"{num(hold['p99'], 2)} ms" if hold.get("measured") else "not measured",
         hold["p99"] <= goal["lock_hold_p99_ms"] if hold.get("measured") else None),
        (f"writes: <= {goal.get('statements')} SQL statements per create raising one alert", num(statements),
         None if statements is None else statements <= goal["statements"]),
        ("writes: log gap-free, every event to a socket once, in order",
         f"{sum(r['checks_passed'] for r in rest)} of {len(rest)} cells",
         None if not rest else item.get("all_checks_passed")),
    ]


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
    if results.get("writes"):
        rows += writes_targets(results["writes"])
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
        "## 7. Concurrent writers (bench/writes.py)",
        "",
        *writes_table(results.get("writes", {})),
        "## 8. A surge of events into an open dashboard (bench/surge.py)",
        "",
        *surge_table(results.get("surge", {})),
        "",
    ]
    return "\n".join(out)
