"""A resuming WebSocket client (the `websockets` library) and the exactly-once checks and writers the
resume, multi-process and fault tests share."""

import asyncio
import json
import random
import ssl
import time
from dataclasses import dataclass, field

import websockets

from tests.support.processes import ROOT


@dataclass
class StreamClient:
    """A WebSocket client that keeps every event it receives and resumes with ?after=<last id> on reconnect.

    `ids` is everything received, duplicates included, in arrival order: the tests check it is exactly
    1..N. `connections` counts successful handshakes, `close_codes` the server's close codes. `after` is where
    the first connection resumes (0: the whole log); `tls`, the TLS context for wss:// URLs (default: verified).
    """

    name: str
    urls: list[str]
    token: str
    after: int = 0
    tls: ssl.SSLContext | None = None
    ids: list[int] = field(default_factory=list)
    connections: int = 0
    resyncs: int = 0
    close_codes: list[int] = field(default_factory=list)

    @property
    def last(self) -> int:
        return self.ids[-1] if self.ids else self.after

    async def follow(
        self,
        done: "asyncio.Event",
        target: list[int],
        *,
        rng: random.Random | None = None,
        drop_after: tuple[int, int] | None = None,
        connected: "asyncio.Event | None" = None,
    ) -> None:
        """Receive until `done` is set and the last id seen is target[0]. With `drop_after=(a, b)` the client
        drops its connection after a random a..b events (half the time abruptly, without a close frame) and
        reconnects to a random URL; otherwise it reconnects, to the next URL, only when the server goes away.
        `connected` is set after the first hello."""
        rng = rng or random.Random(self.name)
        attempt = 0
        while not (done.is_set() and self.last >= target[0]):
            url = self.urls[attempt % len(self.urls)] if drop_after is None else rng.choice(self.urls)
            attempt += 1
            try:
                await self._session(url, done, target, rng, drop_after, connected)
            except (OSError, asyncio.TimeoutError, websockets.InvalidHandshake):
                await asyncio.sleep(0.1)  # the server is gone or restarting: the next URL, after a short backoff
            except websockets.ConnectionClosed as closed:
                if closed.rcvd is not None:
                    self.close_codes.append(closed.rcvd.code)
                await asyncio.sleep(0.05)

    async def _session(self, url, done, target, rng, drop_after, connected) -> None:
        async with websockets.connect(
            f"{url}?after={self.last}",
            additional_headers={"Authorization": f"Token {self.token}"},
            open_timeout=5,
            close_timeout=2,
            proxy=None,
            **({} if self.tls is None else {"ssl": self.tls}),
        ) as ws:
            self.connections += 1
            budget = rng.randint(*drop_after) if drop_after else None
            while not (done.is_set() and self.last >= target[0]):
                try:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 0.2))
                except asyncio.TimeoutError:
                    continue
                kind = message.get("type")
                if kind == "hello":
                    if connected is not None:
                        connected.set()
                elif kind == "resync":
                    self.resyncs += 1
                elif kind != "ping":
                    self.ids.append(message["id"])
                    if budget is not None:
                        budget -= 1
                        if budget <= 0:
                            if rng.random() < 0.5:
                                ws.transport.abort()  # like a laptop losing Wi-Fi: no close frame
                            return

    def counts(self, written: list[int]) -> dict:
        """Return what the fault tests report: events received, lost, duplicated, out of order."""
        return {
            "received": len(self.ids),
            "lost": len(set(written) - set(self.ids)),
            "duplicated": len(self.ids) - len(set(self.ids)),
            "out_of_order": sum(1 for a, b in zip(self.ids, self.ids[1:]) if b < a),
            "connections": self.connections,
        }


def report(test: str, written: list[int], clients: list[StreamClient], **extra) -> dict:
    """Print a one-line summary and merge it into test-artifacts/fault-counts.json; return it."""
    summary = {"written": len(written), "clients": {c.name: c.counts(written) for c in clients}, **extra}
    print(f"\n[fault-counts] {test}: {json.dumps(summary, sort_keys=True)}")
    path = ROOT / "test-artifacts" / "fault-counts.json"
    path.parent.mkdir(exist_ok=True)
    everything = json.loads(path.read_text()) if path.exists() else {}
    everything[test] = summary
    path.write_text(json.dumps(everything, indent=2, sort_keys=True) + "\n")
    return summary


def assert_exactly_once_in_order(written: list[int], clients: list[StreamClient]) -> None:
    """Assert every client received exactly the written ids, each once, in order."""
    for client in clients:
        if client.ids != written:
            differs = (i for i, (got, expected) in enumerate(zip(client.ids, written)) if got != expected)
            at = next(differs, min(len(client.ids), len(written)))
            raise AssertionError(f"{client.name}: {client.counts(written)}; first difference at position {at}")


def write_incidents(count: int, *, writers: int = 1, pause: float = 0.0, hold: float = 0.0, seed: int = 0) -> None:
    """Report `count` incidents from `writers` threads at once, each in its own transaction that stays open
    for a random 0..`hold` s after its event id was taken (were ids not commit-ordered, a later id would
    often commit first), with `pause` s between one thread's writes. Raises the first writer's error."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection, transaction

    from tests.factories import IncidentFactory

    def writer(number: int, share: int) -> None:
        rng = random.Random(seed * 1000 + number)
        try:
            for n in range(share):
                with transaction.atomic():
                    IncidentFactory(name=f"writer {number} #{n}")
                    time.sleep(rng.uniform(0, hold))
                time.sleep(pause)
        finally:
            connection.close()

    shares = [count // writers + (1 if n < count % writers else 0) for n in range(writers)]
    with ThreadPoolExecutor(writers) as pool:
        for future in [pool.submit(writer, n, share) for n, share in enumerate(shares)]:
            future.result()


def logged_event_ids() -> list[int]:
    """Return every event id in the log, in order."""
    from tracker.models import Event

    return list(Event.objects.order_by("id").values_list("id", flat=True))
