"""Security properties across the app: sign-in rate limit, CSRF, sessions and the sockets they opened, error
pages without internals, escaped user text. The per-endpoint access rules are in test_authz_matrix.py."""

import base64
import hashlib
import re

import pytest
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.cache import caches
from django.test import Client, RequestFactory, override_settings
from django.urls import path
from rest_framework.authtoken.models import Token
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from tests.conftest import in_thread, session_cookie
from tests.factories import AreaFactory, IncidentFactory, UserFactory, square
from tracker.consumers import CLOSE_UNAUTHENTICATED
from tracker.models import Incident
from tracker_project.urls import urlpatterns as project_urlpatterns

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
BLOCKED_ADDRESS = "203.0.113.7"
OTHER_ADDRESS = "198.51.100.9"
# Nothing listens here (this suite's port range): a cache server that is down.
DEAD_REDIS = "redis://127.0.0.1:18401/0"


def sign_in(client: Client, username: str, password: str, *, address: str, url: str = LOGIN, **headers):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address, **headers)


@pytest.fixture
def failed_logins():
    """The usernames of failed authentications, as Django's user_login_failed signal reports them."""
    seen = []

    def receiver(sender, credentials, **kwargs):
        seen.append(credentials["username"])

    user_login_failed.connect(receiver, dispatch_uid="test-failed-logins")
    yield seen
    user_login_failed.disconnect(dispatch_uid="test-failed-logins")


# --- Sign-in rate limit -----------------------------------------------------------------------------------------


@override_settings(LOGIN_FAILURE_RATE="3/m")
def test_failed_sign_in_burst_gets_429_and_stops_checking_passwords(user, failed_logins):
    client = Client()
    answers = [sign_in(client, user.username, "wrong", address=BLOCKED_ADDRESS).status_code for _ in range(6)]
    assert answers == [200, 200, 200, 429, 429, 429]
    # Bounded: the passwords of the refused attempts were never checked.
    assert failed_logins == [user.username] * 3

    right_password = sign_in(client, user.username, "pw", address=BLOCKED_ADDRESS)
    assert right_password.status_code == 429
    assert 0 < int(right_password["Retry-After"]) <= 60
    assert "_auth_user_id" not in client.session

    elsewhere = Client()
    assert sign_in(elsewhere, user.username, "pw", address=OTHER_ADDRESS).status_code == 302
    assert elsewhere.session["_auth_user_id"] == str(user.pk)


@override_settings(LOGIN_FAILURE_RATE="2/m")
def test_admin_login_counts_and_is_limited_with_a_json_answer_for_api_clients(staff):
    client = Client()
    assert [sign_in(client, staff.username, "wrong", address=BLOCKED_ADDRESS, url=ADMIN_LOGIN).status_code
            for _ in range(2)] == [200, 200]
    refused = sign_in(client, staff.username, "pw", address=BLOCKED_ADDRESS, HTTP_ACCEPT="application/json")
    assert refused.status_code == 429
    assert "Too many failed sign-in attempts" in refused.json()["detail"]
    assert sign_in(client, staff.username, "pw", address=BLOCKED_ADDRESS, url=ADMIN_LOGIN).status_code == 429


@override_settings(LOGIN_FAILURE_RATE="2/m", REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": 1})
def test_behind_a_trusted_proxy_sign_ins_count_per_forwarded_client_as_the_api_throttles_do(user):
    """One proxy address, many clients: the limit is per client (the address the proxy forwards, as the
    report throttle reads it), so one client's guessing does not lock out the others behind the same proxy."""
    proxy = "10.0.0.1"
    guesser, other = Client(), Client()
    forwarded = {"HTTP_X_FORWARDED_FOR": BLOCKED_ADDRESS}
    assert [sign_in(guesser, user.username, "wrong", address=proxy, **forwarded).status_code
            for _ in range(3)] == [200, 200, 429]
    assert BaseThrottle().get_ident(RequestFactory().get("/", REMOTE_ADDR=proxy, **forwarded)) == BLOCKED_ADDRESS
    assert sign_in(other, user.username, "pw", address=proxy, HTTP_X_FORWARDED_FOR=OTHER_ADDRESS).status_code == 302


@override_settings(
    LOGIN_FAILURE_RATE="1/m",
    CACHES={"default": {"BACKEND": "tracker.cache.FailOpenRedisCache", "LOCATION": DEAD_REDIS,
                        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}}},
)
def test_sign_in_keeps_working_while_the_cache_is_down(user):
    cache = caches["default"]
    assert cache.get("missing", "fallback") == "fallback"
    assert cache.add("counter", 1) is True
    client = Client()
    # The limit lapses (nothing can count) instead of every sign-in failing with a 500.
    assert [sign_in(client, user.username, "wrong", address=BLOCKED_ADDRESS).status_code
            for _ in range(3)] == [200, 200, 200]
    assert sign_in(client, user.username, "pw", address=BLOCKED_ADDRESS).status_code == 302


