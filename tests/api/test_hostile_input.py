"""Hostile and broken input: always a 4xx JSON answer naming the problem, never a 500, never a partial write."""

import io
import json

import pytest
from django.conf import settings

from tests.api.conftest import API, assert_error, feature, point, rectangle
from tests.factories import IncidentFactory, UserFactory
from tracker.api.exceptions import RequestTooLarge
from tracker.api.parsers import JSONParser
from tracker.models import MAX_POLYGON_VERTICES, AreaOfInterest, Event, Incident

pytestmark = pytest.mark.django_db

INCIDENTS = API + "incidents/"
AREAS = API + "areas/"

SQL = "'); DROP TABLE tracker_incident; --"
SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture(autouse=True)
def nothing_written():
    """Every test here must leave no incident, area or event behind unless it creates one on purpose."""
    yield
    assert not Incident.objects.exclude(name__in=[SQL, SCRIPT]).exists()
    assert not AreaOfInterest.objects.exists()
    assert not Event.objects.exclude(envelope__feature__properties__name__in=[SQL, SCRIPT]).exists()


def raw_post(client, url, body: bytes | str, content_type="application/json"):
    return client.generic("POST", url, body, content_type=content_type)


@pytest.mark.parametrize(
    "body, code",
    [
        ('{"type": "Feature",', "parse_error"),
        ("", "invalid"),  # no body at all: the Feature's members are missing
        ('{"type": "Feature", "geometry": {"type": "Point", "coordinates": [NaN, 1]}, "properties": {"name": "x"}}',
         "parse_error"),
        ('{"type": "Feature", "geometry": {"type": "Point", "coordinates": [Infinity, 1]}, "properties": {}}',
         "parse_error"),
        ('{"type": "Feature", "geometry": {"type": "Point", "coordinates": [-Infinity, 1]}, "properties": {}}',
         "parse_error"),
        ('{"type": "Feature", "geometry": {"type": "Point", "coordinates": [1e999, 1]}, "properties": {}}',
         "parse_error"),
        ('{"type": "Feature", "geometry": {"type": "Point", "coordinates": [1%s, 1]}, "properties": {}}' % ("0" * 5000),
         "parse_error"),
        ("[" * 100_000 + "]" * 100_000, "parse_error"),
        (b'{"type": "Feature", "properties": {"name": "\xff\xfe"}}', "parse_error"),
    ],
)
def test_malformed_json_is_400(api, body, code):
    response = raw_post(api, INCIDENTS, body)
    assert assert_error(response, 400)["code"] == code


def test_form_bodies_are_415(api):
    response = api.post(INCIDENTS, {"name": "x"})  # multipart
    assert assert_error(response, 415)["code"] == "unsupported_media_type"


@pytest.mark.parametrize("body", [[], 5, "Feature", None, True])
def test_top_level_must_be_a_feature_object(api, body):
    assert_error(raw_post(api, INCIDENTS, json.dumps(body)), 400, "non_field_errors")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "flat", "geometry": point(1, 1)}, "type"),  # a flat body is refused, not half-read
        ({"type": "FeatureCollection", "features": []}, "type"),
        (feature(point(1, 1), name="x") | {"properties": ["name"]}, "properties"),
        (feature(point(1, 1), name="x", colour="red"), "colour"),
        (feature(point(1, 1), name="x", location=point(2, 2)), "location"),
        (feature(None, name="no geometry"), "geometry"),
        (feature(point(1, 1)), "name"),
        (feature(point(1, 1), name=""), "name"),
        (feature(point(1, 1), name="   "), "name"),
        (feature(point(1, 1), name=None), "name"),
        (feature(point(1, 1), name="x" * 201), "name"),
        (feature(point(1, 1), name="x", description="d" * 5001), "description"),
        (feature(point(1, 1), name="nul \x00 byte"), "name"),
        (feature(point(1, 1), name="lone \ud800 surrogate"), "name"),
        (feature(point(1, 1), name={"nested": "object"}), "name"),
        (feature(point(1, 1), name="x", severity="apocalyptic"), "severity"),
        (feature(point(1, 1), name="x", severity=3), "severity"),
        (feature(point(1, 1), name="x", severity="HIGH"), "severity"),
        (feature(point(1, 1), name="x", status="deleted"), "status"),
        (feature("POINT(1 1)", name="WKT"), "geometry"),
        (feature("SRID=3857;POINT(1 1)", name="EWKT"), "geometry"),
        (feature("0101000020E6100000000000000000F03F000000000000F03F", name="HEXEWKB"), "geometry"),
        (feature({"type": "Point", "coordinates": "1,1"}, name="x"), "geometry"),
        (feature({"type": "Point"}, name="x"), "geometry"),
        (feature({"type": "Point", "coordinates": []}, name="x"), "geometry"),
        (feature({"type": "Point", "coordinates": [1]}, name="x"), "geometry"),
        (feature({"type": "Point", "coordinates": [1, 2, 3, 4]}, name="x"), "geometry"),
        (feature({"type": "Point", "coordinates": [True, False]}, name="x"), "geometry"),
        (feature({"type": "Point", "coordinates": ["1", "2"]}, name="x"), "geometry"),
        (feature({"type": "Point", "coordinates": [[1, 2]]}, name="x"), "geometry"),
        (feature({"type": "point", "coordinates": [1, 2]}, name="x"), "geometry"),
        (feature({"type": "MultiPoint", "coordinates": [[1, 2]]}, name="x"), "geometry"),
        (feature({"type": "GeometryCollection", "geometries": []}, name="x"), "geometry"),
        (feature(rectangle(0, 0, 1, 1), name="a polygon incident"), "geometry"),
        (feature(point(181, 0), name="x"), "geometry"),
        (feature(point(-180.0001, 0), name="x"), "geometry"),
        (feature(point(0, 90.5), name="x"), "geometry"),
        (feature(point(0, -91), name="x"), "geometry"),
        (feature(point(1e308, 1e308), name="x"), "geometry"),
    ],
)
def test_invalid_incident_features_name_the_field(api, body, field):
    # json.dumps escapes non-ASCII, so a lone surrogate travels as the JSON text \ud800, as an attacker sends it.
    assert_error(raw_post(api, INCIDENTS, json.dumps(body)), 400, field)


