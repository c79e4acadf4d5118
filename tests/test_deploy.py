"""Deployment: the Vagrant VM runs the provisioning CI runs, which is idempotent; the production settings hold
(refuse to start half-configured, pass `check --deploy`, send the security headers, hashed static files, JSON
logs); every pushed event is logged with its recipients.

The production checks run in subprocesses: settings are read once per process, and these are not the test's.
"""

import json
import logging
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from tests.conftest import in_thread
from tests.factories import IncidentFactory, UserFactory
from tracker.models import Event

ROOT = Path(__file__).resolve().parent.parent
HOST = "tracker.example.org"
PRODUCTION_ENV = {
    "TRACKER_ENV": "production",
    "SECRET_KEY": secrets.token_urlsafe(60),
    "ALLOWED_HOSTS": HOST,
    "DJANGO_SETTINGS_MODULE": "tracker_project.settings",
}


def django_env(**overrides: str | None) -> dict[str, str]:
    """Return this process's environment without the test's Django settings and TRACKER_/DJANGO_ variables,
    with `overrides` applied (None removes a variable)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TRACKER_", "DJANGO_", "SECRET_KEY", "ALLOWED_HOSTS", "LOG_FORMAT"))}
    env.update(DJANGO_SETTINGS_MODULE="tracker_project.settings")
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def run_django(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run `code` in a fresh Python with Django set up from `env`; it prints its result as JSON."""
    prelude = "import json, django\ndjango.setup()\nfrom django.conf import settings\n"
    return run([sys.executable, "-c", prelude + code], env)


# --- Vagrant and provisioning ---------------------------------------------------------------------------------


def test_vagrantfile_provisions_with_the_ci_script_and_serves_the_forwarded_port():
    vagrantfile = (ROOT / "Vagrantfile").read_text()
    assert re.search(r'config\.vm\.box = .*"debian/\w+64"', vagrantfile)
    assert re.search(r'forwarded_port",\s*guest: 8000,\s*host: 8000', vagrantfile)
    assert re.search(r'synced_folder "\.", "/vagrant"', vagrantfile)
    # The same provisioning script as `make run`/`make test`, and the same server script as `make run`.
    makefile = (ROOT / "Makefile").read_text()
    assert "bash deploy/provision.sh" in makefile and "bash deploy/serve.sh" in makefile
    assert re.search(r'provision "setup".*inline: "bash /vagrant/deploy/provision\.sh"', vagrantfile, re.S)
    serve = re.search(r'provision "serve", .*run: "always".*?SHELL\n(.*?)\n\s*SHELL', vagrantfile, re.S)
    assert serve and "/vagrant/deploy/serve.sh uvicorn 0.0.0.0 8000" in re.sub(r"\\\n\s*", "", serve.group(1))


DEV_DATABASE_COUNTS = """
from django.contrib.auth import get_user_model
from tracker.models import AreaOfInterest, Event, Incident
print(json.dumps([m.objects.count() for m in (get_user_model(), Incident, AreaOfInterest, Event)]))
"""
# What provision.sh prints when it does something rather than finding it done.
WORK_DONE = re.compile(r"installing|creating|building|starting|Loaded demo", re.I)


@pytest.mark.slow
def test_provisioning_is_idempotent():
    """Runs deploy/provision.sh as `make run` does, twice: both succeed and the second changes nothing.

    This uses the development database (the script's job is to set it up); it only loads the demo data into
    an empty one.
    """
    env = django_env()
    first = run(["bash", "deploy/provision.sh"], env, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    counts = json.loads(run_django(DEV_DATABASE_COUNTS, env).stdout)
    # run_if_changed leaves a stamp untouched when its inputs did not change; collectstatic rewrites the
    # manifest every time, so that one is compared by content.
    stamps = [ROOT / ".venv/.requirements.sha256", ROOT / "frontend/dist/.build.sha256"]
    manifest = ROOT / "staticfiles/staticfiles.json"
    before = [path.stat().st_mtime_ns for path in stamps], manifest.read_bytes()

    second = run(["bash", "deploy/provision.sh"], env, timeout=120)
    assert second.returncode == 0, second.stdout + second.stderr
    assert not WORK_DONE.search(second.stdout + second.stderr), second.stdout
    assert json.loads(run_django(DEV_DATABASE_COUNTS, env).stdout) == counts
    assert ([path.stat().st_mtime_ns for path in stamps], manifest.read_bytes()) == before


# --- Production settings ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without(missing):
    result = run([sys.executable, "manage.py", "check"], django_env(**{**PRODUCTION_ENV, missing: None}))
    assert result.returncode != 0
    assert f"TRACKER_ENV=production needs {missing}" in result.stderr


def test_check_deploy_is_clean_with_the_production_settings():
    result = run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                 django_env(**PRODUCTION_ENV))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


SETTINGS_DUMP = """
print(json.dumps({name: getattr(settings, name, None) for name in (
    "DEBUG", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS",
    "LOG_FORMAT")}))
"""