# --- CSRF ------------------------------------------------------------------------------------------------------


def test_session_authenticated_admin_write_needs_the_csrf_token(db):
    admin = UserFactory(is_staff=True, is_superuser=True)
    incident = IncidentFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    url = f"/admin/tracker/incident/{incident.pk}/delete/"

    forged = client.post(url, {"post": "yes"})
    assert forged.status_code == 403
    assert Incident.objects.filter(pk=incident.pk).exists()

    client.get(url)  # the confirmation page sets the CSRF cookie, as in a browser
    token = client.cookies["csrftoken"].value
    assert client.post(url, {"post": "yes", "csrfmiddlewaretoken": token}).status_code == 302
    assert not Incident.objects.filter(pk=incident.pk).exists()


# --- Sessions and the sockets they opened ---------------------------------------------------------------------

socket_tests = pytest.mark.django_db(transaction=True)


def session_id(client: Client) -> str:
    return client.cookies["sessionid"].value


@socket_tests
async def test_sign_in_rotates_the_session_key_so_a_planted_key_opens_nothing(sockets):
    user = await in_thread(UserFactory)()
    client = Client()

    def plant_then_sign_in():
        session = client.session  # an anonymous session, as an attacker could plant its cookie
        session["planted"] = True
        session.save()
        planted = session.session_key
        assert sign_in(client, user.username, "pw", address=OTHER_ADDRESS).status_code == 302
        return planted, session_id(client)

    planted, signed_in = await in_thread(plant_then_sign_in)()
    assert planted != signed_in

    old, _, _ = await sockets(cookie=f"sessionid={planted}")
    assert await old.receive_close_code() == CLOSE_UNAUTHENTICATED
    new, _, _ = await sockets(cookie=f"sessionid={signed_in}")
    assert (await new.receive())["type"] == "hello"


@socket_tests
async def test_logging_out_closes_that_sessions_sockets_only(sockets):
    user = await in_thread(UserFactory)()
    token = await in_thread(Token.objects.create)(user=user)
    browser = Client()
    cookie = await in_thread(session_cookie)(browser, user)
    by_session, _, _ = await sockets(cookie=cookie)
    by_token, _, _ = await sockets(token=token.key, origin=None)
    assert (await by_session.receive())["type"] == (await by_token.receive())["type"] == "hello"

    assert (await in_thread(browser.post)("/accounts/logout/")).status_code == 302
    assert await by_session.receive_close_code() == CLOSE_UNAUTHENTICATED
    await by_token.assert_silent()
    again, _, _ = await sockets(cookie=cookie)
    assert await again.receive_close_code() == CLOSE_UNAUTHENTICATED


def deactivate(user):
    user.is_active = False
    user.save()


def change_password(user):
    user.set_password("a-new-password")
    user.save()


@socket_tests
@pytest.mark.parametrize("withdraw", [deactivate, change_password, lambda user: user.delete()],
                         ids=["deactivated", "password changed", "deleted"])
async def test_withdrawn_user_loses_every_socket(sockets, withdraw):
    user = await in_thread(UserFactory)()
    bystander_token = await in_thread(Token.objects.create)(user=await in_thread(UserFactory)())
    token = await in_thread(Token.objects.create)(user=user)
    cookie = await in_thread(session_cookie)(Client(), user)
    opened = [(await sockets(cookie=cookie))[0], (await sockets(token=token.key, origin=None))[0]]
    bystander, _, _ = await sockets(token=bystander_token.key, origin=None)
    for socket in [*opened, bystander]:
        assert (await socket.receive())["type"] == "hello"

    await in_thread(withdraw)(user)
    for socket in opened:
        assert await socket.receive_close_code() == CLOSE_UNAUTHENTICATED
    await bystander.assert_silent()


