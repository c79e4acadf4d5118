"""Items 1 and 2: push latency and fan-out to N authenticated sockets, beside the pure-Python floor.

One run of `measure()` is: start one server process (Tracker under an ASGI server with a channel layer, or
the baseline), connect N sockets from several client processes, then
  - latency: `reps` windows of `seconds` s, each creating incidents at `rate`/s (Tracker: POST to the REST
    API; baseline: PUBLISH the same frame to Redis), timing each delivery from the start of its POST (or
    PUBLISH) to its receipt by the client;
  - saturation: `burst` events committed in one transaction (baseline: PUBLISHed back to back), timing from
    the commit until the last socket has the last frame: frames/s the server fans out when it cannot keep up;
  - memory: the server's RSS after N sockets minus before any, per socket.

`python -m bench.push [N ...]` runs this item alone (see the end of this module), for A/B work on the push path.
"""

import asyncio
import json
import os
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import redis
import requests

from bench import database
from bench.common import (
    HOST, PORTS, PREFIX, PYTHON, REDIS_URL, ROOT, Server, asgi_command, django_env, django_task, log, median_of,
    profiled, raise_open_files, running, summarize,
)

LAYERS = {
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
    "redis": "channels_redis.core.RedisChannelLayer",
}
API_PATH = "/api/v1/incidents/"
WS_PATH = "/ws/notifications/"
CLIENT_PROCESSES = 3
# Browsers offer permessage-deflate; the bench clients do not unless BENCH_CLIENT_COMPRESSION=deflate (a server
# that accepts it, like uvicorn, then compresses every frame once per socket).
CLIENT_COMPRESSION = os.environ.get("BENCH_CLIENT_COMPRESSION", "none")
# Outstanding POSTs at once: the rate is kept open-loop (a slow answer does not delay the next POST).
POSTERS = 8


class ClientFleet:
    """`processes` client processes (bench.clients) holding `count` sockets between them."""

    def __init__(self, url: str, count: int, token: str, processes: int = CLIENT_PROCESSES):
        self.url, self.token = url, token
        share, extra = divmod(count, processes)
        self.counts = [share + (1 if i < extra else 0) for i in range(processes)]
        self.processes = []

    async def start(self) -> None:
        for count in self.counts:
            process = await asyncio.create_subprocess_exec(
                PYTHON, "-m", "bench.clients", "--url", self.url, "--count", str(count), "--token", self.token,
                "--compression", CLIENT_COMPRESSION,
                cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**28,
            )
            self.processes.append(process)
        await self.ask(None)  # each says "ready"

    async def ask(self, command: str | None, timeout: float = 180) -> list[dict]:
        """Send `command` to every client process and return their answers."""

        async def one(process):
            if command is not None:
                process.stdin.write(command.encode() + b"\n")
                await process.stdin.drain()
            line = await asyncio.wait_for(process.stdout.readline(), timeout)
            if not line:
                raise RuntimeError(f"client process exited ({command!r})")
            return json.loads(line)

        return await asyncio.gather(*(one(p) for p in self.processes))

    async def connect(self) -> dict:
        answers = await self.ask("connect")
        handshakes = [ms for a in answers for ms in a["handshake_ms"]]
        return {
            "connected": sum(a["ok"] for a in answers),
            "failed": sum(a["failed"] for a in answers),
            "connect_s": (max(a["end_ns"] for a in answers) - min(a["start_ns"] for a in answers)) / 1e9,
            "handshake_ms": summarize(handshakes),
        }

    async def collect(self, kind: str, first: int, last: int, timeout: float) -> dict:
        """Return what every socket received of frames KIND FIRST..LAST, waiting up to `timeout` s for them."""
        answers = await self.ask(f"report {kind} {first} {last} {timeout}", timeout=timeout + 120)
        merged = {key: sum(a[key] for a in answers) for key in ("expected", "received", "duplicates", "closed")}
        if kind == "burst":
            merged["last_ns"] = max(a["last_ns"] for a in answers)
        else:
            merged["latency_ms"] = [us / 1000 for a in answers for us in a["latency_us"]]
            merged["stages_ms"] = [(b / 1000, c / 1000) for a in answers for b, c in a.get("stages_us", [])]
        return merged

    async def close(self) -> None:
        try:
            await self.ask("close", timeout=60)
        finally:
            for process in self.processes:
                if process.returncode is None:
                    try:
                        await asyncio.wait_for(process.wait(), 10)
                    except asyncio.TimeoutError:
                        process.kill()


