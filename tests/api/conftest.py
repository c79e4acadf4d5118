"""Helpers for the REST API tests: authenticated clients and GeoJSON builders."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import UserFactory

API = "/api/v1/"


def client_for(user=None) -> APIClient:
    """Return an API client sending `user`'s token, or an anonymous one."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def api(user) -> APIClient:
    """A client logged in (by token) as a plain user."""
    return client_for(user)


@pytest.fixture
def staff_api(staff) -> APIClient:
    return client_for(staff)


@pytest.fixture
def other_api(db) -> APIClient:
    """A client logged in as another plain user."""
    return client_for(UserFactory())


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


def point(lon: float, lat: float) -> dict:
    return {"type": "Point", "coordinates": [lon, lat]}


def rectangle(min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> dict:
    ring = [[min_lon, min_lat], [max_lon, min_lat], [max_lon, max_lat], [min_lon, max_lat], [min_lon, min_lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(geometry: dict | None = None, **properties) -> dict:
    """Return a GeoJSON Feature body; the geometry member is left out when `geometry` is None."""
    body = {"type": "Feature", "properties": properties}
    if geometry is not None:
        body["geometry"] = geometry
    return body


def assert_error(response, status: int, field: str | None = None) -> dict:
    """Assert a JSON error response with `status` whose `errors` name `field` (if given); return the body."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["code"], str) and body["code"]
    if field is not None:
        assert field in body["errors"], body
    return body


# This suite's ports for its server (the process tests use 18150-18199, the browser tests 18300-18349).
API_SERVER_PORTS = range(18400, 18450)


@pytest.fixture(scope="module")
def api_server(django_db_setup):
    """One real ASGI server process (deploy/serve.sh, uvicorn) on the test database for the module, with the
    public report throttle raised so generated traffic is not refused with 429s. Tests that use it take
    `transactional_db`, so what they write is committed and visible to the server."""
    from django.conf import settings

    from tests.support.asgi_server import AsgiServer

    server = AsgiServer(
        redis_url=settings.REDIS_URL, ports=API_SERVER_PORTS, TRACKER_REPORT_RATE="1000000/hour"
    ).launch()
    yield server.wait_ready()
    server.stop()