@socket_tests
async def test_deleting_a_token_closes_the_sockets_it_opened(sockets):
    user = await in_thread(UserFactory)()
    token = await in_thread(Token.objects.create)(user=user)
    by_token, _, _ = await sockets(token=token.key, origin=None)
    by_session, _, _ = await sockets(cookie=await in_thread(session_cookie)(Client(), user))
    assert (await by_token.receive())["type"] == (await by_session.receive())["type"] == "hello"

    await in_thread(token.delete)()
    assert await by_token.receive_close_code() == CLOSE_UNAUTHENTICATED
    await by_session.assert_silent()


# --- Content Security Policy: inline code only where the policy names it ----------------------------------------


def policy(response) -> dict[str, list[str]]:
    directives = (d.strip().split() for d in response["Content-Security-Policy"].split(";"))
    return {name: sources for name, *sources in directives}


def test_api_docs_inline_style_is_allowed_by_its_hash_only(db):
    response = Client().get("/api/docs/")
    (style,) = re.findall(r"<style>(.*?)</style>", response.content.decode(), re.S)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert policy(response)["style-src"] == ["'self'", f"'sha256-{digest}'"]
    assert policy(response)["script-src"] == ["'self'"]
    assert "<script>" not in response.content.decode()  # the split view's start-up script is a file


def test_admin_map_widget_script_runs_by_nonce(db):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    response = client.get(f"/admin/tracker/incident/{IncidentFactory().pk}/change/")
    inline_nonces = set(re.findall(r'<script nonce="([^"]+)">', response.content.decode()))
    assert len(inline_nonces) == 1
    assert policy(response)["script-src"] == ["'self'", f"'nonce-{inline_nonces.pop()}'"]
    assert not re.search(r"<script>(?!\s*</script>)", response.content.decode())


# --- No internals in error answers ----------------------------------------------------------------------------

SECRET_DETAIL = "secret-detail-4f1c"


def broken_page(request):
    raise RuntimeError(SECRET_DETAIL)


class BrokenApi(APIView):
    permission_classes = []

    def get(self, request):
        raise RuntimeError(SECRET_DETAIL)


urlpatterns = [
    path("test-broken/page/", broken_page),
    path("test-broken/api/", BrokenApi.as_view()),
    *project_urlpatterns,
]


@override_settings(DEBUG=False, ROOT_URLCONF=__name__)
@pytest.mark.parametrize("url, accept", [("/test-broken/page/", "text/html"), ("/test-broken/api/", "application/json")])
def test_a_crash_answers_a_bare_500_without_traceback(db, url, accept):
    response = Client(raise_request_exception=False).get(url, HTTP_ACCEPT=accept)
    assert response.status_code == 500
    body = response.content.decode()
    for internal in (SECRET_DETAIL, "Traceback", "RuntimeError", ".py", "SECRET_KEY"):
        assert internal not in body


@override_settings(DEBUG=False)
def test_unknown_url_answers_a_bare_404(db):
    response = Client().get("/no/such/page/")
    assert response.status_code == 404
    assert "urlpatterns" not in response.content.decode() and "tracker_project" not in response.content.decode()


# --- User text is escaped -----------------------------------------------------------------------------------------

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def test_hostile_names_are_escaped_in_the_pages_and_the_admin(db):
    admin = UserFactory(username=HOSTILE[:150], is_staff=True, is_superuser=True)
    incident = IncidentFactory(name=HOSTILE, description=HOSTILE, reporter=admin)
    area = AreaFactory(name=HOSTILE, polygon=square(10, 10, 11, 11))
    client = Client()
    client.force_login(admin)
    pages = ["/", "/incidents/", f"/incidents/{incident.pk}/", "/report/",
             "/admin/tracker/incident/", f"/admin/tracker/incident/{incident.pk}/change/",
             "/admin/tracker/areaofinterest/", f"/admin/tracker/areaofinterest/{area.pk}/change/",
             "/admin/tracker/alert/", "/admin/tracker/event/"]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        body = response.content.decode()
        assert HOSTILE not in body and "<img src=x" not in body, page
    for page in ("/admin/tracker/incident/", f"/incidents/{incident.pk}/"):
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get(page).content.decode(), page
