"""Item 7: concurrent REST writers against 1 and 2 server processes behind nginx, beside raw INSERT + COMMIT.

    BENCH_ONLY=writes python -m bench.run_all        (part of `make bench`)

Two server processes (`deploy/serve.sh uvicorn`, the bench's production-like settings, JSON logs with the
event-id assignments at DEBUG) and two nginx instances running the deploy site (deploy/nginx/tracker.conf via
tests/support/nginx.py, TLS with a throw-away certificate): one with the first process as its only upstream,
one with both. Then, for 1, 4, 16 and 64 writers, interleaved so that the machine's noise falls on all alike:
  - raw: that many psycopg connections, each a closed loop of INSERT of a point row (GiST-indexed, like an
    incident's) and COMMIT, RAW_SECONDS s: what PostgreSQL itself does at that concurrency here;
  - rest, 1 and 2 processes: that many writers, each a closed loop of POST /api/v1/incidents/ through nginx
    with a token, SECONDS s: a high-severity incident inside the one area of interest, so that each create
    raises one alert (two events, one id assignment); REPS times, 1 and 2 processes alternating.
Every cell runs WARMUP s untimed first. Writers are threads in CLIENT_PROCESSES processes (bench/writers.py) on
the same 2 cores as the servers, nginx and PostgreSQL; their CPU is reported, and a static file fetched
through nginx at 16 and 64 writers shows what the client and nginx can do at all.

Reported per cell: creates/s (2xx completed in the timed window), latency p50/p99 (requests started in it),
statuses, CPU of the clients, the servers and the machine; in REST cells, how many of the database's backends
were in a transaction and how many waited for a lock (sampled). For each REST cell, afterwards: the event
log's ids over the cell are gap-free and number creates + alerts; one WebSocket listener, connected through
nginx to either process since the start, received every event of the cell once and in order; and the event-id lock
hold times the servers logged (tracker.stream.ids), or "not measured" when they log none. Per writer count
and process count, the medians over the repetitions (see summarise). Once: the SQL statements of one create
(bench.djtasks create_statements).
"""

import asyncio
import json
import os
import ssl
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path

import psycopg

from bench.alerts import clear_areas
from bench.common import (
    BENCH_DSN, HOST, PORTS, PREFIX, PYTHON, ROOT, Server, asgi_command, django_env, django_task, log, median_of,
    running, summarize,
)
from bench.push import WS_PATH, delete_keys
from bench.writers import RAW_TABLE, STATIC_PATH, TIMEOUT_S
from tests.support.nginx import Nginx
from tests.support.stream_client import StreamClient

WRITERS = (1, 4, 16, 64)
PROCESSES = (1, 2)
SECONDS = 5.0
REPS = 3
RAW_SECONDS = 4.0
STATIC_SECONDS = 3.0
CEILING_AT = (16, 64)
WARMUP = 1.0
CLIENT_PROCESSES = 2
# The area of interest every incident falls in (threshold high), away from the other items' incidents (around
# the default centre), and the box the writers pick points from, inside it.
AREA = (-58.72, -34.92, -58.70, -34.90)
POINTS = (-58.719, -34.919, -58.701, -34.901)
DRAIN_S = 20.0
SAMPLE_S = 0.05
IDS_LOGGER = "tracker.stream.ids"
# The targets (issue 14), on this 2-core machine.
TARGETS = {"creates_per_s": 150, "at_writers": 16, "p99_ms": 250, "second_process_gain": 0.40,
           "lock_hold_p99_ms": 2.0, "statements": 7}


def id_assignments(lines: Iterable[str]) -> list[dict]:
    """Return the event-id assignments among log `lines`: the JSON records of logger tracker.stream.ids that
    carry first_id, count and lock_hold_ms (what a server writes to stderr with LOG_FORMAT=json and
    TRACKER_IDS_LOG_LEVEL=DEBUG), as {first_id, count, lock_hold_ms}; every other line is skipped."""
    found = []
    for line in lines:
        if IDS_LOGGER not in line or "{" not in line:
            continue
        try:
            record = json.loads(line[line.index("{"):])
        except ValueError:
            continue
        if record.get("logger") == IDS_LOGGER and {"first_id", "count", "lock_hold_ms"} <= record.keys():
            found.append({key: record[key] for key in ("first_id", "count", "lock_hold_ms")})
    return found


