"""A redis-server of a test's own, which it may stop and start again."""

import subprocess

from tests.support.processes import free_port, stop_process, wait_until


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
            stop_process(self.process)
            self.process = None
