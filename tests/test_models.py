"""Model-layer validation: bad geometry is a ValidationError on any save path, never a database error."""

import math

import pytest
from django.contrib.gis.geos import LinearRing, Point, Polygon
from django.core.exceptions import ValidationError

from tests.factories import AreaFactory, IncidentFactory, square
from tracker.models import MAX_POLYGON_VERTICES, AreaOfInterest, Event, Incident, Severity

pytestmark = pytest.mark.django_db


def test_severity_is_ordered_and_named():
    assert [s.label for s in sorted(Severity)] == ["info", "low", "medium", "high", "urgent"]
    assert Severity.from_name("high") > Severity.from_name("medium")
    with pytest.raises(ValueError):
        Severity.from_name("catastrophic")


@pytest.mark.parametrize(
    "lon, lat",
    [(181, 0), (-180.5, 0), (0, 91), (0, -90.01), (math.nan, 0), (0, math.inf)],
)
def test_incident_out_of_range_coordinates_are_refused(lon, lat):
    with pytest.raises(ValidationError) as error:
        IncidentFactory(location=Point(lon, lat, srid=4326))
    assert "location" in error.value.message_dict
    assert not Incident.objects.exists() and not Event.objects.exists()


def test_incident_on_the_antimeridian_and_poles_is_accepted():
    IncidentFactory(location=Point(180, 90, srid=4326))
    IncidentFactory(location=Point(-180, -90, srid=4326))
    assert Incident.objects.count() == 2


def test_self_intersecting_polygon_is_refused():
    bowtie = Polygon(((0, 0), (1, 1), (1, 0), (0, 1), (0, 0)), srid=4326)
    with pytest.raises(ValidationError) as error:
        AreaFactory(polygon=bowtie)
    assert "Self-intersection" in str(error.value.message_dict["polygon"])
    assert not AreaOfInterest.objects.exists()


def test_polygon_out_of_range_is_refused():
    with pytest.raises(ValidationError):
        AreaFactory(polygon=square(170, 10, 190, 20))


def test_zero_area_polygon_is_refused():
    flat = Polygon(((0, 0), (1, 1), (2, 2), (0, 0)), srid=4326)
    with pytest.raises(ValidationError):
        AreaFactory(polygon=flat)


def test_polygon_with_too_many_vertices_is_refused():
    count = MAX_POLYGON_VERTICES + 1
    ring = [(math.cos(2 * math.pi * i / count), math.sin(2 * math.pi * i / count)) for i in range(count)]
    polygon = Polygon(LinearRing(ring + [ring[0]]), srid=4326)
    with pytest.raises(ValidationError) as error:
        AreaFactory(polygon=polygon)
    assert "at most" in str(error.value.message_dict["polygon"])


def test_empty_name_is_refused():
    with pytest.raises(ValidationError) as error:
        IncidentFactory(name="")
    assert "name" in error.value.message_dict
