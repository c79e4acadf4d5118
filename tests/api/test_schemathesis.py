"""Property-based run of the whole API against its own OpenAPI schema (schemathesis), in process.

The schema is loaded from /api/schema/ through the WSGI application; for every operation, schemathesis
generates requests from it, both fitting the schema (positive) and deliberately not (negative), and sends
them through the same application against the test database, as a staff user with a token. Every answer
must be a non-5xx response whose status the schema documents for that operation, with the documented
content type and body shape.

The operations are driven with plain Hypothesis (`operation.as_strategy`) rather than the schemathesis
pytest plugin, whose lazy-fixture mode does not run under pytest 9.
"""

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import feature, point, rectangle
from tests.factories import AreaFactory, IncidentFactory, UserFactory
from tracker.models import Alert

pytestmark = pytest.mark.django_db

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Per operation and mode: 19 operations x 2 modes x 10 = 380 generated requests at most (Hypothesis stops
# early on operations with few distinct inputs).
EXAMPLES = 10


@pytest.fixture
def keep_test_connection():
    """Keep the WSGI handler from closing the test's database connection (and with it the test's
    transaction) after each request, as Django's own test client does."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(keep_test_connection, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"report": "100000/hour"}}
    return schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


def valid_body(operation) -> dict | None:
    """Return a body the operation accepts (random polygons are never closed rings), or None."""
    if operation.method.upper() not in ("POST", "PUT") or "acknowledge" in operation.path:
        return None
    if "/areas/" in operation.path:
        return feature(rectangle(20, 20, 21, 21), name="Valid area", threshold="high")
    return feature(point(20.5, 20.5), name="Valid incident", severity="urgent")


def test_every_operation_conforms_to_the_schema(api_schema):
    area = AreaFactory()
    incident = IncidentFactory(location=area.polygon.centroid)  # inside the area: it alerts
    ids = {"areas": area.pk, "incidents": incident.pk, "alerts": Alert.objects.get().pk}
    headers = {"Authorization": f"Token {Token.objects.create(user=UserFactory(is_staff=True)).key}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 19
    sent = 0
    for operation in sorted(operations, key=lambda op: op.method.upper() == "DELETE"):  # deletes last
        resource = operation.path.split("/")[3]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            # Valid requests address existing objects; invalid ones anything at all.
            path_parameters = {"id": ids[resource]} if "{id}" in operation.path and mode.is_positive else None

            @hypothesis.settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(hypothesis.HealthCheck),
                phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate, hypothesis.Phase.shrink],
            )
            @hypothesis.given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
            def run(case):
                nonlocal sent
                sent += 1
                case.call_and_validate(headers=headers, checks=CHECKS)

            body = valid_body(operation)
            if body is not None and mode.is_positive:
                example = operation.Case(body=body, media_type="application/json", path_parameters=path_parameters)
                run = hypothesis.example(case=example)(run)
            run()
    print(f"schemathesis: {sent} requests over {len(operations)} operations")
