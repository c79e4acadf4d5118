"""The OpenAPI schema (drf-spectacular) and Swagger UI: valid, warning-free, public, truthful about GeoJSON,
and served without any CDN."""

import json
import re
from urllib.parse import urlencode

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
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3.1")


def test_feature_shapes_are_described_as_they_are(schema):
    components = schema["components"]["schemas"]
    incident = components["Incident"]
    assert set(incident["required"]) == {"type", "id", "geometry", "properties"}
    assert incident["properties"]["geometry"]["properties"]["type"]["enum"] == ["Point"]
    assert components["Area"]["properties"]["geometry"]["properties"]["type"]["enum"] == ["Polygon"]
    properties = incident["properties"]["properties"]
    assert set(properties["required"]) == set(properties["properties"]) >= {"name", "severity", "reporter", "url"}
    assert properties["properties"]["reporter"]["type"] == ["string", "null"]
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


def examples_in(schema: dict, components: dict, path: tuple = ()) -> list[tuple[tuple, object]]:
    """Return (location in the instance, example) for every example in `schema`, following $refs; a location
    is the tuple of property names from the instance's root to the example's value.

    An array without an example of its own but whose items have one gets the value a tool builds from it, as
    schemathesis does: the item example repeated minItems times (so a position example inside a polygon's
    ring makes a ring of identical points, which the server must then accept too)."""
    if "$ref" in schema:
        return examples_in(components[schema["$ref"].split("/")[-1]], components, path)
    found = [(path, schema["example"])] if "example" in schema else []
    for name, member in schema.get("properties", {}).items():
        found += examples_in(member, components, (*path, name))
    if isinstance(schema.get("items"), dict):
        for location, example in examples_in(schema["items"], components):
            if location == ():
                found.append((path, [example] * max(schema.get("minItems", 1), 1)))
    for branch in schema.get("oneOf", []) + schema.get("anyOf", []) + schema.get("allOf", []):
        found += examples_in(branch, components, path)
    return found


def with_value(body: dict, location: tuple, value) -> dict:
    """Return a copy of `body` with `value` at `location`."""
    body = json.loads(json.dumps(body))
    target = body
    for name in location[:-1]:
        target = target.setdefault(name, {})
    target[location[-1]] = value
    return body


def test_every_request_example_in_the_schema_is_accepted(schema, staff_api):
    """Walk the served document for every example a client may copy into a request (query parameters and
    request bodies) and send each in an otherwise valid request: every one must be accepted."""
    from tests.api.conftest import feature, point, rectangle
    from tests.factories import AreaFactory, IncidentFactory

    components = schema["components"]["schemas"]
    valid_bodies = {
        "areas": feature(rectangle(20, 20, 21, 21), name="Example area", threshold="high"),
        "incidents": feature(point(20.5, 20.5), name="Example incident", severity="low"),
        "report": feature(point(20.5, 20.5), name="Example report"),
    }
    sent = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            resource = path.split("/")[3]
            ids = {"areas": AreaFactory().pk, "incidents": IncidentFactory().pk}
            url = path.replace("{id}", str(ids.get(resource, 0)))
            # All the query examples of an operation go in one request: together they must make sense.
            query = {p["name"]: p["schema"]["example"] for p in operation.get("parameters", []) if "example" in p["schema"]}
            required = {p["name"] for p in operation.get("parameters", []) if p.get("required") and p["in"] == "query"}
            query |= {"zoom": 10} if "zoom" in required else {}
            requests = [(query, None)] if query else []
            for media in operation.get("requestBody", {}).get("content", {}).values():
                for location, example in examples_in(media["schema"], components):
                    requests.append(({}, with_value(valid_bodies[resource], location, example)))
            for params, body in requests:
                if body is None:
                    response = staff_api.generic(method.upper(), url, data=None, QUERY_STRING=urlencode(params))
                else:
                    response = getattr(staff_api, method)(f"{url}?{urlencode(params)}", body, format="json")
                assert response.status_code < 300, (method, url, params, body, response.content[:500])
                sent.append((method, path))
    # The examples the schema carries today: bbox, point and dist on the incident, area and cluster lists;
    # a coordinates example for each writable geometry.
    assert {("get", "/api/v1/incidents/"), ("get", "/api/v1/areas/"), ("post", "/api/v1/areas/")} <= set(sent)
    assert {("post", "/api/v1/incidents/"), ("post", "/api/v1/report/"), ("put", "/api/v1/areas/{id}/")} <= set(sent)
