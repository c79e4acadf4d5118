"""Real processes for the multi-process and fault tests: ASGI servers (deploy/serve.sh), a Redis of their own,
a TCP proxy in front of PostgreSQL that can be cut, and a resuming WebSocket client (the `websockets` library).

Every port comes from 18150-18199 (this suite's range); the shared PostgreSQL and Redis are never touched.
Servers run against the test database and the test's channel-layer prefix, so the test process, its writer
threads and every server it starts share one event log and one group.
"""

import asyncio
import json
import os
import random
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import websockets
from django.conf import settings
from django.utils.datastructures import CaseInsensitiveMapping

ROOT = Path(__file__).resolve().parent.parent
PORTS = range(18150, 18200)
_handed_out: set[int] = set()

# Short intervals so the fault tests run in seconds; production defaults are in tracker_project/settings.py.
FAST_SERVER_ENV = {
    "TRACKER_CATCHUP_SECONDS": "0.5",
    "TRACKER_HEARTBEAT_SECONDS": "30",
    "TRACKER_PUBLISH_TIMEOUT_SECONDS": "1",
    "TRACKER_HEALTH_TIMEOUT_SECONDS": "1",
}


def free_port(ports: range = PORTS) -> int:
    """Return a port of `ports` that nothing listens on and this process has not handed out."""
    for port in ports:
        if port in _handed_out:
            continue
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1}")


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05):
    """Return predicate()'s first truthy value, polling until `timeout` seconds; raise TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def database_url(port: int | None = None) -> str:
    """Return a DATABASE_URL for the current test database, through `port` (a proxy) if given."""
    db = settings.DATABASES["default"]
    return f"postgis://{db['USER']}:{db['PASSWORD']}@127.0.0.1:{port or db['PORT'] or 5432}/{db['NAME']}"


def channel_prefix() -> str:
    return settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]


def _stop(process: subprocess.Popen, timeout: float = 10) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


class RedisServer:
    """A redis-server of the test's own, on its own port, that a test may stop and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self.ping, 10, f"redis-server on {self.port}")
        return self

    def ping(self) -> bool:
        return self.cli("PING") == "PONG"

    def cli(self, *args: str) -> str:
        """Return the output of redis-cli against this server (empty when it is down)."""
        result = subprocess.run(
            ["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True, timeout=5, check=False
        )
        return result.stdout.strip()

    def subscribers(self, channel: str) -> int:
        """Return how many connections are subscribed to the pub/sub channel (PUBSUB NUMSUB)."""
        output = self.cli("PUBSUB", "NUMSUB", channel).split()
        return int(output[1]) if len(output) == 2 else 0

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)
            self.process = None


class AsgiServer:
    """One ASGI server process started like production (deploy/serve.sh) on a port of this suite's range."""

    def __init__(
        self,
        *,
        redis_url: str,
        database_port: int | None = None,
        server: str = "uvicorn",
        ports: range = PORTS,
        **env: str,
    ):
        self.port = free_port(ports)
        self.base = f"127.0.0.1:{self.port}"
        self.server = server
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": database_url(database_port),
            "REDIS_URL": redis_url,
            "CHANNEL_LAYER_PREFIX": channel_prefix(),
            "PYTHONUNBUFFERED": "1",
            **FAST_SERVER_ENV,
            **env,
        }
        self.log = Path(tempfile.gettempdir()) / f"tracker-test-server-{self.port}.log"
        self.process: subprocess.Popen | None = None

    @property
    def ws_url(self) -> str:
        return f"ws://{self.base}/ws/notifications/"

    def launch(self) -> "AsgiServer":
        """Start the process without waiting for it (see start_all)."""
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                ["bash", str(ROOT / "deploy" / "serve.sh"), self.server, "127.0.0.1", str(self.port)],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def wait_ready(self) -> "AsgiServer":
        wait_until(self.answers, 30, f"{self.server} on port {self.port} (log: {self.log})", interval=0.1)
        return self

    def answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"server on {self.port} exited with {self.process.returncode}:\n{self.log_tail()}")
        return http(f"http://{self.base}/healthz").status is not None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no close frames; the clients see their connections drop."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def start_all(*servers: AsgiServer) -> list[AsgiServer]:
    """Start the servers side by side (Django's start-up dominates) and return them once all answer HTTP."""
    for server in servers:
        server.launch()
    return [server.wait_ready() for server in servers]


