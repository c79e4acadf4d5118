"""Schemathesis hooks for tests/api/test_schemathesis.py (loaded with SCHEMATHESIS_HOOKS).

The published schema says everything JSON Schema can say about a request; three rules relate values to each
other, which it cannot, so the schema states them in words and these hooks hold the generated *valid*
requests to them (invalid ones are left alone: the server must refuse them whatever they are):

- `in_bbox` is min_lon,min_lat,max_lon,max_lat with min <= max: the two values of each axis are put in order;
- `point` and `dist` come together: a lone one is dropped;
- a polygon must be valid (closed rings, no self-intersection, some area): one the server's own rule
  (tracker.models.validate_polygon) refuses is replaced by a small square at its first position.
"""

import django
import schemathesis

django.setup()  # the st process loads this module: the server's polygon rule needs the app registry

from django.contrib.gis.geos import GEOSException, Polygon  # noqa: E402
from django.core.exceptions import ValidationError  # noqa: E402

from tracker.models import MAX_LAT, MAX_LON, validate_polygon  # noqa: E402

SQUARE_SIDE = 0.01


@schemathesis.hook
def map_case(context, case):
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return case
    if isinstance(case.query, dict):
        case.query = ordered_bbox(paired_distance(case.query))
    geometry = case.body.get("geometry") if isinstance(case.body, dict) else None
    if isinstance(geometry, dict) and geometry.get("type") == "Polygon" and not valid_polygon(geometry):
        geometry["coordinates"] = square_at(geometry["coordinates"])
    return case


def ordered_bbox(query: dict) -> dict:
    """Return `query` with the values of each axis of its in_bbox in ascending order (text kept as sent)."""
    parts = str(query.get("in_bbox", "")).split(",")
    if len(parts) != 4:
        return query
    lons = sorted(parts[0::2], key=float)
    lats = sorted(parts[1::2], key=float)
    return {**query, "in_bbox": ",".join([lons[0], lats[0], lons[1], lats[1]])}


def paired_distance(query: dict) -> dict:
    """Return `query` without a lone `point` or `dist`."""
    if ("point" in query) == ("dist" in query):
        return query
    return {name: value for name, value in query.items() if name not in ("point", "dist")}


def valid_polygon(geometry: dict) -> bool:
    try:
        polygon = Polygon(*[[tuple(position[:2]) for position in ring] for ring in geometry["coordinates"]])
        validate_polygon(polygon)
    except (GEOSException, ValidationError, TypeError, ValueError, IndexError):
        return False
    return True


def square_at(rings: list) -> list:
    """Return the rings of a small valid square whose south-west corner is near the first position."""
    lon, lat = rings[0][0][:2]
    lon = min(lon, MAX_LON - SQUARE_SIDE)
    lat = min(lat, MAX_LAT - SQUARE_SIDE)
    east, north = lon + SQUARE_SIDE, lat + SQUARE_SIDE
    return [[[lon, lat], [east, lat], [east, north], [lon, north], [lon, lat]]]
