"""WebSocket load generator: one process holding many client sockets, driven by its parent over stdin/stdout.

    python -m bench.clients --url ws://127.0.0.1:PORT/ws/notifications/ --count K [--token KEY]

Protocol (one JSON object per stdout line, one command per stdin line):
  -> {"event": "ready"}                            started; waiting for `connect`
  connect                                          open K sockets (bounded concurrency), each until its hello
  -> {"event": "connected", "ok", "failed", "start_ns", "end_ns", "handshake_ms"}
  report KIND FIRST LAST TIMEOUT                   wait (at most TIMEOUT s) until every socket has frames
                                                   KIND FIRST..LAST, then report and forget them
  -> {"event": "report", "expected", "received", "duplicates", "latency_us", "stages_us", "first_ns", "last_ns",
      "closed"}
  close                                            close every socket, print {"event": "closed"}, exit

A frame is recognised by the marker in its incident name, "<kind> <seq> <t0_ns>" (bench.djtasks.marker);
latency is receipt time minus t0, both time.time_ns() on this machine.
"""

import argparse
import asyncio
import json
import sys
import time
from datetime import datetime

import uvloop
from websockets.asyncio.client import connect

from bench.common import raise_open_files

NAME_KEY = '"name":"'
INCIDENT_TYPE = '"type":"incident"'
# Handshakes in flight per process: enough to keep the server busy without overflowing its listen backlog.
CONNECT_CONCURRENCY = 64
AT_KEY = '"at":"'
# One socket in this many also splits its latency at the event's `at` (the server's clock when it recorded the
# event, before the commit): the request up to there, and commit + publish + fan-out + receipt after it. Few,
# so that parsing the date does not load the client.
STAGE_EVERY = 100


def event_at_ns(frame: str) -> int | None:
    """Return the envelope's `at` (ISO 8601, millisecond precision) in ns since the epoch, None if absent."""
    start = frame.find(AT_KEY)
    if start < 0:
        return None
    start += len(AT_KEY)
    return int(datetime.fromisoformat(frame[start : frame.find('"', start)]).timestamp() * 1e9)


def parse_marker(frame: str) -> tuple[str, int, int] | None:
    """Return (kind, seq, t0_ns) from the incident name in an incident event frame, None for other frames
    (alert events carry the incident too, but are not what is timed). Envelopes replayed from the log come
    with their keys in another order (PostgreSQL jsonb), so "type" is looked for anywhere in the frame.

    A string search rather than json.loads: the client must not become the bottleneck it is measuring."""
    if INCIDENT_TYPE not in frame:
        return None
    start = frame.find(NAME_KEY)
    if start < 0:
        return None
    start += len(NAME_KEY)
    parts = frame[start : frame.find('"', start)].split(" ")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1]), int(parts[2])


class Fleet:
    """The sockets of this process and what they received, per marker kind."""

    def __init__(self, url: str, count: int, token: str | None, compression: str | None):
        self.url, self.count, self.compression = url, count, compression
        self.headers = {"Authorization": f"Token {token}"} if token else {}
        self.sockets = []
        self.received: dict[str, list[tuple[int, int, int]]] = {}  # kind -> [(socket, seq, latency or recv ns)]
        self.stages: dict[str, list[tuple[int, int]]] = {}  # kind -> [(t0 to `at`, `at` to receipt), ns]
        self.closed = 0
        self.waiting: tuple[str, int, int, int, asyncio.Event] | None = None
        self.in_range = 0

    async def open_one(self, index: int, gate: asyncio.Semaphore, handshakes: list[float]) -> bool:
        async with gate:
            started = time.perf_counter()
            try:
                socket = await connect(
                    self.url, additional_headers=self.headers, compression=self.compression,
                    open_timeout=60, ping_interval=None, max_size=2**22,
                )
                hello = json.loads(await asyncio.wait_for(socket.recv(), 60))
            except Exception:  # refused, timed out, closed: counted as a failed connect
                return False
            if hello.get("type") != "hello":
                await socket.close()
                return False
            handshakes.append((time.perf_counter() - started) * 1000)
        self.sockets.append(socket)
        asyncio.get_running_loop().create_task(self.listen(index, socket))
        return True

    async def open_all(self) -> dict:
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        handshakes: list[float] = []
        start_ns = time.time_ns()
        results = await asyncio.gather(*(self.open_one(i, gate, handshakes) for i in range(self.count)))
        return {
            "event": "connected",
            "ok": sum(results),
            "failed": len(results) - sum(results),
            "start_ns": start_ns,
            "end_ns": time.time_ns(),
            "handshake_ms": handshakes,
        }

    async def listen(self, index: int, socket) -> None:
        try:
            async for frame in socket:
                now = time.time_ns()
                mark = parse_marker(frame)
                if mark is None:
                    continue
                kind, seq, t0 = mark
                # For markers without a start time (t0 = 0: a burst) the receipt time itself is kept.
                self.received.setdefault(kind, []).append((index, seq, now - t0 if t0 else now))
                if t0 and index % STAGE_EVERY == 0 and (at := event_at_ns(frame)) is not None:
                    self.stages.setdefault(kind, []).append((at - t0, now - at))
                if self.waiting is not None:
                    wkind, first, last, expected, done = self.waiting
                    if kind == wkind and first <= seq <= last:
                        self.in_range += 1
                        if self.in_range >= expected:
                            done.set()
        except Exception:
            pass
        finally:
            self.closed += 1

    async def report(self, kind: str, first: int, last: int, timeout: float) -> dict:
        expected = len(self.sockets) * (last - first + 1)
        self.in_range = sum(1 for _, seq, _ in self.received.get(kind, []) if first <= seq <= last)
        done = asyncio.Event()
        self.waiting = (kind, first, last, expected, done)
        if self.in_range < expected:
            try:
                await asyncio.wait_for(done.wait(), timeout)
            except asyncio.TimeoutError:
                pass
        self.waiting = None
        records = [r for r in self.received.pop(kind, []) if first <= r[1] <= last]
        stages = self.stages.pop(kind, [])
        unique = {(index, seq) for index, seq, _ in records}
        values = [value for _, _, value in records]
        report = {
            "event": "report",
            "expected": expected,
            "received": len(unique),
            "duplicates": len(records) - len(unique),
            "closed": self.closed,
        }
        if kind == "burst":
            report.update(first_ns=min(values, default=0), last_ns=max(values, default=0))
        else:
            report["latency_us"] = [v // 1000 for v in values]
            report["stages_us"] = [(before // 1000, after // 1000) for before, after in stages]
        return report

    async def close_all(self) -> None:
        gate = asyncio.Semaphore(256)

        async def close(socket):
            async with gate:
                try:
                    await asyncio.wait_for(socket.close(), 10)
                except Exception:
                    pass

        await asyncio.gather(*(close(s) for s in self.sockets))


async def serve(fleet: Fleet) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def say(message: dict) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    say({"event": "ready"})
    while line := (await reader.readline()).decode().split():
        command = line[0]
        if command == "connect":
            say(await fleet.open_all())
        elif command == "report":
            say(await fleet.report(line[1], int(line[2]), int(line[3]), float(line[4])))
        elif command == "close":
            break
    await fleet.close_all()
    say({"event": "closed"})


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.clients")
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--token")
    parser.add_argument("--compression", choices=["deflate", "none"], default="none")
    args = parser.parse_args()
    raise_open_files()
    fleet = Fleet(args.url, args.count, args.token, None if args.compression == "none" else "deflate")
    uvloop.run(serve(fleet))


if __name__ == "__main__":
    main()