def lock_hold(servers: list[Server], after: int, last: int) -> dict:
    """Return the lock hold times (ms) of the assignments of ids after..last the servers logged, or
    {"measured": False} when they logged none."""
    records = []
    for server in servers:
        with open(server.log_path, errors="replace") as lines:
            records += [r for r in id_assignments(lines) if after < r["first_id"] <= last]
    if not records:
        return {"measured": False}
    return {"measured": True, "assignments": len(records), "ids": sum(r["count"] for r in records),
            **summarize([r["lock_hold_ms"] for r in records])}


def process_cpu_s(pid: int) -> float:
    """Return the CPU seconds (user + system) process `pid` has used, 0 once it has gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int]:
    """Return (busy, total) CPU ticks of the whole machine since boot."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:9]]
    return sum(values) - values[3] - values[4], sum(values)  # idle and iowait are not busy


def db_marks() -> dict:
    """Return the highest event, incident and alert ids (0 for an empty table)."""
    with psycopg.connect(BENCH_DSN, autocommit=True) as conn:
        return {table: conn.execute(f"SELECT coalesce(max(id), 0) FROM tracker_{table}").fetchone()[0]
                for table in ("event", "incident", "alert")}


def log_check(before: dict, created: int) -> dict:
    """Return what the log holds after `before`: its ids (gap-free from the next one on?), events by type,
    the incidents and alerts written, and whether the events number creates + alerts, `created` (the
    clients' 201s) being the incidents and each raising one alert."""
    with psycopg.connect(BENCH_DSN, autocommit=True) as conn:
        first, last, count = conn.execute(
            "SELECT min(id), max(id), count(*) FROM tracker_event WHERE id > %s", [before["event"]]
        ).fetchone()
        types = dict(conn.execute(
            "SELECT type, count(*) FROM tracker_event WHERE id > %s GROUP BY type", [before["event"]]
        ).fetchall())
        incidents, alerts = (conn.execute(f"SELECT count(*) FROM tracker_{table} WHERE id > %s",
                                          [before[table]]).fetchone()[0] for table in ("incident", "alert"))
    gap_free = count == 0 or (first == before["event"] + 1 and last - first + 1 == count)
    return {
        "first_id": first, "last_id": last, "events": count, "types": types,
        "incidents": incidents, "alerts": alerts, "gap_free": gap_free,
        "counts_match": created == incidents == alerts == types.get("incident", 0) == types.get("alert", 0)
                        and count == incidents + alerts,
    }


async def listener_check(listener: StreamClient, after: int, last: int | None) -> dict:
    """Wait (at most DRAIN_S) until the listener has event `last`; return whether it got after+1..last, each
    once, in order."""
    if last is None:
        return {"expected": 0, "received": 0, "exactly_once_in_order": True}
    deadline = time.monotonic() + DRAIN_S
    while listener.last < last and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    got = [i for i in listener.ids if after < i <= last]
    expected = list(range(after + 1, last + 1))
    return {
        "expected": len(expected), "received": len(set(got)), "duplicates": len(got) - len(set(got)),
        "exactly_once_in_order": got == expected,
    }


