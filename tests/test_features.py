"""tracker.features builds the features by hand; the serializers declare them for the OpenAPI document. These
tests hold the two to each other: the hand-built feature equals drf-gis's generic rendering of the serializer's
own fields, for rows with and without a reporter/owner, odd text, and several polygons."""

import json

import pytest
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from tests.factories import AreaFactory, IncidentFactory, UserFactory, square
from tracker import features
from tracker.api.serializers import AreaSerializer, IncidentSerializer
from tracker.models import IncidentStatus, Severity

pytestmark = pytest.mark.django_db


def generic(serializer_class, instance) -> dict:
    """Return what drf-gis makes of the serializer's declared fields, as JSON would carry it."""
    return json.loads(json.dumps(GeoFeatureModelSerializer.to_representation(serializer_class(), instance)))


@pytest.mark.parametrize("with_reporter", [True, False])
@pytest.mark.parametrize("severity", list(Severity))
def test_incident_feature_equals_the_serializer_fields(with_reporter, severity):
    reporter = UserFactory(username="ana ñ <b>") if with_reporter else None
    incident = IncidentFactory(
        name='Gas "leak" \u2603', description="line\nbreak", severity=severity, reporter=reporter,
        status=IncidentStatus.CLOSED if severity % 2 else IncidentStatus.OPEN,
    )
    incident.refresh_from_db()
    assert features.incident_feature(incident) == generic(IncidentSerializer, incident)
    assert IncidentSerializer(incident).data == features.incident_feature(incident)


@pytest.mark.parametrize("with_owner", [True, False])
def test_area_feature_equals_the_serializer_fields(with_owner):
    owner = UserFactory() if with_owner else None
    for polygon in (square(10, 10, 11, 11), square(-180, -90, 180, 90), square(-58.45123456789, -34.6, -58.3, -34.5)):
        area = AreaFactory(owner=owner, polygon=polygon, threshold=Severity.URGENT)
        area.refresh_from_db()
        assert features.area_feature(area) == generic(AreaSerializer, area)
        assert AreaSerializer(area).data == features.area_feature(area)


def test_features_module_is_a_leaf():
    """The domain never imports the API: features.py imports only the models (and Django)."""
    source = open(features.__file__).read()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert all("tracker.api" not in line and "rest_framework" not in line for line in imports), imports
