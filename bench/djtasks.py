"""Bench work that needs Django, run in a subprocess against the bench database:
`python -m bench.djtasks <task> [options]` (see bench.common.django_task). Each task prints one JSON line.

Incident names carry the bench's markers, which the load clients read back from the pushed frames:
"<kind> <seq> <t0_ns>" (see bench.clients.parse_marker).
"""

import argparse
import asyncio
import json
import random
import sys
import time

import django

django.setup()

from asgiref.sync import sync_to_async  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from bench.common import PASSWORD, USERNAME  # noqa: E402
from tracker import selectors, services  # noqa: E402
from tracker.stream.eventlog import encode  # noqa: E402
from tracker.models import Event, Severity  # noqa: E402

# Incidents of the push benchmarks fall around the default map centre (Buenos Aires).
CENTRE = (-58.3816, -34.6037)


def marker(kind: str, seq: int, t0_ns: int) -> str:
    return f"{kind} {seq} {t0_ns}"


def near_centre(rng: random.Random):
    return selectors.point(CENTRE[0] + rng.uniform(-0.1, 0.1), CENTRE[1] + rng.uniform(-0.1, 0.1))


def task_user(args) -> dict:
    """Create the bench user (a dispatcher with a password for the browser and a token for the API)."""
    user, _ = get_user_model().objects.get_or_create(username=USERNAME, defaults={"is_staff": True})
    user.set_password(PASSWORD)
    user.save()
    token, _ = Token.objects.get_or_create(user=user)
    return {"token": token.key}


def task_burst(args) -> dict:
    """Create `count` incidents in one transaction, so their events are published back to back at commit.

    Returns the time the commit started and the time the last publish returned (time.time_ns)."""
    rng = random.Random(args.seed)
    user = get_user_model().objects.get(username=USERNAME)
    with transaction.atomic():
        for seq in range(args.count):
            services.incident_report(
                name=marker("burst", seq, 0), location=near_centre(rng), severity=Severity.HIGH, reporter=user
            )
        commit_ns = time.time_ns()
    return {"commit_ns": commit_ns, "published_ns": time.time_ns()}


def task_frame(args) -> dict:
    """Return the JSON text of a real incident event as pushed to sockets (creating one if there is none),
    with "{name}" where the incident name goes: the frame the baseline server sends."""
    event = Event.objects.filter(type="incident").order_by("-id").first()
    if event is None:
        services.incident_report(name="template", location=near_centre(random.Random(0)), severity=Severity.HIGH)
        event = Event.objects.filter(type="incident").order_by("-id").first()
    envelope = event.envelope
    envelope["feature"]["properties"]["name"] = "{name}"
    return {"template": encode(envelope)}


def task_alerts(args) -> dict:
    """Time, for `samples` random points in the bbox, the raw ST_Covers query and incident creation (with
    its alert check, events, commit and publish), interleaved, after 20 untimed warm-up rounds.

    The rounds run as Django runs a sync view under an ASGI server: in the one thread-sensitive worker
    thread, with the event loop free in the main thread, so that the publish after commit goes out on that
    loop's Redis connection as it does in the server. Returns both lists in milliseconds and the mean number
    of matching areas."""
    rng = random.Random(args.seed)
    user = get_user_model().objects.get(username=USERNAME)

    def one_round(lon: float, lat: float) -> tuple[int, int, int]:
        with connection.cursor() as cursor:
            started = time.perf_counter_ns()
            cursor.execute(RAW_ALERT_QUERY, [lon, lat, int(Severity.HIGH)])
            found = len(cursor.fetchall())
            raw = time.perf_counter_ns() - started
        started = time.perf_counter_ns()
        services.incident_report(
            name="alert bench", location=selectors.point(lon, lat), severity=Severity.HIGH, reporter=user
        )
        return raw, time.perf_counter_ns() - started, found

    async def rounds() -> list[tuple[int, int, int]]:
        timed = []
        in_worker = sync_to_async(one_round, thread_sensitive=True)
        min_lon, min_lat, max_lon, max_lat = args.bbox
        for _ in range(args.samples + 20):
            timed.append(await in_worker(rng.uniform(min_lon, max_lon), rng.uniform(min_lat, max_lat)))
        return timed[20:]

    timed = asyncio.run(rounds())
    return {
        "raw_ms": [raw / 1e6 for raw, _, _ in timed],
        "create_ms": [create / 1e6 for _, create, _ in timed],
        "matches_mean": sum(found for _, _, found in timed) / len(timed),
    }