async def run_writers(mode: str, writers: int, target: str, seconds: float, token: str = "") -> dict:
    """Run `writers` closed-loop writers of `mode` (bench/writers.py) in up to CLIENT_PROCESSES processes,
    started together after all have their connections; return their merged result."""
    shares = [n for n in (writers // CLIENT_PROCESSES + (i < writers % CLIENT_PROCESSES)
                          for i in range(CLIENT_PROCESSES)) if n]
    processes = [
        await asyncio.create_subprocess_exec(
            PYTHON, "-m", "bench.writers", "--mode", mode, "--writers", str(share), "--target", target,
            "--token", token, "--bbox", *map(str, POINTS), "--seconds", str(seconds), "--warmup", str(WARMUP),
            "--process", str(number), cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            limit=2**26,
        )
        for number, share in enumerate(shares)
    ]
    try:
        for process in processes:
            ready = await asyncio.wait_for(process.stdout.readline(), 60)
            if not ready:
                raise RuntimeError(f"bench.writers exited with {await process.wait()} before it was ready")
        for process in processes:
            process.stdin.write(b"go\n")
            await process.stdin.drain()
        answers = [json.loads(await asyncio.wait_for(p.stdout.readline(), WARMUP + seconds + TIMEOUT_S + 30))
                   for p in processes]
    finally:
        for process in processes:
            if process.returncode is None:
                try:
                    await asyncio.wait_for(process.wait(), 10)
                except asyncio.TimeoutError:
                    process.kill()
    statuses = sum((Counter(a["statuses"]) for a in answers), Counter())
    return {
        "ok": sum(a["ok"] for a in answers),
        "window_ok": sum(a["window_ok"] for a in answers),
        "latency_ms": [ms for a in answers for ms in a["latency_ms"]],
        "statuses": dict(sorted(statuses.items())),
        "connected": sum(a["connected"] for a in answers),
        "refused": next((r for a in answers for r in a["refused"]), None),
        "error": next((a["error"] for a in answers if a["error"]), None),
        "client_cpu_s": [a["cpu_s"] for a in answers],
    }


async def cell(mode: str, writers: int, target: str, seconds: float, servers: list[Server], token: str = "") -> dict:
    """Run one cell and return its figures (see module docstring), without the REST checks."""
    busy0, total0 = machine_ticks()
    server_cpu0 = [process_cpu_s(s.pid) for s in servers]
    started = time.monotonic()
    ran = await run_writers(mode, writers, target, seconds, token)
    wall = time.monotonic() - started
    busy1, total1 = machine_ticks()
    latency = summarize(ran.pop("latency_ms"))
    cpu = ran.pop("client_cpu_s")
    return {
        "mode": mode, "writers": writers, "seconds": seconds,
        "per_s": ran["window_ok"] / seconds,
        "p50_ms": latency.get("p50"), "p99_ms": latency.get("p99"), "latency_ms": latency,
        **ran,
        # CPU over the timed window (clients: the busiest process too: one process's threads share one GIL);
        # servers and machine over the whole cell, warm-up and tail included.
        "client_cpu_cores": sum(cpu) / seconds,
        "client_cpu_busiest_process": max(cpu) / seconds,
        "server_cpu_cores": [(process_cpu_s(s.pid) - before) / wall for s, before in zip(servers, server_cpu0)],
        "machine_busy": (busy1 - busy0) / max(1, total1 - total0),
    }


