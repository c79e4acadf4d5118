"""Item 5: the latency of one small API request through the ASGI server, beside the same request in-process.

`GET /api/v1/incidents/?page_size=1` (token-authenticated, one incident in the answer, the count of all) is
sent one at a time, on one kept-alive HTTP connection, to one uvicorn process started as deployed
(deploy/serve.sh, the bench's production-like settings). Beside it, in the same run and with the same
settings, a Django process sends the same request through the test client (the whole middleware stack and
view, no server, no event loop, no thread hop). Short rounds alternate (server, in-process, server, ...)
so that the machine's noise falls on both sides alike. What the server adds is the ratio of the medians.
"""

import http.client
import json
import subprocess
import time

from bench.common import (
    HOST, PORTS, PYTHON, ROOT, Server, asgi_command, django_env, log, profiled, running, summarize,
)

PATH = "/api/v1/incidents/?page_size=1"
# Short rounds, many of them: the machine's noise comes in bursts of seconds.
ROUNDS = 20
REQUESTS = 15
WARMUP = 20
# The target: the server's median at most 1.5x the in-process one.
TARGET_RATIO = 1.5


def timed_gets(port: int, token: str, count: int) -> list[float]:
    """Send `count` GETs of PATH one after another on one HTTP/1.1 connection; return each one's
    milliseconds (request written to body read). Raises if an answer is not 200."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
    times = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            conn.request("GET", PATH, headers=headers)
            response = conn.getresponse()
            body = response.read()
            times.append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                raise RuntimeError(f"GET {PATH}: {response.status} {body[:200]!r}")
    finally:
        conn.close()
    return times


class InProcess:
    """A Django process (bench.djtasks latency) that sends the request through the test client, one round of
    `count` requests per call of round(): the in-process side, interleaved with the server's rounds."""

    def __init__(self, count: int):
        self.process = subprocess.Popen(
            [PYTHON, "-m", "bench.djtasks", "latency", "--path", PATH, "--count", str(count), "--warmup", str(WARMUP)],
            cwd=ROOT, env=django_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )

    def round(self) -> list[float]:
        """Return the milliseconds of one round of requests."""
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"bench.djtasks latency exited with {self.process.wait(30)}")
        return json.loads(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(30)


def measure(token: str, server_kind: str = "uvicorn") -> dict:
    """Return the server's and the in-process request times (summaries in ms, and the ratio of the medians):
    ROUNDS alternating rounds of REQUESTS on each side, after WARMUP untimed requests on each."""
    port = PORTS["latency"]
    in_process = InProcess(REQUESTS)  # started first: it creates the incidents if there are none
    server = Server(f"latency-{server_kind}", asgi_command(server_kind, port), port, env=django_env())
    served, local = [], []
    try:
        with running(server):
            server.wait_ready(path="/healthz")
            timed_gets(port, token, WARMUP)
            with profiled(server.pid, f"latency-{server_kind}"):
                for _ in range(ROUNDS):
                    served += timed_gets(port, token, REQUESTS)
                    local += in_process.round()
    finally:
        in_process.close()
    server_ms, in_process_ms = summarize(served), summarize(local)
    ratio = server_ms["p50"] / in_process_ms["p50"]
    log(f"latency: server p50 {server_ms['p50']:.1f} ms, in-process p50 {in_process_ms['p50']:.1f} ms, {ratio:.2f}x")
    return {
        "path": PATH,
        "server": server_kind,
        "rounds": ROUNDS,
        "requests_per_round": REQUESTS,
        "server_ms": server_ms,
        "in_process_ms": in_process_ms,
        "ratio_p50": ratio,
        "target_ratio": TARGET_RATIO,
    }
