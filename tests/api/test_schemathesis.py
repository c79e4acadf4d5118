"""The API against its own published OpenAPI document, as an outside tester would check it: the schemathesis
CLI (st run) with every check it has, against a real server process (uvicorn, deploy/serve.sh) on the test
database, logged in as staff with a token.

Every phase runs (examples, coverage, fuzzing, stateful) and every check, among them
positive_data_acceptance (a request the schema calls valid is accepted) and negative_data_rejection (one it
calls invalid is refused), besides no 5xx and the documented statuses, content types, headers and bodies.
So the run fails whenever the document and the server disagree in either direction.

Two things are configured, each because the schema cannot say it in JSON Schema terms:
- tests/api/schemathesis_hooks.py holds generated valid requests to the rules the schema states in words
  (bbox order, point with dist, polygon validity);
- tests/api/schemathesis.toml: the event log's 410 ("resync": the position is not in the log) answers a
  well-formed request, so it counts as an acceptance there, as 404 does everywhere.
The run is bounded by the number of examples per operation (and a timeout), not by wall time.
"""

import os
import subprocess
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from tests.factories import AreaFactory, IncidentFactory, UserFactory
from tests.support.processes import ROOT
from tracker.models import Alert

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HERE = Path(__file__).resolve().parent
# Test cases per operation for the fuzzing and stateful phases (the coverage phase sends its own fixed set of
# boundary cases, most of the run's ~2,000 requests).
MAX_EXAMPLES = 5
SEED = 20261201  # reproducible: a failure here is replayed by running the test again
# A bound, not a target: about a minute alone on 2 cores, several under a fully loaded machine.
RUN_TIMEOUT_S = 480


def run_schemathesis(server, token: str, report: Path) -> int:
    """Run `st run` with all checks against `server`'s served schema, its output into `report`; return its
    exit code (0: every check passed)."""
    command = [
        str(ROOT / ".venv" / "bin" / "st"),
        "--no-color",
        "--config-file", str(HERE / "schemathesis.toml"),
        "run", f"http://{server.base}/api/schema/?format=json",
        "--checks", "all",
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", str(SEED),
        # One request at a time: concurrent area and alert writes can deadlock on the event log (an open
        # defect of lock order, not a question of the schema).
        "--workers", "1",
        "--header", f"Authorization: Token {token}",
        "--report-dir", str(report.parent / "schemathesis-report"),
    ]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONPATH": str(ROOT),
    }
    with report.open("w") as output:
        finished = subprocess.run(
            command, cwd=report.parent, env=env, stdout=output, stderr=subprocess.STDOUT, timeout=RUN_TIMEOUT_S
        )
    return finished.returncode


@pytest.mark.timeout(RUN_TIMEOUT_S + 60)
def test_the_server_and_its_schema_agree_under_every_schemathesis_check(api_server, tmp_path):
    area = AreaFactory()
    IncidentFactory(location=area.polygon.centroid)  # inside the area: it alerts
    assert Alert.objects.count() == 1
    token = Token.objects.create(user=UserFactory(is_staff=True)).key

    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    report = ROOT / "test-artifacts" / "schemathesis.txt"  # the whole report, kept for a failure

    returncode = run_schemathesis(api_server, token, report)

    output = report.read_text()
    summary = output[output.find("=== SUMMARY") :] if "=== SUMMARY" in output else output[-3000:]
    assert returncode == 0, output[-12000:]
    assert "19 selected / 19 total" in output and "Tested: 19" in output, summary
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in summary, summary
    print(summary)
