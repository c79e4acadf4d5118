"""manage.py issue_token <username>."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.api.conftest import API

pytestmark = pytest.mark.django_db


def issue(*args) -> str:
    out = StringIO()
    call_command("issue_token", *args, stdout=out)
    return out.getvalue().strip()


def test_issue_token_command(user):
    key = issue(user.username)
    assert Token.objects.get(user=user).key == key
    assert issue(user.username) == key  # get_or_create: the same token again
    rotated = issue(user.username, "--rotate")
    assert rotated != key and not Token.objects.filter(key=key).exists()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {rotated}")
    assert client.get(API + "incidents/").status_code == 200


def test_unknown_or_inactive_user_is_an_error(user):
    with pytest.raises(CommandError, match="No user"):
        issue("nobody")
    user.is_active = False
    user.save()
    with pytest.raises(CommandError, match="inactive"):
        issue(user.username)
