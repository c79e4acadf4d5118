"""The OpenAPI schema (drf-spectacular) and Swagger UI: valid, warning-free, public, truthful about GeoJSON,
and served without any CDN."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200  # public: no login
    return response.json()


def test_schema_generates_without_warnings_and_validates(tmp_path):
    # --fail-on-warn turns every drf-spectacular warning (unresolvable type, enum collision...) into an error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3.0")


def test_feature_shapes_are_described_as_they_are(schema):
    components = schema["components"]["schemas"]
    incident = components["Incident"]
    assert set(incident["required"]) == {"type", "id", "geometry", "properties"}
    assert incident["properties"]["geometry"]["properties"]["type"]["enum"] == ["Point"]
    assert components["Area"]["properties"]["geometry"]["properties"]["type"]["enum"] == ["Polygon"]
    properties = incident["properties"]["properties"]
    assert set(properties["required"]) == set(properties["properties"]) >= {"name", "severity", "reporter", "url"}
    assert properties["properties"]["reporter"]["nullable"] is True
    request = components["IncidentRequest"]
    assert set(request["required"]) == {"type", "geometry", "properties"}
    assert "id" not in request["properties"]
    assert request["properties"]["properties"]["additionalProperties"] is False
    assert "crs" in request["properties"]["geometry"]["description"]
    assert components["PatchedIncidentRequest"]["required"] == ["type"]
    page = components["PaginatedIncidentList"]
    assert page["properties"]["features"] == {"type": "array", "items": {"$ref": "#/components/schemas/Incident"}}
    assert components["SeverityEnum"]["enum"] == ["info", "low", "medium", "high", "urgent"]


def test_every_operation_documents_its_json_errors(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            errors = {code for code in operation["responses"] if code >= "400"}
            assert errors, (method, path)
            for code in errors:
                assert operation["responses"][code]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"
                }
    assert "429" in schema["paths"]["/api/v1/report/"]["post"]["responses"]
    assert "security" not in schema["paths"]["/api/v1/report/"]["post"]  # no credentials needed
    assert "410" in schema["paths"]["/api/v1/events/"]["get"]["responses"]


def test_swagger_ui_is_served_from_the_installed_package(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and not [url for url in sources if "//" in url]  # nothing from another host
    assert "<script>" not in html  # the Content-Security-Policy forbids inline scripts
    for url in sources:
        if url.startswith("/static/"):
            assert finders.find(url.removeprefix("/static/")), url
    init = [url for url in sources if "script" in url and not url.startswith("/static/")]
    assert init and client.get(init[0]).status_code == 200
