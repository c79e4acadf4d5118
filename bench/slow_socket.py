"""A client that stops reading must not slow down the other sockets of its server process (issue 10).

    python -m bench.slow_socket        (also run by `make bench`, item "slow")

One server process (`deploy/serve.sh uvicorn`), READERS sockets that read normally, and incidents POSTed to
the REST API at RATE/s (bench/push.py's RestPoster), each with a DESCRIPTION of 2,000 characters (frames of
about 2.4 KB, so that the stalled socket's buffers fill within the run). Two phases, EVENTS incidents each:

  1. baseline: the readers alone;
  2. stalled: one more socket completes its handshake, reads its hello and then stops reading (a frozen
     laptop: its TCP window closes).

Reported per phase: the readers' delivery latency, from the event's time in the log (its `at`, taken in the
writing transaction, on this machine's clock) to receipt, so that the POST's own time (bench/push.py's
measure) does not hide what the fan-out adds; the POSTs' times apart; and whether each reader got every
event once in order; the server's RSS (end of phase 1, highest during phase 2). Then the stalled
socket reads again: the events it had been sent (a gap-free prefix), the close code (4408 CLOSE_TOO_SLOW,
or 1006 if the server dropped it) and, resuming with ?after=N like the dashboard, the rest from the log.

On loopback (64 KiB segments) the kernel would let the server queue 1.5-4 MB for a receiver that reads nothing
before the server's own buffers fill; the stalled socket announces a small segment size and receive buffer,
so that its kernel buffers hold about 40 KB, as over a real network, and the server is run with a small
TRACKER_SOCKET_BACKLOG: the close comes within the run.

`compare()` is also what tests/stream/test_slow_socket.py runs and asserts on, against a test server.
"""

import asyncio
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from bench.clients import CONNECT_CONCURRENCY, parse_marker
from bench.common import HOST, PORTS, Server, asgi_command, django_env, log, process_tree_rss_kb, running, summarize
from bench.push import WS_PATH, RestPoster

READERS = 100
EVENTS = 300
RATE = 30.0
WARM_UP = 20
# Live events queued for a socket before it is closed as too slow (the server's TRACKER_SOCKET_BACKLOG): below
# EVENTS, so the stalled socket is closed within the run, and far above what a reading socket lags on a loaded
# 2-core machine (p99 ~2 s at RATE = ~60 events; with 50, CI saw 75 of the 100 readers closed as too slow).
BACKLOG = 200
DESCRIPTION = "a client that stops reading " * 74  # 1,998 characters
STALLED_RECEIVE_BUFFER = 1024
STALLED_SEGMENT_SIZE = 536
DRAIN_S = 30.0


ID_KEY = '"id":'
AT_KEY = '"at":"'


def frame_id(frame: str) -> int | None:
    """Return the event id of an event frame, None for control frames. A string search rather than json.loads,
    as bench.clients does: the readers must not become the bottleneck. The envelope's id is the first "id"
    key in both key orders a frame comes in (as built, and as PostgreSQL's jsonb returns a replayed one)."""
    start = frame.find(ID_KEY)
    if start < 0:
        return None
    start += len(ID_KEY)
    end = start
    while frame[end].isdigit():
        end += 1
    return int(frame[start:end])


def frame_at_ns(frame: str) -> int:
    """Return the event's `at` (ISO 8601, the first "at" key of an event frame) in ns since the epoch."""
    start = frame.index(AT_KEY) + len(AT_KEY)
    return int(datetime.fromisoformat(frame[start : frame.index('"', start)]).timestamp() * 1e9)


@dataclass
class Reader:
    """A socket that reads everything: the event ids in arrival order, and each marked incident's latency."""

    name: int
    ws: object = None
    hello: int = 0
    ids: list[int] = field(default_factory=list)
    latency_ms: dict[int, float] = field(default_factory=dict)  # seq -> ms
    task: asyncio.Task | None = None

    async def open(self, url: str, headers: dict) -> None:
        self.ws = await connect(url, additional_headers=headers, ping_interval=None, max_size=2**22,
                                open_timeout=30, proxy=None)
        self.hello = json.loads(await asyncio.wait_for(self.ws.recv(), 30))["last_event_id"]
        self.task = asyncio.get_running_loop().create_task(self.read())

    async def read(self) -> None:
        try:
            async for frame in self.ws:
                now = time.time_ns()
                event_id = frame_id(frame)
                if event_id is None:
                    continue  # ping
                self.ids.append(event_id)
                mark = parse_marker(frame)
                if mark is not None:
                    self.latency_ms[mark[1]] = (now - frame_at_ns(frame)) / 1e6
        except ConnectionClosed:
            pass

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.task is not None:
            await self.task

    def in_order_once(self) -> bool:
        """True if the ids are exactly hello+1, hello+2, ... (each event once, in order, none missing)."""
        return self.ids == list(range(self.hello + 1, self.hello + 1 + len(self.ids)))


async def stalled_socket(url: str, headers: dict):
    """Return (connection, hello's last_event_id) of a client that will read nothing more until told to:
    its socket's receive buffer and segment size are small (set before connecting, so that they are what it
    announces) and the client queues at most one frame."""
    parts = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, STALLED_RECEIVE_BUFFER)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, STALLED_SEGMENT_SIZE)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (parts.hostname, parts.port))
    ws = await connect(url, sock=sock, additional_headers=headers, ping_interval=None, max_queue=1,
                       max_size=2**22, open_timeout=30, proxy=None)
    hello = json.loads(await asyncio.wait_for(ws.recv(), 30))
    return ws, hello["last_event_id"]


