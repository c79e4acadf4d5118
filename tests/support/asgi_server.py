"""ASGI server processes started like production (deploy/serve.sh), against the test database and prefix."""

import os
import signal
import subprocess
import tempfile
from pathlib import Path

from tests.support.http import http
from tests.support.processes import (
    FAST_SERVER_ENV,
    PORTS,
    ROOT,
    channel_prefix,
    database_url,
    free_port,
    stop_process,
    wait_until,
)


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
            stop_process(self.process)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def start_all(*servers: AsgiServer) -> list[AsgiServer]:
    """Start the servers side by side (Django's start-up dominates) and return them once all answer HTTP."""
    for server in servers:
        server.launch()
    return [server.wait_ready() for server in servers]
