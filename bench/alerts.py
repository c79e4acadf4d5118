"""Item 3: alert matching at 10,000 and 100,000 areas of interest.

Areas are generated star-shaped polygons (always simple and valid), sized like real ones: 70 % city blocks
(50-200 m, 4-12 vertices), 25 % neighbourhoods (200 m-1 km, 16-64 vertices), 5 % districts (1-4 km, 100-500
vertices, wavy outlines). They are spread at the same density whatever their number (the territory grows
with it, as when a service covers more cities), about three areas over any point, so that 10x the areas
is 10x the data, not 10x the matches per incident. They are bulk-loaded with COPY (loading is set-up, not
what is measured); the GiST index is the schema's own.

For each size, the same random points inside the territory are timed two ways, interleaved, in one Django
process and on one database connection (bench.djtasks alerts):
  - create: services.incident_report of a high-severity incident, which is the insert, its event, the
    alert check (ST_Covers on the indexed polygons), any alerts and their event, the commit and the publish;
  - raw: the alert check's query alone, `SELECT id ... WHERE ST_Covers(polygon, point) AND threshold <= 3`.
"""

import math
import random
import statistics

import psycopg

from bench.common import BENCH_DSN, django_task, log, summarize

CENTRE = (-58.3816, -34.6037)
METRES_PER_DEGREE = 111_320
# (share, radius range in metres, vertex range, outline noise)
SIZES = [
    (0.70, (50, 200), (4, 12), 0.15),
    (0.25, (200, 1_000), (16, 64), 0.25),
    (0.05, (1_000, 4_000), (100, 500), 0.30),
]
AREAS_OVER_A_POINT = 3.0


def mean_area_m2() -> float:
    """Return the expected area of one generated polygon (the mean of pi r^2 for r uniform in its range)."""
    return sum(
        share * math.pi * (high**3 - low**3) / (3 * (high - low)) for share, (low, high), _, _ in SIZES
    )


def territory(count: int) -> tuple[float, float, float, float]:
    """Return the (min_lon, min_lat, max_lon, max_lat) square around CENTRE that `count` areas cover about
    AREAS_OVER_A_POINT deep."""
    side_m = math.sqrt(count * mean_area_m2() / AREAS_OVER_A_POINT)
    half_lat = side_m / 2 / METRES_PER_DEGREE
    half_lon = half_lat / math.cos(math.radians(CENTRE[1]))
    return CENTRE[0] - half_lon, CENTRE[1] - half_lat, CENTRE[0] + half_lon, CENTRE[1] + half_lat


def polygon_ewkt(rng: random.Random, lon: float, lat: float) -> tuple[str, int]:
    """Return the EWKT of a random star-shaped polygon around (lon, lat) and its vertex count."""
    pick = rng.random()
    for share, (low, high), (fewest, most), noise in SIZES:
        pick -= share
        if pick <= 0:
            break
    radius = rng.uniform(low, high)
    vertices = rng.randint(fewest, most)
    phase_a, phase_b = rng.uniform(0, 2 * math.pi), rng.uniform(0, 2 * math.pi)
    cos_lat = math.cos(math.radians(lat))
    points = []
    for i in range(vertices):
        # Increasing angles and positive radii make the ring simple whatever the noise.
        angle = (i + rng.uniform(-0.3, 0.3)) * 2 * math.pi / vertices
        wave = 0.6 * math.sin(3 * angle + phase_a) + 0.4 * math.sin(7 * angle + phase_b)
        r = radius * (1 + noise * wave) * rng.uniform(0.97, 1.03)
        points.append(
            f"{lon + r * math.cos(angle) / (METRES_PER_DEGREE * cos_lat):.6f} "
            f"{lat + r * math.sin(angle) / METRES_PER_DEGREE:.6f}"
        )
    points.append(points[0])
    return f"SRID=4326;POLYGON(({','.join(points)}))", vertices


def clear_areas(conn: psycopg.Connection) -> None:
    conn.execute("TRUNCATE tracker_alert, tracker_areaofinterest RESTART IDENTITY CASCADE")


def load_areas(count: int, seed: int) -> dict:
    """Replace all areas (and alerts) with `count` generated ones; return what was loaded."""
    rng = random.Random(seed)
    min_lon, min_lat, max_lon, max_lat = territory(count)
    vertex_counts = []
    with psycopg.connect(BENCH_DSN) as conn:
        clear_areas(conn)
        with conn.cursor().copy(
            "COPY tracker_areaofinterest (name, threshold, polygon, created_at, updated_at) FROM STDIN"
        ) as copy:
            for i in range(count):
                ewkt, vertices = polygon_ewkt(rng, rng.uniform(min_lon, max_lon), rng.uniform(min_lat, max_lat))
                vertex_counts.append(vertices)
                # Thresholds low..urgent: a high-severity incident meets three areas in four.
                copy.write_row((f"bench area {i}", rng.randint(1, 4), ewkt, "now", "now"))
        conn.execute("ANALYZE tracker_areaofinterest")
    return {
        "areas": count,
        "territory_km": round((max_lat - min_lat) * METRES_PER_DEGREE / 1000, 1),
        "vertices": {"mean": round(statistics.fmean(vertex_counts), 1), "max": max(vertex_counts),
                     "areas_with_100_or_more": sum(v >= 100 for v in vertex_counts)},
        "bbox": [min_lon, min_lat, max_lon, max_lat],
    }


def measure(sizes: tuple[int, ...], samples: int) -> dict:
    """Load each size of area set in turn and time incident creation beside the raw query; return figures.
    The areas are removed afterwards."""
    runs = []
    for count in sizes:
        loaded = load_areas(count, seed=count)
        log(f"alerts: {count} areas loaded ({loaded['vertices']}); timing {samples} incidents")
        timed = django_task("alerts", "--samples", str(samples), "--bbox", *map(str, loaded["bbox"]))
        create, raw = summarize(timed["create_ms"]), summarize(timed["raw_ms"])
        runs.append({
            **loaded,
            "samples": samples,
            "matches_per_incident": timed["matches_mean"],
            "create_ms": create,
            "raw_ms": raw,
            "ratio_p50": create["p50"] / raw["p50"],
            "ratio_p99": create["p99"] / raw["p99"],
        })
    with psycopg.connect(BENCH_DSN) as conn:
        clear_areas(conn)  # the benchmarks after this one measure pushes without alerts
    first, last = runs[0], runs[-1]
    growth = last["areas"] / first["areas"]
    return {
        "runs": runs,
        "growth": {
            "areas_x": growth,
            "create_p50_x": last["create_ms"]["p50"] / first["create_ms"]["p50"],
            "raw_p50_x": last["raw_ms"]["p50"] / first["raw_ms"]["p50"],
        },
    }
