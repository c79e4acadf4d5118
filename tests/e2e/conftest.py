"""Browser fixtures: a real ASGI server process on the test database, and Debian's Chromium driven by Playwright.

The server runs like production (deploy/serve.sh, uvicorn) with the test settings, the test database and the
test's channel-layer prefix, so what a test writes through the ORM or the API reaches the browser the way it
would in a control room. Static files come straight from frontend/dist (tests/settings.py: finders, no
manifest). Map tiles point at a path of the server that answers 404: no test traffic leaves the machine, and
the app must work without tiles anyway.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import sync_playwright
from rest_framework.authtoken.models import Token

from tests.support.asgi_server import AsgiServer
from tests.support.http import http
from tests.support.processes import ROOT

# This suite's ports (other process tests use 18150-18199).
E2E_PORTS = range(18300, 18350)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = ROOT / "test-artifacts"
VIEWPORT = {"width": 1280, "height": 800}
# Browser-side waits: generous for a loaded 2-core machine, still bounded.
DEFAULT_TIMEOUT_MS = 10_000


class Server(AsgiServer):
    """An ASGI server process on a port of this suite's range, with tiles pointing at a path that does not exist."""

    def __init__(self):
        super().__init__(
            redis_url=settings.REDIS_URL, ports=E2E_PORTS, TRACKER_TILE_URL="/tiles-unavailable/{z}/{x}/{y}.png"
        )

    @property
    def url(self) -> str:
        return f"http://{self.base}"

    def restart(self) -> None:
        """Start the process again on the same port (after kill())."""
        self.launch().wait_ready()


def new_server() -> Server:
    assert (ROOT / "frontend" / "dist" / "tracker" / "dashboard.js").exists(), (
        "frontend/dist is missing: run `make setup` (or `cd frontend && npm ci && npm run build`)"
    )
    return Server().launch().wait_ready()


@pytest.fixture(scope="module")
def server(django_db_setup):
    """One server process for the module; each test's data is flushed, the process stays."""
    process = new_server()
    yield process
    process.stop()


class OnBrowserThread:
    """A Playwright object whose every attribute read and call runs on the one thread Playwright lives on.

    Playwright's sync API keeps an asyncio loop running on its thread. On the test's own thread that loop would
    make Django refuse ORM calls (SynchronousOnlyOperation) and make the on-commit publish of every write fail
    (async_to_sync inside a running loop), so Playwright gets a thread of its own and the test thread stays
    plain synchronous code. Playwright objects in results come back wrapped the same way.
    """

    def __init__(self, target, executor: ThreadPoolExecutor):
        self._target = target
        self._executor = executor

    def _wrap(self, value):
        return OnBrowserThread(value, self._executor) if type(value).__module__.startswith("playwright.") else value

    def __getattr__(self, name):
        attribute = self._executor.submit(getattr, self._target, name).result()
        if not callable(attribute):
            return self._wrap(attribute)
        return lambda *args, **kwargs: self._wrap(self._executor.submit(attribute, *args, **kwargs).result())


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium (never a downloaded browser), headless, driven from a thread of its own."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="playwright") as executor:
        playwright = executor.submit(lambda: sync_playwright().start()).result()
        browser = executor.submit(
            playwright.chromium.launch, executable_path=CHROMIUM, args=CHROMIUM_ARGS
        ).result()
        try:
            yield OnBrowserThread(browser, executor)
        finally:
            executor.submit(browser.close).result()
            executor.submit(playwright.stop).result()


class Browsers:
    """Opens browser contexts (separate cookie jars: separate people) on a server; closes them at teardown.

    Every page records uncaught errors and dialogs; `assert_clean()` fails the test if any happened.
    """

    def __init__(self, chromium, server: Server):
        self.chromium = chromium
        self.server = server
        self.contexts = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []

    def context(self, user=None):
        """Return a new browser context, signed in as `user` (a session made by Django, as after a login)."""
        context = self.chromium.new_context(viewport=VIEWPORT, base_url=self.server.url)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        self.contexts.append(context)
        if user is not None:
            client = Client()
            client.force_login(user)
            session = client.cookies[settings.SESSION_COOKIE_NAME].value
            context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": self.server.url}])
        return context

    def page(self, user=None, path: str = "/"):
        """Return a page of a new context (see context()) showing `path`."""
        page = self.context(user).new_page()
        # The handlers run on Playwright's thread: they must not call back through the proxy.
        page.on("pageerror", lambda error: self.errors.append(f"{path}: {error}"))
        page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(path)
        return page

    def dashboard(self, user, **loaded):
        """Return a dashboard page once its socket is live and its REST load has happened.

        `loaded` names the store sizes to wait for (incidents=N, areas=N, alerts=N); all default to "any".
        """
        page = self.page(user)
        wait_connected(page)
        checks = " && ".join(f"trackerDebug.state.{kind}.size === {count}" for kind, count in loaded.items())
        # Always a function: a bare expression would be eval()ed in the page, which its CSP forbids.
        page.wait_for_function(f"() => {checks or 'true'}")
        return page

    def assert_clean(self) -> None:
        assert self.errors == [], self.errors
        assert self.dialogs == [], self.dialogs

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def browsers(chromium, server, transactional_db):
    """Browser contexts on the module's server; closed before the test's data is flushed."""
    opened = Browsers(chromium, server)
    yield opened
    opened.close()


def wait_connected(page, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> None:
    page.wait_for_selector("#connection-badge[data-state=connected]", timeout=timeout_ms)


def token_for(user) -> str:
    return Token.objects.get_or_create(user=user)[0].key


def api_post(server: Server, user, path: str, body: dict) -> dict:
    """POST JSON to the server's API as `user` (token) and return the created object."""
    reply = http(f"{server.url}/api/v1/{path}", method="POST", body=body, headers={"Authorization": f"Token {token_for(user)}"})
    assert reply.status == 201, reply
    return reply.body


def point_feature(name: str, lon: float, lat: float, severity: str = "medium", description: str = "") -> dict:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"name": name, "severity": severity, "description": description},
    }


def screenshot(page, name: str) -> Path:
    """Save a screenshot of the page as a test artifact (test-artifacts/, git-ignored) and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), animations="disabled")  # toasts fully faded in
    return path


def elapsed_since(start: float) -> float:
    return time.monotonic() - start