def incident_body(name: str, lon: float, lat: float, description: str, severity: str = "high") -> dict:
    """Return the body of POST /api/v1/incidents/: a GeoJSON Feature of an open incident at (lon, lat)."""
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"name": name, "description": description, "severity": severity},
    }


class RestPoster:
    """Creates incidents through POST /api/v1/incidents/, each named with the time its POST started."""

    def __init__(self, base: str, token: str, description: str = "bench"):
        self.url = base + API_PATH
        self.description = description
        self.headers = {"Authorization": f"Token {token}"}
        self.local = threading.local()
        self.statuses: dict[int, int] = {}
        self.post_ms: list[float] = []

    def post(self, kind: str, seq: int) -> None:
        session = getattr(self.local, "session", None) or requests.Session()
        self.local.session = session
        t0 = time.time_ns()
        feature = incident_body(f"{kind} {seq} {t0}", -58.38 + (seq % 100) / 1000, -34.60, self.description)
        try:
            status = session.post(self.url, json=feature, headers=self.headers, timeout=30).status_code
        except requests.RequestException:
            status = 0
        self.post_ms.append((time.time_ns() - t0) / 1e6)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def available(self) -> bool:
        """True if the endpoint creates incidents (answers 201)."""
        self.post("probe", 0)
        return self.statuses.pop(201, 0) == 1

    async def create(self, first_seq: int, count: int, rate: float) -> None:
        await at_rate(self.post, first_seq, count, rate)


class RedisPublisher:
    """Publishes the baseline's frames: a real incident event's text with the marker as its name."""

    def __init__(self, channel: str, template: str):
        self.channel, self.template = channel, template
        self.client = redis.Redis.from_url(REDIS_URL)
        self.statuses: dict[int, int] = {}
        self.post_ms: list[float] = []

    def post(self, kind: str, seq: int, t0: int | None = None) -> None:
        t0 = time.time_ns() if t0 is None else t0
        self.client.publish(self.channel, self.template.replace("{name}", f"{kind} {seq} {t0}"))

    async def create(self, first_seq: int, count: int, rate: float) -> None:
        await at_rate(self.post, first_seq, count, rate)


async def at_rate(post, first_seq: int, count: int, rate: float) -> None:
    """Call post("bench", seq) for `count` seqs at `rate` per second (open loop, POSTERS threads)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    pending = []
    with ThreadPoolExecutor(POSTERS) as pool:
        for i in range(count):
            await asyncio.sleep(max(0.0, start + i / rate - loop.time()))
            pending.append(loop.run_in_executor(pool, post, "bench", first_seq + i))
        await asyncio.gather(*pending)


def delete_keys(prefix: str) -> None:
    """Remove a run's channel-layer keys from Redis (group memberships would otherwise outlive the run)."""
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        client.delete(key)


