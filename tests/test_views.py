"""The HTML pages: who may open them, what the browser code is handed, the incident list's filters and pages,
escaped user text, and the production static storage's rewriting of the frontend's module imports."""

import json
import re
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.core.management import call_command
from django.templatetags.static import static
from django.test import Client, override_settings

from tests.factories import AreaFactory, IncidentFactory, UserFactory, square
from tracker import services
from tracker.api.serializers import IncidentSerializer
from tracker.models import IncidentStatus, Severity
from tracker.views import INCIDENTS_PER_PAGE

HOSTILE = "<img src=x onerror=alert(1)>"
LOGIN = "/accounts/login/"


class Scripts(HTMLParser):
    """Collects the attributes and text of every <script> element of a page."""

    def __init__(self):
        super().__init__()
        self.scripts: list[dict] = []
        self._current: dict | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self._current = {**dict(attrs), "text": ""}
            self.scripts.append(self._current)

    def handle_data(self, data):
        if self._current is not None:
            self._current["text"] += data

    def handle_endtag(self, tag):
        if tag == "script":
            self._current = None


def scripts_of(response) -> list[dict]:
    parser = Scripts()
    parser.feed(response.content.decode())
    return parser.scripts


def page_config(response) -> dict:
    (config,) = [s for s in scripts_of(response) if s.get("id") == "tracker-config"]
    assert config["type"] == "application/json"
    return json.loads(config["text"])


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def browser(user) -> Client:
    return client_for(user)


def assert_no_inline_script(response, entry: str) -> None:
    """The page runs exactly one script, the module entry, from a static file: nothing inline (the CSP's
    script-src 'self' would block it). The config block is JSON data, which the browser never executes."""
    scripts = scripts_of(response)
    executable = [s for s in scripts if s.get("type") != "application/json"]
    assert [(s.get("type"), s.get("src"), s["text"].strip()) for s in executable] == [
        ("module", static(f"tracker/{entry}"), "")
    ]
    policy = response.headers["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]*)", policy).group(1)
    assert script_src == "'self'", policy  # no nonce was needed: nothing inline


# --- Sign-in and the dashboard ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_dashboard_sends_anonymous_visitors_to_sign_in():
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next=/"


def test_sign_in_form_leads_to_the_dashboard_and_log_out_back(user):
    client = Client()
    page = client.get(f"{LOGIN}?next=/")
    assert page.status_code == 200
    assert b'name="next" value="/"' in page.content
    signed_in = client.post(LOGIN, {"username": user.username, "password": "pw", "next": "/"})
    assert (signed_in.status_code, signed_in["Location"]) == (302, "/")
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    # The header's logout is a POST form with the CSRF token (Django 5 refuses a GET logout).
    assert re.search(rb'<form method="post" action="/accounts/logout/"><input type="hidden" name="csrfmiddlewaretoken"',
                     dashboard.content)
    logged_out = client.post("/accounts/logout/")
    assert (logged_out.status_code, logged_out["Location"]) == (302, settings.LOGOUT_REDIRECT_URL)
    assert client.get("/").status_code == 302


