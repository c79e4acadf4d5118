"""Closed-loop writers for the writes benchmark (bench/writes.py): one process holding K writer threads.

    python -m bench.writers --mode rest|raw|static --writers K --target T [--token KEY] [--bbox ...]

Modes, each writer doing one request after another on a connection of its own:
  rest    POST /api/v1/incidents/ to https://T (nginx): a high-severity incident at a random point of --bbox;
  raw     INSERT of a point row into RAW_TABLE and COMMIT, with psycopg, to the database DSN T;
  static  GET of a static file through https://T (nginx answers it alone): what this client and nginx can
          do at all, the ceiling the other modes are read against.

Protocol: prints {"event": "ready"} once every writer has its connection, waits for a line on stdin, then runs
--warmup s untimed and --seconds s timed, stops starting requests, waits for those in flight and prints one
JSON line (see run). Threads, not asyncio: http.client and psycopg wait without the GIL, and a thread's
requests cost little Python (the process's own CPU time over the window is reported, to show it is not the
limit).
"""

import argparse
import http.client
import json
import random
import resource
import ssl
import sys
import threading
import time
from collections import Counter

import psycopg

from bench.push import API_PATH, incident_body

RAW_TABLE = "bench_raw_point"
RAW_INSERT = f"INSERT INTO {RAW_TABLE} (name, location) VALUES (%s, ST_SetSRID(ST_MakePoint(%s, %s), 4326))"
STATIC_PATH = "/static/robots.txt"
# What a dispatcher types into a report: about the length of a real one.
DESCRIPTION = (
    "Two-car collision at the junction, one lane blocked in each direction. One driver trapped, "
    "ambulance and fire crew requested; police directing traffic."
)
TIMEOUT_S = 30


class Writer:
    """One writer: its connection, and what its requests returned."""

    def __init__(self, args, index: int):
        self.args, self.index = args, index
        self.rng = random.Random(f"{args.seed}-{index}")
        self.statuses: Counter = Counter()
        self.latency_ms: list[float] = []
        self.ok = self.window_ok = 0
        self.error: str | None = None
        if args.mode == "raw":
            self.db = psycopg.connect(args.target, connect_timeout=10)
        else:
            host, port = args.target.split(":")
            context = ssl._create_unverified_context()  # nginx's throw-away certificate
            self.http = http.client.HTTPSConnection(host, int(port), timeout=TIMEOUT_S, context=context)
            self.http.connect()
            self.headers = {"Authorization": f"Token {args.token}", "Accept": "application/json",
                            "Content-Type": "application/json"}

    def point(self) -> tuple[float, float]:
        min_lon, min_lat, max_lon, max_lat = self.args.bbox
        return self.rng.uniform(min_lon, max_lon), self.rng.uniform(min_lat, max_lat)

    def one(self, seq: int) -> int:
        """Send one request; return its HTTP status (raw: 200 once committed), 0 if it failed."""
        name = f"writes {self.args.process}-{self.index}-{seq}"
        try:
            if self.args.mode == "raw":
                self.db.execute(RAW_INSERT, (name, *self.point()))
                self.db.commit()
                return 200
            if self.args.mode == "rest":
                body = json.dumps(incident_body(name, *self.point(), DESCRIPTION)).encode()
                self.http.request("POST", API_PATH, body=body, headers=self.headers)
            else:
                self.http.request("GET", STATIC_PATH, headers=self.headers)
            response = self.http.getresponse()
            response.read()
            return response.status
        except Exception as error:  # counted as status 0; the connection is reopened on the next request
            self.error = self.error or repr(error)
            if self.args.mode == "raw":
                self.db.rollback()
            else:
                self.http.close()
            return 0

    def run(self, go: threading.Event, clock: dict) -> None:
        """After `go`, request until clock["end"]: a request counts as done in the window if it completed
        between clock["window"] and clock["end"] with a 2xx; its latency is kept if it started in the window."""
        go.wait()
        window, end = clock["window"], clock["end"]
        seq = 0
        while (started := time.perf_counter()) < end:
            status = self.one(seq)
            finished = time.perf_counter()
            seq += 1
            self.statuses[status] += 1
            good = 200 <= status < 300
            self.ok += good
            if started >= window:
                self.latency_ms.append((finished - started) * 1000)
            if good and window <= finished <= end:
                self.window_ok += 1


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(args) -> dict:
    """Run the writers (see module docstring) and return: 2xx answers in all (`ok`, warm-up and tail included)
    and completed in the window (`window_ok`, over `window_s`), the latencies of requests started in the
    window, every status, how many writers got a connection (and the first refusal), this
    process's CPU seconds over the window and the first request error, if any."""
    writers, refused = [], []
    for index in range(args.writers):
        try:
            writers.append(Writer(args, index))
        except Exception as error:  # e.g. PostgreSQL's max_connections: reported, the others still run
            refused.append(repr(error))
    go, clock = threading.Event(), {}
    threads = [threading.Thread(target=w.run, args=(go, clock), daemon=True) for w in writers]
    for thread in threads:
        thread.start()
    print(json.dumps({"event": "ready"}), flush=True)
    sys.stdin.readline()
    start = time.perf_counter()
    clock.update(window=start + args.warmup, end=start + args.warmup + args.seconds)
    go.set()
    time.sleep(max(0.0, clock["window"] - time.perf_counter()))
    cpu_before = cpu_s()
    time.sleep(max(0.0, clock["end"] - time.perf_counter()))
    cpu_window = cpu_s() - cpu_before
    for thread in threads:
        thread.join(TIMEOUT_S + 5)
    statuses: Counter = sum((w.statuses for w in writers), Counter())
    return {
        "writers": args.writers,
        "connected": len(writers),
        "refused": refused[:1],
        "ok": sum(w.ok for w in writers),
        "window_ok": sum(w.window_ok for w in writers),
        "window_s": args.seconds,
        "latency_ms": [ms for w in writers for ms in w.latency_ms],
        "statuses": {str(status): count for status, count in sorted(statuses.items())},
        "cpu_s": cpu_window,
        "error": next((w.error for w in writers if w.error), None),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.writers")
    parser.add_argument("--mode", choices=["rest", "raw", "static"], required=True)
    parser.add_argument("--writers", type=int, required=True)
    parser.add_argument("--target", required=True, help="host:port of nginx (rest, static) or a psycopg DSN (raw)")
    parser.add_argument("--token")
    parser.add_argument("--bbox", type=float, nargs=4, default=(0.0, 0.0, 0.0, 0.0))
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--process", type=int, default=0, help="this process's number, for unique names")
    parser.add_argument("--seed", type=int, default=7)
    print(json.dumps(run(parser.parse_args())), flush=True)


if __name__ == "__main__":
    main()
