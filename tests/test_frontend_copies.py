"""The browser's copies of server rules (frontend/src/limits.js, the severity scale in severity.js, the socket's
close codes) equal the server's: the forms and the map refuse or clamp exactly what the API would, and the
socket reads the server's close codes as the server means them."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tracker.consumers import CLOSE_UNAUTHENTICATED
from tracker.models import MAX_LAT, MAX_LON, MAX_NAME_LENGTH, Severity

SRC = Path(__file__).resolve().parent.parent / "frontend" / "src"


def exports(module: str) -> dict:
    """Return the named exports of the ES module frontend/src/`module`, as Node.js evaluates them."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is needed to read the frontend's modules")
    script = f"import({json.dumps((SRC / module).as_uri())}).then(m => console.log(JSON.stringify(m)))"
    result = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=30, check=True)
    return json.loads(result.stdout)


def test_the_browsers_limits_are_the_servers():
    limits = exports("limits.js")
    assert limits == {"MAX_LON": MAX_LON, "MAX_LAT": MAX_LAT, "MAX_NAME_LENGTH": MAX_NAME_LENGTH}


def test_the_browsers_severity_scale_is_the_servers():
    assert exports("severity.js")["SEVERITIES"] == Severity.labels


def test_the_browser_stops_on_the_servers_unauthenticated_close_code():
    assert exports("socket.js")["CLOSE_UNAUTHORIZED"] == CLOSE_UNAUTHENTICATED
