"""A typed client generated from the served OpenAPI document (openapi-python-client, pinned in
requirements.txt) works against a real server: it lists incidents, filters them by bounding box and by
distance, and reports one. The client is generated at test time from /api/schema/, so a schema that a
generator cannot read, or that tells it to send what the server refuses, fails here."""

import importlib
import json
import subprocess
import sys
import typing
import urllib.request

import pytest
from django.contrib.gis.geos import Point
from rest_framework.authtoken.models import Token

from tests.factories import IncidentFactory, UserFactory
from tests.support.processes import ROOT
from tracker import selectors
from tracker.models import Incident, IncidentStatus

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PACKAGE = "tracker_client"
# The generator's configuration: a fixed package name, and no post-generation hooks (it would run ruff).
CONFIG = f"package_name_override: {PACKAGE}\npost_hooks: []\n"
BBOX = (-58.45, -34.65, -58.35, -34.55)


@pytest.fixture(scope="module")
def client_package(api_server, tmp_path_factory):
    """Generate the client from the served schema into a temporary directory and return the imported package."""
    work = tmp_path_factory.mktemp("generated-client")
    with urllib.request.urlopen(f"http://{api_server.base}/api/schema/?format=json", timeout=10) as response:
        (work / "schema.json").write_bytes(response.read())
    (work / "config.yaml").write_text(CONFIG)
    generated = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "openapi-python-client"),
            "generate",
            "--path", str(work / "schema.json"),
            "--config", str(work / "config.yaml"),
            "--meta", "none",
            "--output-path", str(work / PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = generated.stdout + generated.stderr
    # The generator exits 0 even when it leaves parts of the schema out; it says so with "Warning".
    assert generated.returncode == 0 and "Warning" not in output and "Error" not in output, output
    sys.path.insert(0, str(work))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(work))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


@pytest.fixture
def client(client_package, api_server):
    token = Token.objects.create(user=UserFactory()).key
    with client_package.AuthenticatedClient(
        base_url=f"http://{api_server.base}", token=token, prefix="Token", raise_on_unexpected_status=True
    ) as client:
        yield client


def module(package, name: str):
    return importlib.import_module(f"{package.__name__}.{name}")


def typed_call(function, **arguments):
    """Call a generated operation after checking every argument against the type the generator gave it, as a
    type checker would: the filters are passed the way the client's signature says, not the way the server
    happens to want them."""
    hints = typing.get_type_hints(function)
    for name, value in arguments.items():
        allowed = typing.get_args(hints[name]) or (hints[name],)
        assert any(isinstance(value, typing.get_origin(kind) or kind) for kind in allowed), (name, hints[name])
    return function(**arguments)


def listed_ids(package, client, **filters) -> set[int]:
    """Return the ids of every incident the list operation gives for `filters`, over all pages."""
    incidents_list = module(package, "api.incidents.incidents_list")
    ids, page = set(), 1
    while True:
        result = typed_call(incidents_list.sync, client=client, page=page, page_size=2, **filters)
        assert result is not None and not hasattr(result, "code"), result  # a page, not an Error
        ids |= {feature.id for feature in result.features}
        if not result.next_:
            return ids
        page += 1


def test_generated_client_lists_and_filters_by_bbox_and_distance(client_package, client):
    incidents = [IncidentFactory(location=Point(lon, lat, srid=4326)) for lon, lat in [
        (-58.40, -34.60),  # inside the box
        (-58.45, -34.65),  # on its corner: edges are included
        (-58.3816, -34.6037),  # inside, near the centre of the distance filter
        (-58.30, -34.60),  # east of the box
        (-58.40, -34.50),  # north of it
        (2.35, 48.85),  # another continent
    ]]
    everything = listed_ids(client_package, client)
    assert everything == {incident.pk for incident in incidents}

    in_box = listed_ids(client_package, client, in_bbox=",".join(map(str, BBOX)))
    assert in_box == set(selectors.incidents_in_bbox(*BBOX).values_list("pk", flat=True))
    assert in_box == {incident.pk for incident in incidents[:3]}

    # 2 km around the centre: the third incident (on it) and the first (about 1.7 km away).
    near = listed_ids(client_package, client, point="-58.3816,-34.6037", dist=2000.0)
    expected = set(
        selectors.incidents_within(Incident.objects.all(), selectors.point(-58.3816, -34.6037), 2000).values_list(
            "pk", flat=True
        )
    )
    assert near == expected == {incidents[0].pk, incidents[2].pk}


def test_generated_client_reports_an_incident(client_package, client):
    models = module(client_package, "models")
    body = models.NewIncidentRequest(
        type_=models.FeatureTypeEnum.FEATURE,
        geometry=models.NewIncidentRequestGeometry(
            type_=models.NewIncidentRequestGeometryType.POINT, coordinates=[-58.3816, -34.6037]
        ),
        properties=models.NewIncidentRequestProperties(
            name="Gas leak", description="Smell of gas", severity=models.NewIncidentRequestPropertiesSeverity.HIGH
        ),
    )
    create = module(client_package, "api.incidents.incidents_create").sync_detailed
    created = typed_call(create, client=client, body=body)
    assert created.status_code == 201, created.content
    incident = created.parsed
    assert isinstance(incident, models.Incident)
    assert incident.properties.name == "Gas leak"
    assert incident.properties.severity.value == "high"
    assert incident.properties.status.value == IncidentStatus.OPEN
    assert incident.geometry.coordinates == [-58.3816, -34.6037]
    stored = Incident.objects.get(pk=incident.id)
    assert (stored.name, stored.location.x, stored.location.y) == ("Gas leak", -58.3816, -34.6037)
    # And the new incident is found through the client's own filter.
    assert incident.id in listed_ids(client_package, client, point="-58.3816,-34.6037", dist=1.0)
    json.dumps(incident.to_dict())  # the parsed model serialises back to plain JSON