@pytest.mark.parametrize(
    "crs",
    [
        {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}},
        {"type": "link", "properties": {"href": "file:///etc/passwd", "type": "proj4"}},
        {"type": "link", "properties": {"href": "http://127.0.0.1:9/crs", "type": "ogcwkt"}},
        None,
    ],
)
def test_a_crs_member_is_refused_so_gdal_never_resolves_one(api, staff_api, crs):
    # settings.py silences gis.W001 (GDAL 3.6 cannot forbid file/network access from spatial references)
    # because of this: no geometry with a "crs" reaches GDAL, whatever the crs says.
    incident = feature(point(1, 1) | {"crs": crs}, name="x")
    body = assert_error(api.post(INCIDENTS, incident, format="json"), 400, "geometry")
    assert "crs" in body["errors"]["geometry"][0]
    area = feature(rectangle(0, 0, 1, 1) | {"crs": crs}, name="x")
    assert_error(staff_api.post(AREAS, area, format="json"), 400, "geometry")
    assert "gis.W001" in settings.SILENCED_SYSTEM_CHECKS


def ring_with(vertices: int) -> list[list[float]]:
    """Return a closed ring of `vertices` positions (the last repeating the first) around a circle."""
    import math

    ring = [[math.cos(2 * math.pi * i / (vertices - 1)), math.sin(2 * math.pi * i / (vertices - 1))]
            for i in range(vertices - 1)]
    return ring + [ring[0]]


@pytest.mark.parametrize(
    "geometry, message",
    [
        (point(1, 1), "Polygon"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}, "Self-intersection"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}, "closed"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}, "at least 4"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [2, 2], [0, 0]]]}, ""),
        ({"type": "Polygon", "coordinates": []}, "rings"),
        ({"type": "Polygon", "coordinates": [[]]}, "at least 4"),
        ({"type": "Polygon", "coordinates": [[0, 0], [1, 0], [1, 1], [0, 0]]}, ""),
        ({"type": "Polygon", "coordinates": [ring_with(MAX_POLYGON_VERTICES + 1)]}, str(MAX_POLYGON_VERTICES)),
        (rectangle(170, 80, 190, 95), "longitude"),
    ],
)
def test_invalid_area_geometries_name_the_field(staff_api, geometry, message):
    body = assert_error(staff_api.post(AREAS, feature(geometry, name="bad"), format="json"), 400, "geometry")
    assert message in " ".join(body["errors"]["geometry"])


def test_polygon_at_the_vertex_limit_is_accepted(staff_api):
    response = staff_api.post(AREAS, feature({"type": "Polygon", "coordinates": [ring_with(MAX_POLYGON_VERTICES)]},
                                             name="round"), format="json")
    assert response.status_code == 201, response.json()
    AreaOfInterest.objects.all().delete()
    Event.objects.all().delete()


def test_a_huge_body_is_413_json_before_it_is_read(api):
    size = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1
    body = json.dumps(feature(point(1, 1), name="x", description="d" * size))
    response = raw_post(api, INCIDENTS, body)
    assert assert_error(response, 413)["code"] == "request_too_large"


def test_the_parser_bounds_what_it_reads_even_without_a_content_length():
    stream = io.BytesIO(b" " * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1))
    with pytest.raises(RequestTooLarge):
        JSONParser().parse(stream, "application/json", {})


@pytest.mark.parametrize("text", [SQL, SCRIPT])
def test_sql_and_script_text_is_stored_verbatim_and_escaped_where_rendered(api, client, text):
    response = api.post(INCIDENTS, feature(point(1, 1), name=text, description=text), format="json")
    assert response.status_code == 201
    incident = Incident.objects.get(name=text)
    assert incident.description == text
    assert api.get(f"{INCIDENTS}{incident.pk}/").json()["properties"]["name"] == text
    assert response["X-Content-Type-Options"] == "nosniff"  # JSON is never sniffed into HTML
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get("/admin/tracker/incident/").content.decode()
    assert text not in page
    assert "&lt;script&gt;" in page if text == SCRIPT else "&#x27;); DROP TABLE" in page


def test_patch_with_an_invalid_geometry_leaves_the_row_unchanged(api, user):
    incident = IncidentFactory(reporter=user, name="keep")
    before = Event.objects.count()
    response = api.patch(f"{INCIDENTS}{incident.pk}/", feature(point(0, 91), name="changed"), format="json")
    assert_error(response, 400, "geometry")
    incident.refresh_from_db()
    assert incident.name == "keep" and Event.objects.count() == before
    incident.delete()
    Event.objects.all().delete()


def test_a_chunked_body_without_length_is_411_not_read_as_empty(api):
    response = api.generic("POST", INCIDENTS, json.dumps(feature(point(1, 1), name="x")),
                           content_type="application/json", HTTP_TRANSFER_ENCODING="chunked", CONTENT_LENGTH="")
    assert assert_error(response, 411)["code"] == "length_required"