@pytest.mark.parametrize("env, expected", [
    ({}, {"DEBUG": False, "SESSION_COOKIE_SECURE": False, "LOG_FORMAT": "plain"}),
    ({"DJANGO_DEBUG": "1"}, {"DEBUG": True}),
    (PRODUCTION_ENV, {"DEBUG": False, "SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True,
                      "SECURE_SSL_REDIRECT": True, "SECURE_HSTS_SECONDS": 31536000, "LOG_FORMAT": "json"}),
], ids=["development", "debug asked for", "production"])
def test_debug_is_off_unless_asked_for(env, expected):
    result = run_django(SETTINGS_DUMP, django_env(**env))
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert {name: values[name] for name in expected} == expected


PRODUCTION_REQUESTS = """
from django.templatetags.static import static
from django.test import Client

client = Client(HTTP_HOST=HOST)
https = {"HTTP_X_FORWARDED_PROTO": "https"}
plain = client.get("/accounts/login/")
page = client.get("/accounts/login/", **https)
health = client.get("/healthz")
hashed = static("admin/css/base.css")
asset = client.get(hashed, **https)
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location")],
    "page": [page.status_code, dict(page.headers), {k: dict(v) for k, v in page.cookies.items()}],
    "health": health.status_code,
    "hashed": hashed,
    "asset": [asset.status_code, asset.get("Cache-Control")],
}))
"""


@pytest.fixture(scope="module")
def production_answers(tmp_path_factory):
    """Requests through the whole middleware stack under the production settings, with static files collected
    (admin and map assets; the API docs' bundles only slow this down) by the production storage."""
    static_root = tmp_path_factory.mktemp("static")
    env = django_env(**PRODUCTION_ENV, STATIC_ROOT=str(static_root), LOG_FORMAT=None)
    collected = run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0",
                     "-i", "drf_spectacular_sidecar", "-i", "rest_framework", "-i", "gis"], env)
    assert collected.returncode == 0, collected.stderr
    result = run_django(f"HOST = {HOST!r}\n" + PRODUCTION_REQUESTS, env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def test_production_redirects_plain_http_except_the_health_probe(production_answers):
    answers, _ = production_answers
    assert answers["plain"] == [301, f"https://{HOST}/accounts/login/"]
    assert answers["health"] in (200, 503)


def test_production_pages_carry_the_security_headers_and_secure_cookies(production_answers):
    answers, _ = production_answers
    status, headers, cookies = answers["page"]
    assert status == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"
    policy = dict(directive.strip().split(" ", 1) for directive in headers["Content-Security-Policy"].split(";"))
    assert policy["script-src"] == "'self'"  # no nonce: this page has no inline script
    assert policy["default-src"] == policy["style-src"] == policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == policy["object-src"] == "'none'"
    assert "https://tile.openstreetmap.org" in policy["img-src"].split()
    assert "unsafe" not in headers["Content-Security-Policy"]
    assert cookies["csrftoken"]["secure"] is True


def test_production_static_files_have_hashed_names_and_are_cached_forever(production_answers):
    answers, _ = production_answers
    assert re.fullmatch(r"/static/admin/css/base\.[0-9a-f]{12}\.css", answers["hashed"])
    status, cache_control = answers["asset"]
    assert status == 200
    assert "immutable" in cache_control and "max-age=315360000" in cache_control


def test_production_logs_one_json_line_per_request(production_answers):
    _, stderr = production_answers
    requests = [record for record in map(json.loads, filter(None, stderr.splitlines()))
                if record["logger"] == "tracker.request"]
    assert [(r["method"], r["path"], r["status"]) for r in requests] == [
        ("GET", "/accounts/login/", 301), ("GET", "/accounts/login/", 200), ("GET", "/healthz", requests[2]["status"]),
        ("GET", requests[3]["path"], 200)]
    for record in requests:
        assert {"time", "level", "duration_ms", "user_id", "client"} <= set(record)
        assert record["duration_ms"] >= 0 and record["user_id"] is None


# --- Logs in the test process -------------------------------------------------------------------------------------


def test_request_line_names_the_authenticated_user(db, caplog):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    with caplog.at_level(logging.INFO, logger="tracker.request"):
        assert client.get("/admin/tracker/incident/").status_code == 200
    (record,) = [r for r in caplog.records if r.name == "tracker.request"]
    assert (record.method, record.path, record.status, record.user_id) == (
        "GET", "/admin/tracker/incident/", 200, admin.pk)


@pytest.mark.django_db(transaction=True)
async def test_each_pushed_event_is_logged_with_its_id_and_recipients(sockets, caplog):
    user = await in_thread(UserFactory)()
    token = await in_thread(Token.objects.create)(user=user)
    socket, _, _ = await sockets(token=token.key, origin=None)
    assert (await socket.receive())["type"] == "hello"
    with caplog.at_level(logging.INFO, logger="tracker.push"):
        await in_thread(IncidentFactory)()
        pushed = await socket.receive_event()
    (record,) = [r for r in caplog.records if r.name == "tracker.push"]
    assert record.event_id == pushed["id"] == await in_thread(lambda: Event.objects.get().pk)()
    # This test process is the one server process subscribed to its (per-run) group.
    assert record.recipients == 1
