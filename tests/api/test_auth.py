"""Authentication and the JSON-only contract: 401 with a challenge, 403 for missing rights, never HTML."""

import pytest
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.api.conftest import API, assert_error, feature, point
from tests.factories import IncidentFactory
from tracker.api import views
from tracker.models import Incident
from tracker.security.tokens import token_with_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["incidents/", "areas/", "alerts/", "events/", "areas/1/incidents/"])
def test_reading_needs_a_login(anon, path):
    response = anon.get(API + path)
    body = assert_error(response, 401)
    assert body["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"


def test_wrong_token_is_401(anon):
    anon.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")
    body = assert_error(anon.get(API + "incidents/"), 401)
    assert body["code"] == "authentication_failed"


def test_inactive_users_token_is_401(api, user):
    user.is_active = False
    user.save()
    assert_error(api.get(API + "incidents/"), 401)


def test_token_lookup_loads_what_the_orm_loads(user, django_assert_num_queries):
    expected = Token.objects.select_related("user").get(key=Token.objects.create(user=user).key)
    with django_assert_num_queries(1):
        token = token_with_user(expected.key)
        assert token.user.username == user.username
    assert (token.key, token.user_id, token.created) == (expected.key, expected.user_id, expected.created)
    fields = [f.attname for f in type(user)._meta.concrete_fields]
    assert [getattr(token.user, f) for f in fields] == [getattr(expected.user, f) for f in fields]
    assert token_with_user("not-a-real-key") is None


def test_session_reads_and_writes_with_csrf_only(user):
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(user)
    assert browser.get(API + "incidents/").status_code == 200
    body = assert_error(browser.post(API + "incidents/", feature(point(1, 1), name="x"), format="json"), 403)
    assert "CSRF" in body["detail"]
    browser.get("/accounts/login/")  # sets the csrftoken cookie
    token = browser.cookies["csrftoken"].value
    response = browser.post(API + "incidents/", feature(point(1, 1), name="x"), format="json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201
    assert Incident.objects.get().reporter == user


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "no-such-endpoint/"),
        ("get", "incidents/abc/"),
        ("post", "incidents/1/"),  # 405
        ("delete", "alerts/1/"),
        ("get", "../v2/incidents/"),
    ],
)
@pytest.mark.parametrize("debug", [False, True])
def test_never_html_under_api(api, method, path, debug):
    IncidentFactory()
    with override_settings(DEBUG=debug):
        response = getattr(api, method)(API + path)
    assert response.status_code in (404, 405)
    assert response["Content-Type"] == "application/json"
    assert_error(response, response.status_code)


def test_html_only_accept_header_still_gets_json(api):
    response = api.get(API + "incidents/", HTTP_ACCEPT="text/html")
    assert_error(response, 406)


def test_unhandled_error_is_a_json_500(api, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views.IncidentViewSet, "list", explode)
    api.raise_request_exception = False
    response = api.get(API + "incidents/")
    body = assert_error(response, 500)
    assert body == {"detail": "Server error.", "code": "server_error"}