async def measure(target: dict, n: int, token: str, template: str, plan: dict) -> dict:
    """Run one target (see module docstring) with `n` sockets; return its figures."""
    kind = target["kind"]
    port = PORTS["django"] if kind == "tracker" else PORTS["baseline"]
    prefix = f"{PREFIX}-{uuid.uuid4().hex[:8]}"
    layer_env = {"CHANNEL_LAYER_BACKEND": LAYERS[target.get("layer", "pubsub")], "CHANNEL_LAYER_PREFIX": prefix}
    if kind == "tracker":
        # A/B (python -m bench.push): a variant may set environment variables or run another checkout.
        root = Path(target.get("root", ROOT))
        server = Server(f"push-{target.get('name', target['server'])}-{target['layer']}-{n}",
                        asgi_command(target["server"], port, root), port,
                        django_env(**layer_env, **target.get("env", {})), cwd=root)
    else:
        server = Server(f"push-baseline-{n}", [PYTHON, "-m", "bench.baseline_server", "--port", str(port),
                                              "--channel", prefix], port, django_env())
    result = {"target": target, "clients": n, "client_processes": CLIENT_PROCESSES, "rate": plan["rate"],
              "client_compression": CLIENT_COMPRESSION}
    try:
        with running(server):
            server.wait_ready(60, path="/healthz" if kind == "tracker" else None)
            base = f"http://{HOST}:{port}"
            if kind == "tracker":
                poster = RestPoster(base, token)
                if not poster.available():
                    raise RuntimeError(f"POST {API_PATH} does not answer 201: {poster.statuses}")
            else:
                poster = RedisPublisher(prefix, template)
            await asyncio.sleep(1)
            rss_before = server.rss_kb()
            fleet = ClientFleet(f"ws://{HOST}:{port}{WS_PATH}", n, token)
            await fleet.start()
            try:
                result.update(await fleet.connect())
                await asyncio.sleep(1)
                rss_after = server.rss_kb()
                result.update(rss_before_kb=rss_before, rss_after_kb=rss_after,
                              kb_per_socket=(rss_after - rss_before) / max(1, result["connected"]))
                with profiled(server.pid, server.name):
                    result["reps"] = await latency_reps(fleet, poster, plan, split=kind == "tracker")
                    result["burst"] = await burst(fleet, poster, target, plan, layer_env, n)
            finally:
                await fleet.close()
            result["post_ms"] = summarize(poster.post_ms)
            result["post_statuses"] = poster.statuses
    finally:
        delete_keys(prefix)
    summarise_run(result)
    return result


async def latency_reps(fleet: ClientFleet, poster, plan: dict, split: bool) -> list[dict]:
    """Return each repetition's deliveries and latency; with `split`, also the latency split at the event's `at`
    (the server's clock when it recorded the event, before the commit), on a sample of the sockets
    (bench.clients.STAGE_EVERY): the request up to there, then the commit, publish, fan-out and receipt. The
    floor's frames carry no `at` of their own."""
    reps = []
    seq = 0
    count = int(plan["rate"] * plan["seconds"])
    for _ in range(plan["reps"]):
        await poster.create(seq, count, plan["rate"])
        got = await fleet.collect("bench", seq, seq + count - 1, timeout=plan["drain_s"])
        rep = {
            "incidents": count,
            "expected": got["expected"],
            "received": got["received"],
            "duplicates": got["duplicates"],
            **{k: v for k, v in summarize(got["latency_ms"]).items() if k != "count"},
        }
        if split:
            rep["to_at_ms"] = summarize([before for before, _ in got["stages_ms"]])
            rep["from_at_ms"] = summarize([after for _, after in got["stages_ms"]])
        reps.append(rep)
        seq += count
    return reps