async def read_events(ws, *, until: int | None = None) -> tuple[list[int], int, int | None]:
    """Read `ws` until it is closed or has sent event `until` (at most DRAIN_S s); return the event ids, the
    bytes read and the server's close code (None if it did not close it)."""
    ids, size = [], 0
    try:
        async with asyncio.timeout(DRAIN_S):
            async for frame in ws:
                size += len(frame)
                event_id = frame_id(frame)
                if event_id is not None:
                    ids.append(event_id)
                    if until is not None and ids[-1] >= until:
                        break
    except (TimeoutError, ConnectionClosed):
        pass
    code = ws.close_code
    await ws.close()
    return ids, size, code


class RssSampler:
    """The highest RSS (kB) of a process tree, sampled every `interval` s while running."""

    def __init__(self, pid: int | None, interval: float = 0.25):
        self.pid, self.interval, self.peak = pid, interval, 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.peak = max(self.peak, process_tree_rss_kb(self.pid))

    def __enter__(self):
        if self.pid is not None:
            self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        if self.pid is not None:
            self.thread.join()


async def phase(readers: list[Reader], poster: RestPoster, first_seq: int, count: int, rate: float) -> dict:
    """POST `count` incidents at `rate`/s and wait (at most DRAIN_S) until every reader has them all; return the
    readers' latency summary (ms) over these incidents and how many deliveries arrived."""
    await poster.create(first_seq, count, rate)
    seqs = range(first_seq, first_seq + count)
    deadline = time.monotonic() + DRAIN_S
    # Seqs are numbered from 0 over the whole run: a reader has them all when it has that many.
    while time.monotonic() < deadline and any(len(r.latency_ms) < seqs.stop for r in readers):
        await asyncio.sleep(0.1)
    latencies = [r.latency_ms[s] for r in readers for s in seqs if s in r.latency_ms]
    return {"events": count, "expected": count * len(readers), "received": len(latencies),
            **summarize(latencies)}


async def compare(ws_url: str, api_base: str, token: str, *, server_pid: int | None = None, readers: int = READERS,
                  events: int = EVENTS, rate: float = RATE) -> dict:
    """Run both phases against a server and return their figures (see the module docstring)."""
    headers = {"Authorization": f"Token {token}"}
    poster = RestPoster(api_base, token, description=DESCRIPTION)
    fleet = [Reader(n) for n in range(readers)]
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def open_one(reader: Reader) -> None:
        async with gate:
            await reader.open(ws_url, headers)

    await asyncio.gather(*(open_one(reader) for reader in fleet))
    try:
        await phase(fleet, poster, 0, WARM_UP, rate)
        baseline = await phase(fleet, poster, WARM_UP, events, rate)
        rss_before = process_tree_rss_kb(server_pid) if server_pid else None
        ws, stalled_hello = await stalled_socket(ws_url, headers)
        with RssSampler(server_pid) as rss:
            stalled = await phase(fleet, poster, WARM_UP + events, events, rate)
        written = WARM_UP + 2 * events
        # The stalled client reads again: what it had been sent, then the close; then it resumes like the
        # dashboard, with ?after= its last event.
        ids, size, code = await read_events(ws)
        resumed_after = ids[-1] if ids else stalled_hello
        again = await connect(f"{ws_url}?after={resumed_after}", additional_headers=headers, ping_interval=None,
                              max_size=2**22, proxy=None)
        rest, _, _ = await read_events(again, until=fleet[0].ids[-1])
    finally:
        await asyncio.gather(*(reader.close() for reader in fleet))
    result = {
        "readers": readers, "events_per_phase": events, "rate": rate, "frame_bytes": size // max(1, len(ids)),
        "baseline": baseline, "stalled": stalled,
        "readers_in_order_once": sum(r.in_order_once() and len(r.ids) == written for r in fleet),
        "post_statuses": poster.statuses, "post_ms": summarize(poster.post_ms),
        "stalled_socket": {
            "hello": stalled_hello, "events_received": len(ids), "bytes_received": size, "close_code": code,
            "gap_free_prefix": ids == list(range(stalled_hello + 1, stalled_hello + 1 + len(ids))),
            "resumed_after": resumed_after, "resumed_events": len(rest),
            "resumed_gap_free": rest == list(range(resumed_after + 1, resumed_after + 1 + len(rest))),
        },
        "rss_before_kb": rss_before, "rss_peak_stalled_kb": rss.peak or None,
    }
    result["p99_ratio"] = stalled["p99"] / baseline["p99"] if baseline.get("p99") else None
    return result


async def measure(token: str) -> dict:
    """`make bench`'s item: compare() against a bench server of its own (bench database, uvicorn as deployed)."""
    port = PORTS["django"]  # items run one after the other; the push item's server is gone by now
    server = Server("slow-socket", asgi_command("uvicorn", port), port, django_env(TRACKER_SOCKET_BACKLOG=str(BACKLOG)))
    with running(server):
        server.wait_ready(60, path="/healthz")
        base = f"http://{HOST}:{port}"
        result = await compare(f"ws://{HOST}:{port}{WS_PATH}", base, token, server_pid=server.pid)
    log(f"slow socket: p99 {result['baseline']['p99']:.0f} ms without, {result['stalled']['p99']:.0f} ms with a "
        f"stalled socket (x{result['p99_ratio']:.2f}); stalled socket closed with {result['stalled_socket']['close_code']}")
    return result


if __name__ == "__main__":
    from bench import database
    from bench.common import write_json

    database.recreate()
    write_json("slow_socket", asyncio.run(measure(database.bench_token())))
