"""Shared by the real-process tests: this suite's port range, waiting for a condition, and the test
database and channel prefix that every process a test starts is pointed at."""

import socket
import subprocess
import time
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
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


def stop_process(process: subprocess.Popen, timeout: float = 10) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
