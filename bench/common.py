"""What every benchmark shares: the bench database and ports, server processes, statistics, result files.

Everything here talks to 127.0.0.1 only, on ports 18200-18299, and to a database of its own (tracker_bench),
never to the development database.
"""

import json
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
RESULTS = ROOT / "bench" / "results"
HOST = "127.0.0.1"
# Ports 18200-18299 belong to the benchmarks; each server a run starts gets its own.
PORTS = {"django": 18200, "baseline": 18201, "map": 18202, "latency": 18203, "writes": 18210}  # writes: 18210-18215
BENCH_DB = "tracker_bench"
DATABASE_URL = f"postgis://tracker:tracker@127.0.0.1:5432/{BENCH_DB}"
ADMIN_DSN = "host=127.0.0.1 port=5432 user=tracker password=tracker dbname=postgres"
BENCH_DSN = f"host=127.0.0.1 port=5432 user=tracker password=tracker dbname={BENCH_DB}"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# Every channel-layer prefix a benchmark uses starts with this, so its Redis keys are easy to find and remove.
PREFIX = "bench"
USERNAME = "bench"
PASSWORD = "bench-password-not-secret"
OPEN_FILES = 20_000


def raise_open_files(wanted: int = OPEN_FILES) -> int:
    """Raise this process's open-files soft limit towards `wanted` (capped by the hard limit); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def django_env(**overrides: str) -> dict[str, str]:
    """Return the environment for a Django process of the bench: bench database, bench channel-layer prefix,
    production-like settings (no DEBUG, the settings' pooled database connections, quiet logs)."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tracker_project.settings",
        DATABASE_URL=DATABASE_URL,
        REDIS_URL=REDIS_URL,
        CHANNEL_LAYER_PREFIX=PREFIX,
        DJANGO_DEBUG="0",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


def django_task(*args: str, timeout: float = 600, **env: str) -> dict:
    """Run `python -m bench.djtasks ARGS` against the bench database and return the JSON it prints last."""
    done = subprocess.run(
        [PYTHON, "-m", "bench.djtasks", *args],
        cwd=ROOT,
        env=django_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.djtasks {' '.join(args)} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def process_tree_rss_kb(pid: int) -> int:
    """Return the resident memory (kB) of process `pid` and all its descendants, 0 once it has gone."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                total += next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0)
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pending.extend(int(child) for child in children.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def wait_for_port(port: int, timeout: float, process: subprocess.Popen | None = None) -> None:
    """Return once 127.0.0.1:`port` accepts TCP connections; raise if it does not within `timeout` s or the
    process that should serve it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {HOST}:{port} after {timeout} s")


def http_get(url: str, timeout: float = 10, headers: dict | None = None) -> tuple[int, bytes]:
    """Return (status, body) of a GET; HTTP errors are returned, not raised."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class Server:
    """A server process the benchmark started: its output goes to bench/results/<name>.log.tmp."""

    def __init__(self, name: str, command: list[str], port: int, env: dict[str, str] | None = None,
                 cwd: Path = ROOT):
        self.name, self.command, self.port = name, command, port
        self.log_path = RESULTS / f"{name}.log.tmp"
        with open(self.log_path, "wb") as log:
            # A session of its own, so stopping it stops any worker processes it forked too.
            self.process = subprocess.Popen(
                command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=raise_open_files,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float = 60, path: str | None = None) -> None:
        """Return once the port accepts connections (and `path` answers 200, if given); raise otherwise."""
        wait_for_port(self.port, timeout, self.process)
        if path is not None:
            deadline = time.monotonic() + timeout
            while http_get(f"http://{HOST}:{self.port}{path}")[0] != 200:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.name}: {path} did not answer 200")
                time.sleep(0.2)

    def rss_kb(self) -> int:
        return process_tree_rss_kb(self.pid)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s) and every process in its session."""
        if self.process.poll() is None:
            os.killpg(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@contextmanager
def profiled(pid: int, name: str):
    """While the block runs, sample process `pid` with py-spy if BENCH_PROFILE=1, writing collapsed stacks
    to bench/results/<name>.pyspy.tmp (summarise them with `python -m bench.profile FILE`)."""
    if os.environ.get("BENCH_PROFILE") != "1":
        yield
        return
    output = RESULTS / f"{name}.pyspy.tmp"
    sampler = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "py-spy"), "record", "--pid", str(pid), "--subprocesses", "--rate", "200",
         "--format", "raw", "--output", str(output), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        sampler.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        sampler.wait(timeout=30)
        log(f"profile of {name}: {output}")


@contextmanager
def running(server: Server):
    """Yield `server` and stop it afterwards, whatever happened."""
    try:
        yield server
    finally:
        server.stop()


def asgi_command(kind: str, port: int, root: Path = ROOT) -> list[str]:
    """Return the command that serves the Tracker ASGI app with server `kind` (daphne, uvicorn, granian) on
    one process, from the checkout at `root`. daphne and uvicorn run exactly as deployed (deploy/serve.sh)."""
    if kind in ("daphne", "uvicorn"):
        return ["bash", str(root / "deploy" / "serve.sh"), kind, HOST, str(port)]
    if kind == "granian":
        # Granian counts each open WebSocket against --backpressure (default backlog/workers = 1024), so it
        # would stop accepting at 1,024 sockets; the limit is raised to what the benchmark opens.
        return [
            str(ROOT / ".venv" / "bin" / "granian"), "--interface", "asgi", "--host", HOST, "--port", str(port),
            "--workers", "1", "--backlog", "4096", "--backpressure", str(OPEN_FILES), "--no-access-log",
            "tracker_project.asgi:application",
        ]
    raise ValueError(f"unknown ASGI server {kind}")


def summarize(values: list[float]) -> dict:
    """Return count, p50, p95, p99, max and mean of `values` (nearest-rank percentiles); empty dict if none."""
    if not values:
        return {"count": 0}
    ordered = sorted(values)
    count = len(ordered)

    def rank(p: float) -> float:
        return ordered[min(count - 1, max(0, int(round(p / 100 * count + 0.5)) - 1))]

    return {
        "count": count,
        "p50": rank(50),
        "p95": rank(95),
        "p99": rank(99),
        "max": ordered[-1],
        "mean": statistics.fmean(ordered),
    }


def median_of(runs: list[dict], key: str) -> float | None:
    """Return the median of `key` over the runs that have it, None if none has."""
    values = [run[key] for run in runs if run.get(key) is not None]
    return statistics.median(values) if values else None


def machine() -> dict:
    """Return what the figures depend on: CPU model and count, memory, OS and Python."""
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:
        mem_kb = int(next(line.split()[1] for line in info if line.startswith("MemTotal:")))
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
    }


def write_json(name: str, data: dict) -> Path:
    """Write `data` to bench/results/<name>.json and return the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)
