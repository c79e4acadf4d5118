"""Several server processes sharing PostGIS and Redis, behind the nginx site and systemd units of deploy/."""

import asyncio
import shutil
import ssl
import subprocess

import pytest
import websockets
from django.conf import settings

from tests.conftest import in_thread
from tests.support.asgi_server import AsgiServer, start_all
from tests.support.http import http, report_incident
from tests.support.nginx import Nginx
from tests.support.nginx import binary as nginx_binary
from tests.support.processes import ROOT, free_port
from tests.support.stream_client import StreamClient, logged_event_ids

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.timeout(60)]


@pytest.fixture(scope="module")
def two_servers(django_db_setup):
    """Two server processes for the whole module (each test's data is flushed; the processes stay)."""
    servers = [AsgiServer(redis_url=settings.REDIS_URL), AsgiServer(redis_url=settings.REDIS_URL)]
    try:
        yield start_all(*servers)
    finally:
        for server in servers:
            server.stop()


async def follow_until(client: StreamClient, count: int, connected: asyncio.Event) -> asyncio.Task:
    """Start following; return the task once the client's socket is open. It ends after event `count`."""
    done = asyncio.Event()
    done.set()
    task = asyncio.create_task(client.follow(done, [count], connected=connected))
    await asyncio.wait_for(connected.wait(), 10)
    return task


async def test_client_on_one_process_receives_changes_made_through_the_other(two_servers, token):
    first, second = two_servers
    client = StreamClient("on-first", [first.ws_url], token.key)
    following = await follow_until(client, 3, asyncio.Event())
    names = [f"through second {n}" for n in range(3)]
    created = [await in_thread(report_incident)(f"http://{second.base}", token.key, name) for name in names]
    await asyncio.wait_for(following, 10)
    assert client.ids == [1, 2, 3] == await in_thread(logged_event_ids)()
    assert [feature["properties"]["name"] for feature in created] == names
    assert client.connections == 1


@pytest.fixture
def nginx(tmp_path, two_servers):
    """Run nginx with the deploy site (TLS with a throw-away certificate) in front of the two servers."""
    if nginx_binary() is None:
        pytest.skip("nginx is not installed (deploy/provision.sh installs nginx-light)")
    static = tmp_path / "static"
    static.mkdir()
    (static / "app.0123456789ab.js").write_text("export const hashed = true;\n")
    (static / "robots.txt").write_text("User-agent: *\n")
    site = Nginx(tmp_path, [s.base for s in two_servers], port=free_port(), redirect_port=free_port(),
                 static_root=static)
    try:
        yield site.start().base
    finally:
        site.stop()


async def test_through_nginx_static_files_api_and_websocket(nginx, token):
    """The deploy site (passed `nginx -t` in the fixture) serves static files with the right cache lifetimes,
    proxies the API and upgrades WebSockets."""
    healthz = await in_thread(http)(f"https://{nginx}/healthz", insecure=True)
    assert (healthz.status, healthz.body) == (200, {"database": "ok", "redis": "ok"})

    hashed = await in_thread(http)(f"https://{nginx}/static/app.0123456789ab.js", insecure=True)
    plain = await in_thread(http)(f"https://{nginx}/static/robots.txt", insecure=True)
    assert (hashed.status, hashed.body, plain.status) == (200, "export const hashed = true;\n", 200)
    assert hashed.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert plain.headers["Cache-Control"] == "public, max-age=3600"

    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    async with websockets.connect(
        f"wss://{nginx}/ws/notifications/", ssl=context, proxy=None,
        additional_headers={"Authorization": f"Token {token.key}"},
    ) as ws:
        assert await asyncio.wait_for(ws.recv(), 5) == '{"type": "hello", "last_event_id": 0}'
        await in_thread(report_incident)(f"https://{nginx}", token.key, "through nginx", insecure=True)
        event = await asyncio.wait_for(ws.recv(), 5)
    assert '"name":"through nginx"' in event


def test_systemd_units_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    units = ROOT / "deploy" / "systemd"
    (tmp_path / "env").write_text("")
    for unit in units.iterdir():
        text = unit.read_text().replace("/opt/tracker", str(ROOT)).replace("/etc/tracker/env", str(tmp_path / "env"))
        (tmp_path / unit.name.replace("@.service", "@8001.service")).write_text(text)
    names = sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".service", ".target", ".timer"))
    assert names == ["tracker-prune.service", "tracker-prune.timer", "tracker.target", "tracker@8001.service"]
    result = subprocess.run(
        [analyze, "verify", "--man=no", *(f"./{name}" for name in names)],
        cwd=tmp_path, capture_output=True, text=True, timeout=30,
    )
    assert (result.returncode, result.stderr.strip()) == (0, "")
