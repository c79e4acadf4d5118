"""Server CPU per REST create: the writes item's servers and nginx, closed-loop writers, the servers' CPU time
divided by the creates they answered.

    flock /tmp/bench.lock python -m bench.create_cpu [--writers 16] [--seconds 8] [--reps 2] [--profile S [--gil]]

Recreates tracker_bench, starts two `deploy/serve.sh uvicorn` processes with the writes item's environment and
two nginx sites (one and both upstreams, bench/writes.py), then, per repetition, one cell of --writers writers
against one process and one against both. A cell's CPU per create is the servers' CPU seconds (user + system,
/proc) over the whole cell, warm-up and tail included, divided by every 2xx the writers got in it. --profile S
first samples the single process with py-spy for S s under the same load (collapsed stacks in
bench/results/create_cpu.pyspy.tmp; `python -m bench.profile FILE`). Prints one JSON line per cell and a summary.
"""

import argparse
import asyncio
import json
import statistics
import subprocess
import tempfile
import uuid
from contextlib import ExitStack
from pathlib import Path

from bench import database
from bench.common import HOST, PORTS, PREFIX, RESULTS, ROOT, Server, asgi_command, django_env, django_task, log, running
from bench.push import delete_keys
from bench.writes import AREA, cell, clean_up, process_cpu_s
from tests.support.nginx import Nginx


async def one_cell(writers: int, seconds: float, site: Nginx, servers: list[Server], token: str) -> dict:
    """Run one REST cell; return its creates/s, latency, and the servers' CPU ms per create."""
    before = [process_cpu_s(s.pid) for s in servers]
    result = await cell("rest", writers, site.base, seconds, servers, token)
    cpu_s = sum(process_cpu_s(s.pid) - b for s, b in zip(servers, before))
    return {"writers": writers, "per_s": round(result["per_s"], 1), "p50_ms": result["p50_ms"],
            "p99_ms": result["p99_ms"], "ok": result["ok"], "statuses": result["statuses"],
            "server_cpu_ms_per_create": round(1000 * cpu_s / max(result["ok"], 1), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.create_cpu")
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--profile", type=float, default=0.0)
    parser.add_argument("--gil", action="store_true", help="profile: only the thread holding the GIL")
    args = parser.parse_args()
    database.recreate()
    token = database.bench_token()
    django_task("create_statements", "--bbox", *map(str, AREA))
    port = PORTS["writes"]
    prefix = f"{PREFIX}-{uuid.uuid4().hex[:8]}"
    env = django_env(CHANNEL_LAYER_PREFIX=prefix, LOG_FORMAT="json", TRACKER_IDS_LOG_LEVEL="DEBUG")
    cells = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-create-cpu-") as tmp, ExitStack() as stack:
            servers = [Server(f"create-cpu-{n}", asgi_command("uvicorn", port + n), port + n, env) for n in (0, 1)]
            for server in servers:
                stack.enter_context(running(server))
            for server in servers:
                server.wait_ready(60, path="/healthz")
            sites = {}
            for processes in (1, 2):
                site = Nginx(Path(tmp) / f"nginx-{processes}", [f"{HOST}:{s.port}" for s in servers[:processes]],
                             port=port + 1 + processes, redirect_port=port + 3 + processes, static_root=Path(tmp), worker_connections=1024)
                stack.callback(site.stop)
                sites[processes] = site.start()
            if args.profile:
                output = RESULTS / "create_cpu.pyspy.tmp"
                sampler = subprocess.Popen(
                    [str(ROOT / ".venv" / "bin" / "py-spy"), "record", "--pid", str(servers[0].pid), "--rate", "250",
                     "--format", "raw", "--output", str(output), "--duration", str(int(args.profile)), "--nonblocking", *(["--gil"] if args.gil else [])],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )
                asyncio.run(one_cell(args.writers, args.profile + 1, sites[1], servers[:1], token))
                sampler.wait(timeout=60)
                log(f"profile: {output}")
            for rep in range(args.reps):
                for processes in (1, 2) if rep % 2 == 0 else (2, 1):
                    figures = asyncio.run(one_cell(args.writers, args.seconds, sites[processes],
                                                   servers[:processes], token))
                    figures.update(processes=processes, rep=rep)
                    print(json.dumps(figures), flush=True)
                    cells.append(figures)
    finally:
        clean_up()
        delete_keys(prefix)
    for processes in (1, 2):
        mine = [c for c in cells if c["processes"] == processes]
        if mine:
            print(f"{processes} process(es), {args.writers} writers: "
                  f"{statistics.median(c['per_s'] for c in mine):.1f} creates/s, "
                  f"p50 {statistics.median(c['p50_ms'] for c in mine):.0f} ms, "
                  f"p99 {statistics.median(c['p99_ms'] for c in mine):.0f} ms, "
                  f"server CPU {statistics.median(c['server_cpu_ms_per_create'] for c in mine):.2f} ms/create")


if __name__ == "__main__":
    main()