async def sample_backends(stop: asyncio.Event) -> dict:
    """Until `stop` is set, sample the bench database's other backends every SAMPLE_S s; return how many were
    in a transaction and how many waited for a lock (heavyweight: a writer queued on the event counter's row
    waits on Lock:transactionid), on average, and the lock waits seen most."""
    samples, waits = [], Counter()
    async with await psycopg.AsyncConnection.connect(BENCH_DSN, autocommit=True) as conn:
        while not stop.is_set():
            rows = await (await conn.execute(
                "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )).fetchall()
            waiting = [f"{kind}:{event}" for _, kind, event in rows if kind == "Lock"]
            samples.append((sum(state in ("active", "idle in transaction") for state, _, _ in rows), len(waiting)))
            waits.update(waiting)
            try:
                await asyncio.wait_for(stop.wait(), SAMPLE_S)
            except TimeoutError:
                pass
    return {
        "samples": len(samples),
        "in_transaction_mean": statistics.fmean(n for n, _ in samples) if samples else None,
        "lock_waiting_mean": statistics.fmean(n for _, n in samples) if samples else None,
        "lock_waits": dict(waits.most_common(3)),
    }


async def rest_cell(writers: int, processes: int, rep: int, site: Nginx, servers: list[Server], token: str,
                    listener: StreamClient) -> dict:
    """Run one REST cell and check the log, the listener and the lock hold times afterwards."""
    before = db_marks()
    stop = asyncio.Event()
    sampling = asyncio.create_task(sample_backends(stop))
    try:
        result = await cell("rest", writers, site.base, SECONDS, servers, token)
    finally:
        stop.set()
    result.update(processes=processes, rep=rep, backends=await sampling)
    result["log"] = log_check(before, result["ok"])
    last = result["log"]["last_id"]
    result["listener"] = await listener_check(listener, before["event"], last)
    result["lock_hold_ms"] = lock_hold(servers, before["event"], last or before["event"])
    result["checks_passed"] = (result["log"]["gap_free"] and result["log"]["counts_match"]
                               and result["listener"]["exactly_once_in_order"])
    return result


async def cells(token: str, servers: list[Server], sites: dict[int, Nginx]) -> dict:
    """Run every cell (see module docstring) with one listener throughout; return them and the listener's
    connection record."""
    tls = ssl._create_unverified_context()  # nginx's throw-away certificate
    listener = StreamClient("writes-listener", [f"wss://{sites[2].base}{WS_PATH}"], token,
                            after=db_marks()["event"], tls=tls)
    done, target, connected = asyncio.Event(), [0], asyncio.Event()
    following = asyncio.create_task(listener.follow(done, target, connected=connected))
    await asyncio.wait_for(connected.wait(), 15)
    runs = []

    async def guarded(what: str, run) -> None:
        log(f"writes: {what}")
        try:
            runs.append(await run)
        except Exception as error:  # one failed cell must not lose the others
            log(f"writes: {what} failed: {error!r}")
            runs.append({"cell": what, "failed": repr(error)})

    try:
        for writers in WRITERS:
            await guarded(f"raw, {writers} writers", cell("raw", writers, BENCH_DSN, RAW_SECONDS, servers))
            for rep in range(REPS):
                # Alternating which goes first, so that neither always follows the raw cell.
                for processes in PROCESSES if rep % 2 == 0 else reversed(PROCESSES):
                    await guarded(f"rest, {processes} process(es), {writers} writers, repetition {rep + 1}",
                                  rest_cell(writers, processes, rep, sites[processes], servers, token, listener))
        for writers in CEILING_AT:
            await guarded(f"static, {writers} writers",
                          cell("static", writers, sites[2].base, STATIC_SECONDS, servers))
    finally:
        target[0] = listener.last
        done.set()
        try:
            await asyncio.wait_for(following, 10)
        except asyncio.TimeoutError:
            following.cancel()
    return {"runs": runs, "listener": {"connections": listener.connections, "resyncs": listener.resyncs,
                                       "close_codes": listener.close_codes, "events": len(listener.ids)}}


def create_raw_table() -> None:
    with psycopg.connect(BENCH_DSN, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")
        conn.execute(f"CREATE TABLE {RAW_TABLE} (id bigserial PRIMARY KEY, name text NOT NULL, "
                     "location geometry(Point, 4326) NOT NULL, created_at timestamptz NOT NULL DEFAULT now())")
        conn.execute(f"CREATE INDEX ON {RAW_TABLE} USING gist (location)")


def clean_up() -> None:
    """Drop the raw table and the area (and its alerts): the items after this one measure without alerts."""
    with psycopg.connect(BENCH_DSN, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")
        clear_areas(conn)


def measure(token: str) -> dict:
    """Run item 7 (see module docstring) and return its figures; servers, nginx, the raw table, the area and
    the run's Redis keys are gone afterwards."""
    started = time.monotonic()
    port = PORTS["writes"]
    prefix = f"{PREFIX}-{uuid.uuid4().hex[:8]}"
    env = django_env(CHANNEL_LAYER_PREFIX=prefix, LOG_FORMAT="json", TRACKER_IDS_LOG_LEVEL="DEBUG")
    result = {"area": AREA, "seconds": SECONDS, "reps": REPS, "raw_seconds": RAW_SECONDS, "warmup_s": WARMUP,
              "client_processes": CLIENT_PROCESSES, "targets": TARGETS}
    create_raw_table()
    try:
        result["statements"] = django_task("create_statements", "--bbox", *map(str, AREA))
        with tempfile.TemporaryDirectory(prefix="bench-writes-") as tmp, ExitStack() as stack:
            servers = [Server(f"writes-{n}", asgi_command("uvicorn", port + n), port + n, env) for n in (0, 1)]
            for server in servers:
                stack.enter_context(running(server))
            for server in servers:
                server.wait_ready(60, path="/healthz")
            static = Path(tmp) / "static"
            static.mkdir()
            (static / Path(STATIC_PATH).name).write_text("User-agent: *\n")
            sites = {}
            for processes in PROCESSES:
                site = Nginx(Path(tmp) / f"nginx-{processes}", [f"{HOST}:{s.port}" for s in servers[:processes]],
                             port=port + 1 + processes, redirect_port=port + 3 + processes, static_root=static,
                             worker_connections=1024)
                stack.callback(site.stop)
                sites[processes] = site.start()
            result.update(asyncio.run(cells(token, servers, sites)))
    finally:
        clean_up()
        delete_keys(prefix)
    result["elapsed_s"] = round(time.monotonic() - started)
    summarise(result)
    return result


def rest_summary(runs: list[dict]) -> dict:
    """Return the medians over the repetitions of one writer and process count (rates, with their range,
    latency percentiles, lock hold percentiles, backends waiting for a lock and in a transaction, CPU), the
    answers that were not 2xx in all, and whether every repetition passed its checks."""
    holds = [r["lock_hold_ms"] for r in runs if r["lock_hold_ms"]["measured"]]
    return {
        "reps": len(runs),
        **{key: median_of(runs, key) for key in ("per_s", "p50_ms", "p99_ms", "client_cpu_cores")},
        "per_s_range": [min(r["per_s"] for r in runs), max(r["per_s"] for r in runs)] if runs else None,
        "lock_waiting_mean": median_of([r["backends"] for r in runs], "lock_waiting_mean"),
        "in_transaction_mean": median_of([r["backends"] for r in runs], "in_transaction_mean"),
        "server_cpu_cores": [statistics.median(cores) for cores in zip(*(r["server_cpu_cores"] for r in runs))],
        "lock_hold_ms": {"measured": True, **{key: median_of(holds, key) for key in ("p50", "p99")}}
                        if holds else {"measured": False},
        "not_2xx": sum(n for r in runs for status, n in r["statuses"].items() if not status.startswith("2")),
        "checks_passed": bool(runs) and all(r["checks_passed"] for r in runs),
    }


def summarise(result: dict) -> None:
    """Add, per writer count, the raw rate beside the REST medians with 1 and 2 processes (keys "1", "2") and
    what the second process adds (ratio of the median rates), and whether every REST cell passed its checks."""
    runs = [r for r in result.get("runs", []) if "failed" not in r]
    result["by_writers"] = []
    for writers in WRITERS:
        raw = next((r for r in runs if r["mode"] == "raw" and r["writers"] == writers), {})
        rest = {str(p): rest_summary([r for r in runs if r["mode"] == "rest" and r["writers"] == writers
                                      and r["processes"] == p]) for p in PROCESSES}
        one, two = rest["1"]["per_s"], rest["2"]["per_s"]
        result["by_writers"].append({
            "writers": writers,
            "raw_per_s": raw.get("per_s"),
            "rest": rest,
            "second_process_gain": two / one - 1 if one and two else None,
        })
    checked = [r for r in runs if r["mode"] == "rest"]
    result["all_checks_passed"] = len(checked) == len(WRITERS) * len(PROCESSES) * REPS and all(
        r["checks_passed"] for r in checked
    )