class Reply(NamedTuple):
    status: int | None  # None: nothing answered
    body: dict | str | None  # parsed when the response is JSON
    headers: dict


def http(
    url: str,
    *,
    method: str = "GET",
    body: dict | None = None,
    headers: dict | None = None,
    insecure: bool = False,
    timeout: float = 5,
) -> Reply:
    """Send a request, with `body` as JSON if given (`insecure`: accept any TLS certificate), and return the
    reply; Reply(None, None, {}) when nothing answers."""
    headers = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    handlers = [urllib.request.ProxyHandler({})]
    if insecure:
        handlers.append(urllib.request.HTTPSHandler(context=ssl._create_unverified_context()))
    try:
        with urllib.request.build_opener(*handlers).open(request, timeout=timeout) as response:
            status, raw, reply_headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, reply_headers = error.code, error.read(), error.headers
    except (urllib.error.URLError, OSError):
        return Reply(None, None, {})
    text = raw.decode("utf-8", "replace")
    is_json = reply_headers.get("Content-Type", "").startswith("application/json")
    # Header names are case-insensitive, and servers differ (daphne "Retry-After", uvicorn "retry-after").
    return Reply(status, json.loads(text) if is_json else text, CaseInsensitiveMapping(dict(reply_headers)))


def report_incident(base: str, token: str, name: str, *, insecure: bool = False) -> dict:
    """Report an incident through a server's REST API (`base`: scheme://host:port) and return the feature."""
    point = {"type": "Point", "coordinates": [10.5, 10.5]}
    feature = {"type": "Feature", "geometry": point, "properties": {"name": name}}
    reply = http(
        f"{base}/api/v1/incidents/",
        method="POST",
        body=feature,
        headers={"Authorization": f"Token {token}"},
        insecure=insecure,
    )
    assert reply.status == 201, reply
    return reply.body


class TcpProxy:
    """A TCP proxy (asyncio, in a thread of its own) from a port of this suite's range to PostgreSQL.

    cut() closes every proxied connection and stops listening, so new connections are refused: to the servers
    behind it the database is gone. restore() listens again.
    """

    def __init__(self, target_port: int = 5432) -> None:
        self.port = free_port()
        self.target_port = target_port
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.thread = threading.Thread(target=self.loop.run_forever, name=f"tcp-proxy-{self.port}", daemon=True)

    def start(self) -> "TcpProxy":
        self.thread.start()
        self.restore()
        return self

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    def restore(self) -> None:
        async def listen():
            self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

        self._call(listen())

    def cut(self) -> None:
        async def close_all():
            self.server.close()
            await self.server.wait_closed()
            for writer in list(self.writers):
                writer.transport.abort()
            self.writers.clear()

        self._call(close_all())

    def stop(self) -> None:
        if self.thread.is_alive():
            if self.server is not None and self.server.is_serving():
                self.cut()
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)

    async def _handle(self, client_reader, client_writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.transport.abort()
            return
        self.writers.update((client_writer, upstream_writer))
        await asyncio.gather(
            self._pipe(client_reader, upstream_writer), self._pipe(upstream_reader, client_writer)
        )

    async def _pipe(self, reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self.writers.discard(writer)
            writer.transport.abort()


@dataclass
class StreamClient:
    """A WebSocket client that keeps every event it receives and resumes with ?after=<last id> on reconnect.

    `ids` is everything received, duplicates included, in arrival order: the tests check it is exactly
    1..N. `connections` counts successful handshakes, `close_codes` the server's close codes.
    """

    name: str
    urls: list[str]
    token: str
    ids: list[int] = field(default_factory=list)
    connections: int = 0
    resyncs: int = 0
    close_codes: list[int] = field(default_factory=list)

    @property
    def last(self) -> int:
        return self.ids[-1] if self.ids else 0

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