async def burst(fleet: ClientFleet, poster, target: dict, plan: dict, layer_env: dict, n: int) -> dict:
    """Fan out a burst of events as fast as the server can and return frames/s from first send to last
    receipt."""
    count = min(300, max(10, plan["burst_frames"] // n))
    loop = asyncio.get_running_loop()
    if target["kind"] == "tracker":
        sent = await loop.run_in_executor(None, lambda: django_task("burst", "--count", str(count), **layer_env))
        start_ns = sent["commit_ns"]
        publish_s = (sent["published_ns"] - start_ns) / 1e9
    else:
        start_ns = time.time_ns()
        for seq in range(count):
            poster.post("burst", seq, 0)
        publish_s = (time.time_ns() - start_ns) / 1e9
    got = await fleet.collect("burst", 0, count - 1, timeout=plan["drain_s"] + 15)
    seconds = (got["last_ns"] - start_ns) / 1e9
    return {
        "events": count,
        "expected": got["expected"],
        "received": got["received"],
        "seconds": seconds,
        "publish_s": publish_s,
        "frames_per_s": got["received"] / seconds if seconds > 0 else None,
        "closed": got["closed"], "duplicates": got["duplicates"],
    }


def summarise_run(result: dict) -> None:
    """Add the medians over repetitions and the delivery ratio to a run's result."""
    reps = result.get("reps", [])
    for key in ("p50", "p95", "p99", "max"):
        result[f"{key}_ms"] = median_of(reps, key)
    expected = sum(r["expected"] for r in reps) + result.get("burst", {}).get("expected", 0)
    received = sum(r["received"] for r in reps) + result.get("burst", {}).get("received", 0)
    result["delivered"] = received / expected if expected else None
    result["fps"] = result.get("burst", {}).get("frames_per_s")


def plan_for(n: int, reps: int, seconds: float) -> dict:
    """Rate and durations for n sockets. 10 incidents/s up to 1,000 sockets, as the issue sets for 1,000;
    1 incident/s at 5,000 (5,000 frames/s: a busy control room's rate, to a screen per seat)."""
    return {
        "rate": 10.0 if n <= 1000 else 1.0,
        "seconds": seconds,
        "reps": reps,
        "drain_s": 15.0,
        "burst_frames": 60_000,
    }



async def run_reduced(counts: list[int], reps: int, seconds: float, variants: list[dict]) -> list[dict]:
    """Run item 1 at each of `counts` sockets only, on a fresh bench database: the floor, then one Tracker run
    per variant (overrides of the default target: "env" for the server, "root" for another checkout, "name"
    for its log and profile files). Log each run's figures and its latency split at the event's `at`; return
    the runs."""
    database.recreate()
    token = database.bench_token()
    template = django_task("frame")["template"]
    runs = []
    for n in counts:
        for target in ({"kind": "baseline"}, *({"kind": "tracker", "server": "uvicorn", "layer": "pubsub", **v}
                                                for v in variants or [{}])):
            log(f"push: {target} with {n} sockets")
            run = await measure(target, n, token, template, plan_for(n, reps, seconds))
            runs.append(run)
            log(f"  p50 {run['p50_ms']:.1f} ms  p99 {run['p99_ms']:.1f} ms  delivered {run['delivered']:.4f}  "
                f"fps {run['fps'] or 0:.0f}  POST p50 {run['post_ms'].get('p50', 0):.1f} ms")
            for rep in run["reps"]:
                if "to_at_ms" in rep:
                    to_at, from_at = rep["to_at_ms"], rep["from_at_ms"]
                    log(f"  rep: p50/p99 {rep['p50']:.0f}/{rep['p99']:.0f} ms; POST start to `at` "
                        f"{to_at.get('p50', 0):.0f}/{to_at.get('p99', 0):.0f}, `at` to receipt "
                        f"{from_at.get('p50', 0):.0f}/{from_at.get('p99', 0):.0f} ({to_at['count']} samples)")
    return runs


if __name__ == "__main__":
    # A reduced item 1 for work on the push path; prints its figures and writes no results file:
    #   python -m bench.push [N ...]          (default 1000 sockets; BENCH_PUSH_REPS=3, BENCH_PUSH_SECONDS=6)
    #   BENCH_PUSH_VARIANTS='{"name":"before","root":"/path/to/other/checkout"};{"name":"after"}'   an A/B
    # Like every benchmark here, run it under `flock /tmp/bench.lock` on a shared machine.
    raise_open_files()
    asyncio.run(run_reduced(
        [int(arg) for arg in sys.argv[1:]] or [1000],
        int(os.environ.get("BENCH_PUSH_REPS", "3")),
        float(os.environ.get("BENCH_PUSH_SECONDS", "6")),
        [json.loads(v) for v in os.environ.get("BENCH_PUSH_VARIANTS", "").split(";") if v.strip()],
    ))
