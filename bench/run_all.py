"""`make bench`: every benchmark in one run, within about 18 minutes, results in bench/results/.

    python -m bench.run_all            every item
    BENCH_ONLY=push,alerts ...         a subset (push, servers, alerts, map, latency, slow, writes, surge)
    BENCH_PROFILE=1 ...                also sample each push server with py-spy (bench/results/*.pyspy.tmp)

Writes bench/results/results.json (every figure) and bench/results/RESULTS.md (the tables and targets).
Order: push (item 1) first, on an empty database; then latency (5), the slow socket (6) and writes (7), before
alerts (3) and map (4) load their data; the server/layer comparison (2) last, skipped if the time budget is spent, since it repeats item 1's
measurement.
"""

import asyncio
import os
import time
import traceback
from datetime import datetime, timezone

from bench import alerts, database, mapload, push, request_latency, slow_socket, surge, writes
from bench.common import PREFIX, django_task, log, machine, raise_open_files, write_json
from bench.report import markdown

# Item 1 runs the defaults: the Makefile's SERVER (deploy/serve.sh uvicorn) and the settings' channel layer,
# the pair item 2 found fastest among the correct ones.
DEFAULT_PAIR = {"server": "uvicorn", "layer": "pubsub"}
SOCKETS = (100, 1_000, 5_000)
COMPARE_AT = 1_000
PAIRS = [
    {"server": server, "layer": layer}
    for server in ("daphne", "uvicorn", "granian")
    for layer in ("pubsub", "redis")
]
AREA_SIZES = (10_000, 100_000)
MAP_INCIDENTS = 100_000
# About 3.5 minutes of it are the writes item's (7).
BUDGET_S = 17 * 60 + 30
# What one comparison run (item 2) takes at most; it is skipped when less than this is left.
COMPARISON_S = 75


async def item_push(token: str, template: str) -> list[dict]:
    """Item 1: the default pair and the floor at each socket count (3 repetitions of 6 s)."""
    runs = []
    for n in SOCKETS:
        for target in ({"kind": "baseline"}, {"kind": "tracker", **DEFAULT_PAIR}):
            log(f"push: {target} with {n} sockets")
            runs.append(await guarded(push.measure(target, n, token, template, push.plan_for(n, 3, 6)), target, n))
    return runs


async def item_servers(token: str, template: str, started: float, default_run: dict | None) -> list[dict]:
    """Item 2: every server and layer at COMPARE_AT sockets (1 repetition), the default pair reused from
    item 1, as long as the time budget lasts."""
    runs = [default_run] if default_run else []
    for pair in PAIRS:
        if pair == DEFAULT_PAIR and default_run:
            continue
        if time.monotonic() - started > BUDGET_S - COMPARISON_S:
            runs.append({"target": {"kind": "tracker", **pair}, "skipped": "time budget spent"})
            continue
        target = {"kind": "tracker", **pair}
        log(f"servers: {target} with {COMPARE_AT} sockets")
        runs.append(await guarded(push.measure(target, COMPARE_AT, token, template,
                                               push.plan_for(COMPARE_AT, 1, 6)), target, COMPARE_AT))
    return runs


async def guarded(run, target: dict, n: int) -> dict:
    """Return the run's result, or a record of its failure: one broken configuration must not end the run."""
    try:
        return await run
    except Exception as error:
        log(f"failed: {target} with {n} sockets: {error!r}")
        return {"target": target, "clients": n, "error": repr(error), "traceback": traceback.format_exc()[-2000:]}


def main() -> None:
    started = time.monotonic()
    only = set(filter(None, os.environ.get("BENCH_ONLY", "push,servers,alerts,map,latency,slow,writes,surge").split(",")))
    raise_open_files()
    results = {
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "setup": {
            "server_processes": 1,
            "client_processes": push.CLIENT_PROCESSES,
            "clients_on": "the same machine as the server, PostgreSQL and Redis",
            "channel_layer_prefix": f"{PREFIX}-<random>",
            "database": "tracker_bench (created afresh)",
        },
    }
    database.recreate()
    token = database.bench_token()
    template = django_task("frame")["template"]
    try:
        if "push" in only:
            results["push"] = asyncio.run(item_push(token, template))
        if "latency" in only:
            results["latency"] = request_latency.measure(token)
        if "slow" in only:
            results["slow_socket"] = asyncio.run(slow_socket.measure(token))
        if "writes" in only:
            results["writes"] = writes.measure(token)
        if "surge" in only:  # before alerts and map load their areas and incidents
            results["surge"] = surge.measure(DEFAULT_PAIR["server"])
        if "alerts" in only:
            results["alerts"] = alerts.measure(AREA_SIZES, samples=300)
        if "map" in only:
            results["map"] = mapload.measure(MAP_INCIDENTS, token, DEFAULT_PAIR["server"])
        if "servers" in only:
            default_run = next(
                (r for r in results.get("push", []) if r.get("clients") == COMPARE_AT
                 and r.get("target", {}).get("kind") == "tracker" and "error" not in r),
                None,
            )
            results["servers"] = asyncio.run(item_servers(token, template, started, default_run))
    finally:
        results["elapsed_s"] = round(time.monotonic() - started)
        write_json("results", results)
        report = markdown(results)
        (push.ROOT / "bench" / "results" / "RESULTS.md").write_text(report)
        print(report)
        log(f"done in {results['elapsed_s']} s: bench/results/results.json, bench/results/RESULTS.md")


if __name__ == "__main__":
    main()
