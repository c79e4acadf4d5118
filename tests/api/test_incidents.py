"""incidents/: the GeoJSON shape, writes through the services, permissions, filters, ordering and paging."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.api.conftest import API, assert_error, feature, point
from tests.factories import IncidentFactory, UserFactory
from tracker import features
from tracker.models import Event, EventOp, EventType, Incident, IncidentStatus, Severity
from tracker.selectors import point as point_geos

pytestmark = pytest.mark.django_db

URL = API + "incidents/"


def detail(incident) -> str:
    return f"{URL}{incident.pk}/"


def test_create_reads_back_as_the_feature_the_event_carries(api, user):
    response = api.post(
        URL, feature(point(-58.38, -34.6), name="Flood", description="Florida st.", severity="high"), format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    incident = Incident.objects.get()
    assert body == features.incident_feature(incident)
    assert body["geometry"] == {"type": "Point", "coordinates": [-58.38, -34.6]}
    assert body["properties"]["severity"] == "high"
    assert body["properties"]["status"] == "open"
    assert body["properties"]["reporter"] == user.username
    assert body["properties"]["reported_publicly"] is False
    assert response["Location"].endswith(detail(incident))
    event = Event.objects.get(type=EventType.INCIDENT)
    assert event.op == EventOp.CREATED and event.envelope["feature"] == body
    assert api.get(detail(incident)).json() == body


def test_altitude_is_accepted_and_dropped(api):
    response = api.post(URL, feature({"type": "Point", "coordinates": [1, 2, 30]}, name="Hill"), format="json")
    assert response.status_code == 201
    assert response.json()["geometry"]["coordinates"] == [1.0, 2.0]


def test_geojson_media_type_is_accepted(api):
    import json

    body = json.dumps(feature(point(1, 2), name="GIS client"))
    assert api.post(URL, body, content_type="application/geo+json").status_code == 201


def test_a_new_incident_cannot_start_closed(api):
    response = api.post(URL, feature(point(1, 2), name="x", status="closed"), format="json")
    assert_error(response, 400, "status")
    assert not Incident.objects.exists()


def test_read_only_properties_sent_back_are_ignored(api, user):
    incident = IncidentFactory(reporter=user)
    fetched = api.get(detail(incident)).json()
    fetched["properties"].update(name="Renamed", reporter="someone-else", reported_publicly=True)
    response = api.put(detail(incident), fetched, format="json")
    assert response.status_code == 200, response.json()
    incident.refresh_from_db()
    assert (incident.name, incident.reporter, incident.reported_publicly) == ("Renamed", user, False)


def test_patch_changes_only_what_is_sent_and_logs_an_update(api, user):
    incident = IncidentFactory(reporter=user, severity=Severity.LOW, description="keep me")
    response = api.patch(detail(incident), feature(severity="urgent", status="closed"), format="json")
    assert response.status_code == 200, response.json()
    incident.refresh_from_db()
    assert (incident.severity, incident.status, incident.description) == (Severity.URGENT, "closed", "keep me")
    assert Event.objects.filter(type=EventType.INCIDENT, op=EventOp.UPDATED).count() == 1


def test_patch_moves_the_point(api, user):
    incident = IncidentFactory(reporter=user)
    response = api.patch(detail(incident), feature(point(3, 4)), format="json")
    assert response.status_code == 200
    incident.refresh_from_db()
    assert incident.location.coords == (3, 4)


def test_delete_goes_through_the_service(api, user):
    incident = IncidentFactory(reporter=user)
    assert api.delete(detail(incident)).status_code == 204
    assert not Incident.objects.exists()
    assert Event.objects.filter(type=EventType.INCIDENT, op=EventOp.DELETED).count() == 1


def test_only_the_reporter_or_staff_may_change(api, other_api, staff_api, user):
    incident = IncidentFactory(reporter=user)
    body = assert_error(other_api.patch(detail(incident), feature(name="hijack"), format="json"), 403)
    assert body["code"] == "permission_denied"
    assert_error(other_api.delete(detail(incident)), 403)
    assert other_api.get(detail(incident)).status_code == 200  # reading is for everyone logged in
    assert staff_api.patch(detail(incident), feature(name="by staff"), format="json").status_code == 200
    assert api.patch(detail(incident), feature(name="by reporter"), format="json").status_code == 200


def test_public_report_is_changed_by_staff_only(api, staff_api):
    incident = IncidentFactory(reporter=None, reported_publicly=True)
    assert_error(api.patch(detail(incident), feature(name="x"), format="json"), 403)
    assert staff_api.delete(detail(incident)).status_code == 204


def test_missing_incident_is_a_json_404(api):
    assert_error(api.get(URL + "999999/"), 404)
    assert_error(api.get(URL + "99999999999999999999999/"), 404)
    assert_error(api.get(URL + "abc/"), 404)


def names(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [f["properties"]["name"] for f in response.json()["features"]]


def test_bbox_filter_includes_edges(api):
    IncidentFactory(name="in", location=point_geos(10.5, 10.5))
    IncidentFactory(name="edge", location=point_geos(11, 10.5))
    IncidentFactory(name="out", location=point_geos(11.5, 10.5))
    assert sorted(names(api.get(URL, {"in_bbox": "10,10,11,11"}))) == ["edge", "in"]


@pytest.mark.parametrize("lat", [0, 60])
def test_distance_is_metres_on_the_spheroid_at_any_latitude(api, lat):
    # At 60 degrees north a degree of longitude is half as long as at the equator: a filter in degrees, or
    # drf-gis' degree approximation, gets one side of this wrong.
    metres_per_degree_lon = 111_320 * (0.5 if lat == 60 else 1)
    IncidentFactory(name="900 m east", location=point_geos(10 + 900 / metres_per_degree_lon, lat))
    IncidentFactory(name="1100 m east", location=point_geos(10 + 1100 / metres_per_degree_lon, lat))
    IncidentFactory(name="950 m north", location=point_geos(10, lat + 950 / 111_400))
    assert sorted(names(api.get(URL, {"point": f"10,{lat}", "dist": "1000"}))) == ["900 m east", "950 m north"]
    assert sorted(names(api.get(URL, {"point": f"10,{lat}", "dist": "1200"}))) == [
        "1100 m east", "900 m east", "950 m north"
    ]


def test_distance_across_the_antimeridian_and_near_a_pole(api):
    IncidentFactory(name="west of 180", location=point_geos(179.999, 0))
    IncidentFactory(name="pole", location=point_geos(0, 89.9999))
    assert names(api.get(URL, {"point": "-179.999,0", "dist": "500"})) == ["west of 180"]
    assert names(api.get(URL, {"point": "120,89.9999", "dist": "50"})) == ["pole"]


def test_severity_status_and_text_filters(api):
    IncidentFactory(name="low open", severity=Severity.LOW)
    IncidentFactory(name="high open", severity=Severity.HIGH, description="gas LEAK")
    IncidentFactory(name="urgent closed", severity=Severity.URGENT, status=IncidentStatus.CLOSED)
    assert sorted(names(api.get(URL, {"severity": ["low", "urgent"]}))) == ["low open", "urgent closed"]
    assert sorted(names(api.get(URL, {"min_severity": "high"}))) == ["high open", "urgent closed"]
    assert names(api.get(URL, {"min_severity": "high", "status": "open"})) == ["high open"]
    assert names(api.get(URL, {"search": "leak"})) == ["high open"]
    assert names(api.get(URL, {"search": "%"})) == []  # LIKE wildcards are matched literally


def test_created_after_and_before(api):
    old = IncidentFactory(name="old")
    Incident.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    IncidentFactory(name="new")
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert names(api.get(URL, {"created_after": since})) == ["new"]
    assert names(api.get(URL, {"created_before": since})) == ["old"]
    assert names(api.get(URL, {"created_after": "2000-01-01T00:00:00+05:00"})) == ["new", "old"]
    # ISO 8601 allows offsets PostgreSQL does not (beyond +-15:59): converted to UTC first.
    assert names(api.get(URL, {"created_before": "2686-07-30T02:22:00+23:17"})) == ["new", "old"]


def test_ordering_and_default_newest_first(api):
    for name, severity in [("b", Severity.HIGH), ("a", Severity.LOW), ("c", Severity.MEDIUM)]:
        IncidentFactory(name=name, severity=severity)
    assert names(api.get(URL)) == ["c", "a", "b"]
    assert names(api.get(URL, {"ordering": "name"})) == ["a", "b", "c"]
    assert names(api.get(URL, {"ordering": "-severity"})) == ["b", "c", "a"]
    assert_error(api.get(URL, {"ordering": "reporter__password"}), 400, "ordering")


def test_pages_carry_count_and_links_and_cover_every_row_once(api):
    for index in range(5):
        IncidentFactory(name=f"i{index}")
    first = api.get(URL, {"page_size": 2}).json()
    assert first["type"] == "FeatureCollection" and first["count"] == 5 and first["previous"] is None
    seen = [f["id"] for f in first["features"]]
    page = first
    while page["next"]:
        page = api.get(page["next"]).json()
        seen += [f["id"] for f in page["features"]]
    assert sorted(seen) == sorted(Incident.objects.values_list("id", flat=True))
    assert page["previous"] is not None


@pytest.mark.parametrize(
    "params, field",
    [
        ({"page": "abc"}, "page"),
        ({"page": "0"}, "page"),
        ({"page": "1.5"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page_size": "many"}, "page_size"),
        ({"page_size": "1001"}, "page_size"),
        ({"in_bbox": "11,10,10,11"}, "in_bbox"),
        ({"in_bbox": "10,11,11,10"}, "in_bbox"),
        ({"in_bbox": "1,2,3"}, "in_bbox"),
        ({"in_bbox": "a,b,c,d"}, "in_bbox"),
        ({"in_bbox": "nan,0,1,1"}, "in_bbox"),
        ({"in_bbox": "-181,0,0,1"}, "in_bbox"),
        ({"point": "10,95", "dist": "10"}, "point"),
        ({"point": "10,inf", "dist": "10"}, "point"),
        ({"point": "10,10"}, "dist"),
        ({"dist": "10"}, "point"),
        ({"point": "10,10", "dist": "-1"}, "dist"),
        ({"point": "10,10", "dist": "NaN"}, "dist"),
        ({"severity": "apocalyptic"}, "severity"),
        ({"min_severity": "3"}, "min_severity"),
        ({"status": "maybe"}, "status"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_before": "2024-13-45T00:00:00Z"}, "created_before"),
        ({"created_after": "0001-01-01T00:00:00+01:00"}, "created_after"),
        ({"search": "x" * 201}, "search"),
        ({"search": "nul\x00byte"}, "search"),
    ],
)
def test_malformed_query_parameters_are_400_naming_them(api, params, field):
    IncidentFactory()
    assert_error(api.get(URL, params), 400, field)


def test_page_past_the_end_is_a_json_404(api):
    IncidentFactory()
    assert_error(api.get(URL, {"page": "2"}), 404)


def test_reporter_deleted_reads_as_null(api):
    reporter = UserFactory()
    incident = IncidentFactory(reporter=reporter)
    reporter.delete()
    assert api.get(detail(incident)).json()["properties"]["reporter"] is None
