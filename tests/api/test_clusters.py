"""incidents/clusters/: the incidents of a map view grouped on a grid in PostGIS, with the list's filters."""

import random

import pytest
from django.contrib.gis.geos import Point
from django.db import connection

from tests.api.conftest import API, assert_error
from tests.factories import IncidentFactory
from tracker.models import Incident, IncidentStatus, Severity

pytestmark = pytest.mark.django_db

URL = API + "incidents/clusters/"
LIST_URL = API + "incidents/"
VIEW = "-58.6,-34.8,-58.2,-34.4"
# The dashboard's default view: Buenos Aires at zoom 12 in a 1280 x 800 px map.
BUSIEST_VIEW = (-58.6013, -34.7167, -58.1619, -34.4906)


@pytest.fixture
def spread():
    """300 incidents in and around VIEW, of every severity and both states (no events: bulk load)."""
    rng = random.Random(7)
    Incident.objects.bulk_create(
        Incident(
            name=f"Spread {n}",
            severity=rng.choice(Severity.values),
            status=rng.choice(IncidentStatus.values),
            location=Point(-58.4 + rng.gauss(0, 0.15), -34.6 + rng.gauss(0, 0.15), srid=4326),
        )
        for n in range(300)
    )


def clusters(api, **params) -> dict:
    response = api.get(URL, {"in_bbox": VIEW, "zoom": 12, **params})
    assert response.status_code == 200, response.content[:500]
    return response.json()


def listed_count(api, **params) -> int:
    response = api.get(LIST_URL, {"in_bbox": VIEW, "page_size": 1, **params})
    assert response.status_code == 200
    return response.json()["count"]


@pytest.mark.parametrize(
    "filters",
    [{}, {"severity": ["high", "urgent"]}, {"min_severity": "medium"}, {"status": "open"}, {"status": "closed"}],
)
def test_counts_add_up_to_the_lists_count_for_the_same_filters(api, spread, filters):
    body = clusters(api, **filters)
    expected = listed_count(api, **filters)
    assert 0 < expected < 300  # the view cuts the spread, and each filter keeps some
    assert body["type"] == "FeatureCollection"
    assert body["count"] == sum(f["properties"]["count"] for f in body["features"]) == expected


def test_a_cluster_holds_the_centroid_highest_severity_and_open_count_of_its_cell(api):
    # Zoom 10: cells of 360 / 2^10 / 8 = 0.0439 degrees around multiples of it; the first two share one.
    IncidentFactory(location=Point(-58.370, -34.601, srid=4326), severity=Severity.LOW)
    IncidentFactory(location=Point(-58.372, -34.603, srid=4326), severity=Severity.URGENT, status="closed")
    IncidentFactory(location=Point(-58.000, -34.601, srid=4326), severity=Severity.INFO)  # another cell
    IncidentFactory(location=Point(10, 10, srid=4326))  # outside the view
    body = clusters(api, in_bbox="-58.5,-34.7,-57.9,-34.5", zoom=10)
    assert body["count"] == 3
    features = sorted(body["features"], key=lambda f: f["geometry"]["coordinates"][0])
    assert features == [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [-58.371, -34.602]},
            "properties": {"count": 2, "max_severity": "urgent", "open": 1},
        },
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [-58.0, -34.601]},
            "properties": {"count": 1, "max_severity": "info", "open": 1},
        },
    ]


def test_cells_shrink_as_the_zoom_grows(api, spread):
    sizes = [len(clusters(api, zoom=zoom)["features"]) for zoom in (6, 9, 12, 18)]
    assert sizes[0] < sizes[1] < sizes[2] < sizes[3]
    assert sizes[0] <= 4  # the whole view is a few cells
    assert sizes[3] == listed_count(api)  # ~5 cm cells: one per incident
    assert {clusters(api, zoom=zoom)["count"] for zoom in (0, 6, 22)} == {listed_count(api)}


def test_the_answer_is_one_query(api, spread, django_assert_num_queries):
    # Authentication (token lookup) is one query; the clusters are the other.
    with django_assert_num_queries(2):
        clusters(api)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"zoom": 3}, "in_bbox"),
        ({"in_bbox": VIEW}, "zoom"),
        ({"in_bbox": VIEW, "zoom": 23}, "zoom"),
        ({"in_bbox": VIEW, "zoom": -1}, "zoom"),
        ({"in_bbox": VIEW, "zoom": "4.5"}, "zoom"),
        ({"in_bbox": VIEW, "zoom": "x"}, "zoom"),
        ({"in_bbox": "1,2,3", "zoom": 3}, "in_bbox"),
        ({"in_bbox": "0,0,-1,1", "zoom": 3}, "in_bbox"),
        ({"in_bbox": "0,0,1,91", "zoom": 3}, "in_bbox"),
        ({"in_bbox": VIEW, "zoom": 3, "severity": "dire"}, "severity"),
        ({"in_bbox": VIEW, "zoom": 3, "status": "maybe"}, "status"),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(api, params, field):
    assert_error(api.get(URL, params), 400, field)


def test_login_is_required(anon):
    assert_error(anon.get(URL, {"in_bbox": VIEW, "zoom": 3}), 401)


def test_an_empty_view_has_no_clusters(api):
    assert clusters(api) == {"type": "FeatureCollection", "count": 0, "features": []}


def test_the_dashboards_busiest_view_is_a_small_answer(api, capsys):
    """The map benchmark's default view (zoom 12, 1280 x 800 px, around Buenos Aires) holding 24,000 incidents,
    spread evenly so that every cell is taken (the largest answer): about a hundred kilobytes, where the point
    list was 9.1 MB."""
    min_lon, min_lat, max_lon, max_lat = BUSIEST_VIEW
    with connection.cursor() as cursor:
        # Generated in one statement: creating 24,000 model instances would take seconds (no events: load data).
        cursor.execute("SELECT setseed(0.4)")
        cursor.execute(
            "INSERT INTO tracker_incident (name, description, severity, status, location, reported_publicly,"
            " created_at, updated_at)"
            " SELECT 'Load ' || n, '', n %% 5, 'open',"
            " ST_SetSRID(ST_MakePoint(%s + random() * %s, %s + random() * %s), 4326), false, now(), now()"
            " FROM generate_series(1, 24000) AS n",
            [min_lon, max_lon - min_lon, min_lat, max_lat - min_lat],
        )
    response = api.get(URL, {"in_bbox": ",".join(map(str, BUSIEST_VIEW)), "zoom": 12})
    body = response.json()
    assert body["count"] == 24_000
    assert len(response.content) < 200_000, len(response.content)
    with capsys.disabled():
        print(f"\n  clusters of 24,000 incidents: {len(body['features'])} cells, {len(response.content)} bytes")