def task_latency(args) -> dict:
    """Time GETs of `path` through the Django test client in this process (the whole middleware stack and
    view, no ASGI server), authenticated with the bench user's token, after `warmup` untimed ones.

    Creates 20 incidents first if there are none, so the page is not empty. Then, for each line read from
    stdin (until EOF), sends `count` requests and prints their times in ms as one JSON list, so that the
    caller can interleave these rounds with its own. Returns the number of rounds."""
    from django.test import Client

    from tracker.models import Incident

    if not Incident.objects.exists():
        rng = random.Random(args.seed)
        for seq in range(20):
            services.incident_report(name=marker("latency", seq, 0), location=near_centre(rng), severity=Severity.LOW)
    token = Token.objects.get(user__username=USERNAME).key
    client = Client(headers={"Authorization": f"Token {token}", "Accept": "application/json"})

    def timed(count: int) -> list[float]:
        times = []
        for _ in range(count):
            started = time.perf_counter_ns()
            response = client.get(args.path)
            times.append((time.perf_counter_ns() - started) / 1e6)
            if response.status_code != 200:
                raise RuntimeError(f"GET {args.path}: {response.status_code} {response.content[:200]!r}")
        return times

    timed(args.warmup)
    rounds = 0
    for _ in sys.stdin:
        print(json.dumps(timed(args.count)), flush=True)
        rounds += 1
    return {"rounds": rounds}


def task_create_statements(args) -> dict:
    """Count the SQL statements of one REST create that raises one alert.

    Makes sure the writes benchmark's area (`bbox`, threshold high) exists, creating it through the service if
    not; then POSTs a high-severity incident at the area's centre through the test client (the whole
    middleware stack, token authentication and view) twice, and captures the second: the first pays one-off
    queries of a new process. Returns the count of the statements Django sent apart from BEGIN and COMMIT
    (counted the same way, the raw baseline's INSERT + COMMIT is 1), the count of those, the text of all, and
    the alerts and events that create made. The pool's check of its connection (an empty round trip before
    each request) is not a Django query and is not counted."""
    from django.contrib.gis.geos import Polygon
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.push import API_PATH, incident_body
    from bench.writers import DESCRIPTION
    from tracker.models import Alert, AreaOfInterest

    if not AreaOfInterest.objects.filter(name=WRITES_AREA).exists():
        services.area_create(name=WRITES_AREA, polygon=Polygon.from_bbox(args.bbox), threshold=Severity.HIGH)
    token = Token.objects.get(user__username=USERNAME).key
    client = Client(headers={"Authorization": f"Token {token}", "Accept": "application/json"})
    lon, lat = (args.bbox[0] + args.bbox[2]) / 2, (args.bbox[1] + args.bbox[3]) / 2

    def create(name: str):
        response = client.post(API_PATH, json.dumps(incident_body(name, lon, lat, DESCRIPTION)),
                               content_type="application/json")
        if response.status_code != 201:
            raise RuntimeError(f"POST {API_PATH}: {response.status_code} {response.content[:300]!r}")
        return response.json()["id"]

    create("writes statements warm-up")
    last_event = Event.objects.order_by("-id").values_list("id", flat=True).first()
    with CaptureQueriesContext(connection) as captured:
        incident_id = create("writes statements")
    sql = [query["sql"] for query in captured]
    statements = [text for text in sql if text not in TRANSACTION_CONTROL]
    return {
        "statements": len(statements),
        "transaction_control": len(sql) - len(statements),
        "sql": [text[:200] for text in sql],
        "alerts": Alert.objects.filter(incident_id=incident_id).count(),
        "events": Event.objects.filter(id__gt=last_event).count(),
    }


# The area the writes benchmark's incidents fall in (bench/writes.py): each create raises one alert.
WRITES_AREA = "writes bench area"
# What Django's query log records of transaction management (since Django 4.2), apart from the statements.
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK")

# The alert rule's query as PostGIS runs it for one incident (selectors.areas_alerting_for), without Django.
RAW_ALERT_QUERY = (
    "SELECT id FROM tracker_areaofinterest "
    "WHERE ST_Covers(polygon, ST_SetSRID(ST_MakePoint(%s, %s), 4326)) AND threshold <= %s"
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.djtasks")
    tasks = parser.add_subparsers(dest="task", required=True)
    tasks.add_parser("user")
    burst = tasks.add_parser("burst")
    burst.add_argument("--count", type=int, required=True)
    burst.add_argument("--seed", type=int, default=1)
    tasks.add_parser("frame")
    alerts = tasks.add_parser("alerts")
    alerts.add_argument("--samples", type=int, required=True)
    alerts.add_argument("--bbox", type=float, nargs=4, required=True)
    alerts.add_argument("--seed", type=int, default=3)
    latency = tasks.add_parser("latency")
    latency.add_argument("--path", required=True)
    latency.add_argument("--count", type=int, required=True)
    latency.add_argument("--warmup", type=int, default=20)
    latency.add_argument("--seed", type=int, default=5)
    statements = tasks.add_parser("create_statements")
    statements.add_argument("--bbox", type=float, nargs=4, required=True)
    args = parser.parse_args()
    result = globals()[f"task_{args.task}"](args)
    connection.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
