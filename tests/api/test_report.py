"""report/: anonymous, CSRF-free, rate-limited per client address, always an open public incident."""

import pytest
from rest_framework.test import APIClient

from tests.api.conftest import API, assert_error, feature, point
from tracker.models import Incident

pytestmark = pytest.mark.django_db

URL = API + "report/"


@pytest.fixture
def rate(settings):
    """Set the report rate limit for this test."""

    def set_rate(value: str) -> None:
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"report": value}}

    return set_rate


def test_anonymous_report_creates_an_open_public_incident(anon, rate):
    rate("100/hour")
    body = feature(point(-58.4, -34.6), name="Pothole", severity="low", status="closed", reported_publicly=False)
    response = anon.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    incident = Incident.objects.get()
    assert (incident.status, incident.reported_publicly, incident.reporter) == ("open", True, None)
    assert response.json()["properties"]["reported_publicly"] is True
    assert response.json()["properties"]["reporter"] is None


def test_a_logged_in_browser_session_without_csrf_token_may_still_report(user, rate):
    rate("100/hour")
    csrf_client = APIClient(enforce_csrf_checks=True)
    csrf_client.force_login(user)
    response = csrf_client.post(URL, feature(point(1, 1), name="From a session"), format="json")
    assert response.status_code == 201
    assert Incident.objects.get().reporter is None  # the report endpoint never attributes


def test_unknown_properties_are_refused(anon, rate):
    rate("100/hour")
    assert_error(anon.post(URL, feature(point(1, 1), name="x", reporter_email="a@b"), format="json"), 400,
                 "reporter_email")


def test_rate_limited_per_client_address_with_retry_after(rate):
    rate("3/hour")
    first, second = APIClient(REMOTE_ADDR="192.0.2.1"), APIClient(REMOTE_ADDR="192.0.2.2")
    for index in range(3):
        assert first.post(URL, feature(point(1, 1), name=f"r{index}"), format="json").status_code == 201
    # A forged X-Forwarded-For does not buy a fresh allowance.
    refused = first.post(URL, feature(point(1, 1), name="r3"), format="json", HTTP_X_FORWARDED_FOR="198.51.100.7")
    body = assert_error(refused, 429)
    assert body["code"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert second.post(URL, feature(point(1, 1), name="other address"), format="json").status_code == 201
    assert Incident.objects.count() == 4


def test_an_invalid_report_writes_nothing(anon, rate):
    rate("100/hour")
    assert_error(anon.post(URL, feature(point(1, 100), name="x"), format="json"), 400, "geometry")
    assert not Incident.objects.exists()
