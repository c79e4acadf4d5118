"""A plain HTTP client for the real-process tests (urllib: no proxy, optional unverified TLS)."""

import json
import ssl
import urllib.error
import urllib.request
from typing import NamedTuple

from django.utils.datastructures import CaseInsensitiveMapping


class Reply(NamedTuple):
    status: int | None  # None: nothing answered
    body: dict | str | None  # parsed when the response is JSON
    headers: dict


def http(
    url: str,
    *,
    method: str = "GET",
    body: dict | None = None,
    headers: dict | None = None,
    insecure: bool = False,
    timeout: float = 5,
) -> Reply:
    """Send a request, with `body` as JSON if given (`insecure`: accept any TLS certificate), and return the
    reply; Reply(None, None, {}) when nothing answers."""
    headers = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    handlers = [urllib.request.ProxyHandler({})]
    if insecure:
        handlers.append(urllib.request.HTTPSHandler(context=ssl._create_unverified_context()))
    try:
        with urllib.request.build_opener(*handlers).open(request, timeout=timeout) as response:
            status, raw, reply_headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, reply_headers = error.code, error.read(), error.headers
    except (urllib.error.URLError, OSError):
        return Reply(None, None, {})
    text = raw.decode("utf-8", "replace")
    is_json = reply_headers.get("Content-Type", "").startswith("application/json")
    # Header names are case-insensitive, and servers differ (daphne "Retry-After", uvicorn "retry-after").
    return Reply(status, json.loads(text) if is_json else text, CaseInsensitiveMapping(dict(reply_headers)))


def report_incident(base: str, token: str, name: str, *, insecure: bool = False) -> dict:
    """Report an incident through a server's REST API (`base`: scheme://host:port) and return the feature."""
    point = {"type": "Point", "coordinates": [10.5, 10.5]}
    feature = {"type": "Feature", "geometry": point, "properties": {"name": name}}
    reply = http(
        f"{base}/api/v1/incidents/",
        method="POST",
        body=feature,
        headers={"Authorization": f"Token {token}"},
        insecure=insecure,
    )
    assert reply.status == 201, reply
    return reply.body