def test_wrong_password_shows_the_form_again_with_an_error(user):
    response = Client().post(LOGIN, {"username": user.username, "password": "wrong"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


@pytest.mark.parametrize("is_staff", [False, True])
def test_dashboard_hands_the_browser_its_config_and_loads_only_the_module(db, is_staff):
    person = UserFactory(username="dispatcher", is_staff=is_staff)
    client = client_for(person)
    response = client.get("/")
    assert response.status_code == 200
    config = page_config(response)
    assert config == {
        "api": "/api/v1/",
        "ws": "/ws/notifications/",
        "tileUrl": settings.TILE_URL,
        "tileAttribution": settings.TILE_ATTRIBUTION,
        "csrfToken": config["csrfToken"],
        "center": list(settings.MAP_CENTER),
        "zoom": settings.MAP_ZOOM,
        "user": {"id": person.pk, "username": "dispatcher", "isStaff": is_staff},
    }
    assert client.cookies[settings.CSRF_COOKIE_NAME].value  # the token the config carries is backed by a cookie
    assert_no_inline_script(response, "dashboard.js")
    html = response.content.decode()
    for hook in ('id="map"', 'id="side-panel"', 'id="connection-badge"', 'class="app-header"', 'class="app-main"'):
        assert hook in html
    assert ('href="/admin/"' in html) is is_staff


def test_config_is_json_even_when_a_setting_holds_markup(browser):
    with override_settings(TILE_ATTRIBUTION='</script><script>alert(1)</script>'):
        response = browser.get("/")
    assert page_config(response)["tileAttribution"] == "</script><script>alert(1)</script>"
    assert b"</script><script>alert(1)" not in response.content


# --- The public report page ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_report_page_is_public_and_needs_no_socket_or_user():
    response = Client().get("/report/")
    assert response.status_code == 200
    config = page_config(response)
    assert set(config) == {"api", "tileUrl", "tileAttribution", "csrfToken", "center", "zoom"}
    assert_no_inline_script(response, "report.js")
    html = response.content.decode()
    assert '<body class="report-page">' in html and 'id="report-panel"' in html
    assert 'href="/accounts/login/"' in html  # staff can sign in from here; no logout for a visitor


# --- Incident list ---------------------------------------------------------------------------------------------


def rows(response) -> list[int]:
    """Return the incident ids of the list's table rows, in order."""
    return [int(i) for i in re.findall(rb'<tr data-incident-id="(\d+)"', response.content)]


def test_incident_list_needs_a_login(db):
    response = Client().get("/incidents/")
    assert (response.status_code, response["Location"]) == (302, f"{LOGIN}?next=/incidents/")


def test_incident_list_pages_newest_first_and_keeps_the_filter_in_its_links(browser):
    incidents = [IncidentFactory(status=IncidentStatus.OPEN) for _ in range(INCIDENTS_PER_PAGE + 3)]
    IncidentFactory(status=IncidentStatus.CLOSED)
    newest_first = [incident.pk for incident in reversed(incidents)]

    first = browser.get("/incidents/", {"status": "open"})
    assert first.status_code == 200
    assert rows(first) == newest_first[:INCIDENTS_PER_PAGE]
    assert f"1–{INCIDENTS_PER_PAGE} of {len(incidents)} incidents".encode() in first.content
    assert b'href="?status=open&amp;page=2" rel="next"' in first.content

    second = browser.get("/incidents/", {"status": "open", "page": 2})
    assert rows(second) == newest_first[INCIDENTS_PER_PAGE:]
    assert b"Page 2 of 2" in second.content and b'rel="next"' not in second.content
    # Past the end or not a number: the nearest page, not an error page.
    assert rows(browser.get("/incidents/", {"status": "open", "page": 99})) == rows(second)
    assert rows(browser.get("/incidents/", {"status": "open", "page": "x"})) == rows(first)


def test_incident_list_filters_by_status_severity_and_text(browser):
    urgent_open = IncidentFactory(name="Gas leak", severity=Severity.URGENT)
    urgent_closed = IncidentFactory(name="Old gas leak", severity=Severity.URGENT, status=IncidentStatus.CLOSED)
    low_open = IncidentFactory(name="Pothole", severity=Severity.LOW, description="Near the gas station")

    def listed(**params) -> set[int]:
        response = browser.get("/incidents/", params)
        assert response.status_code == 200
        return set(rows(response))

    assert listed() == {urgent_open.pk, urgent_closed.pk, low_open.pk}
    assert listed(severity="urgent") == {urgent_open.pk, urgent_closed.pk}
    assert listed(severity="urgent", status="closed") == {urgent_closed.pk}
    assert listed(q="GAS") == {urgent_open.pk, urgent_closed.pk, low_open.pk}  # name or description
    assert listed(q="pothole", status="open") == {low_open.pk}
    assert listed(severity="info") == set()


@pytest.mark.parametrize("params, field", [({"severity": "4"}, "severity"), ({"status": "gone"}, "status"),
                                           ({"q": "x" * 201}, "q")])
def test_incident_list_refuses_an_unknown_filter_value_naming_the_field(browser, params, field):
    response = browser.get("/incidents/", params)
    assert response.status_code == 400
    assert f'data-error-for="{field}"'.encode() in response.content
    assert rows(response) == []


def test_user_text_is_escaped_on_the_list_and_the_detail_page(browser):
    incident = IncidentFactory(name=HOSTILE, description=f"{HOSTILE}\nsecond line")
    listing = browser.get("/incidents/").content.decode()
    detail = browser.get(f"/incidents/{incident.pk}/").content.decode()
    for html in (listing, detail):
        assert "<img" not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html


# --- Incident detail -------------------------------------------------------------------------------------------


def test_the_feature_url_the_api_sends_opens_the_detail_page(browser, staff):
    AreaFactory(name="Harbour", polygon=square(10, 10, 11, 11), threshold=Severity.MEDIUM)
    AreaFactory(name="Elsewhere", polygon=square(20, 20, 21, 21))
    incident = IncidentFactory(name="Crane down", severity=Severity.HIGH, description="Pier 4")
    services.alert_acknowledge(alert=incident.alerts.get(), user=staff)

    url = IncidentSerializer(incident).data["properties"]["url"]
    response = browser.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<h2 class="incident-detail__name">Crane down</h2>' in html
    assert "Pier 4" in html and '<span class="severity-tag" data-severity="high">high</span>' in html
    assert "Harbour" in html and "Elsewhere" not in html
    assert f'<tr data-alert-id="{incident.alerts.get().pk}">' in html
    assert f"acknowledged by {staff.username}" in html
    assert "Edit in the admin" not in html  # a dispatcher without admin rights gets no dead link


def test_detail_page_of_a_missing_incident_is_a_404(browser):
    assert browser.get("/incidents/999999/").status_code == 404


def test_detail_page_needs_a_login(db):
    incident = IncidentFactory()
    assert Client().get(f"/incidents/{incident.pk}/").status_code == 302


def test_superuser_gets_the_admin_edit_link(db):
    admin = UserFactory(is_staff=True, is_superuser=True)
    incident = IncidentFactory()
    response = client_for(admin).get(f"/incidents/{incident.pk}/")
    assert f'href="/admin/tracker/incident/{incident.pk}/change/"'.encode() in response.content


# --- Production static files -----------------------------------------------------------------------------------


def test_collectstatic_points_the_entries_imports_at_the_hashed_chunks(tmp_path):
    """With DEBUG off, tracker.storage.StaticFilesStorage hashes the Vite build; the entries' `import ... from
    "./shared.js"` must name the hashed chunk too, or a cached entry could load a newer chunk."""
    dist = settings.BASE_DIR / "frontend" / "dist" / "tracker"
    assert (dist / "dashboard.js").exists(), "frontend/dist is missing: run `make setup` (or npm run build)"
    with override_settings(
        STATIC_ROOT=tmp_path,
        STATICFILES_FINDERS=["django.contrib.staticfiles.finders.FileSystemFinder"],
        STORAGES={**settings.STORAGES, "staticfiles": {"BACKEND": "tracker.storage.StaticFilesStorage"}},
    ):
        call_command("collectstatic", interactive=False, verbosity=0)
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    for entry in ("tracker/dashboard.js", "tracker/report.js"):
        code = (tmp_path / manifest[entry]).read_text()
        imported = re.findall(r'from\s*"\./([^"]+)"', code)
        assert imported and all(re.fullmatch(r"[\w-]+\.[0-9a-f]{12}\.js", name) for name in imported), imported
        assert {f"tracker/{name}" for name in imported} <= set(manifest.values())
        assert (tmp_path / manifest[entry]).with_suffix(".js.gz").exists()  # WhiteNoise's precompressed copy
    css = (tmp_path / manifest["tracker/app.css"]).read_text()
    assert manifest["tracker/layers.png"].removeprefix("tracker/") in css
