"""Structured operational logs: one line per HTTP request and one per pushed event.

With LOG_FORMAT=json (the production default, see settings.LOGGING) each line is one JSON object carrying
the fields passed as `extra`; in development the same records read as plain text.
"""

import logging
from time import perf_counter

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.utils.functional import empty

request_logger = logging.getLogger("tracker.request")
event_logger = logging.getLogger("tracker.push")


def _user_id(request) -> int | None:
    """Return the id of the request's authenticated user if authentication already ran, else None.

    Never triggers the session/user lookup itself: a request that did not need its user (a static file,
    the public report page) costs no extra queries for being logged. DRF views copy the user they
    authenticate (session or token) onto the Django request, so API requests are attributed too.
    """
    user = getattr(request, "user", None)
    if user is None or getattr(user, "_wrapped", None) is empty:
        return None
    return user.pk if user.is_authenticated else None


def log_request(request, response, started: float) -> None:
    """Write the request's log line: method, path, status, duration_ms, user_id, client address."""
    duration_ms = round((perf_counter() - started) * 1000, 1)
    request_logger.info(
        "%s %s %s %sms",
        request.method,
        request.path,
        response.status_code,
        duration_ms,
        extra={
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": duration_ms,
            "user_id": _user_id(request),
            "client": request.META.get("REMOTE_ADDR"),
        },
    )


class RequestLogMiddleware:
    """Logs one line per request. Outermost in MIDDLEWARE, so the duration covers the whole stack and
    every response is seen: Django turns inner exceptions into 500 responses before they get here."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        started = perf_counter()
        response = self.get_response(request)
        log_request(request, response, started)
        return response

    async def __acall__(self, request):
        started = perf_counter()
        response = await self.get_response(request)
        log_request(request, response, started)
        return response


def log_event_pushed(event_id: int, group: str, recipients: int | None) -> None:
    """Write the log line of one broadcast event: its id, the group, and the recipients count (the server
    processes subscribed to the group, each of which fans the event out to its own sockets; None when the
    channel layer does not tell)."""
    event_logger.info(
        "event %s pushed to %s (%s recipients)",
        event_id,
        group,
        recipients,
        extra={"event_id": event_id, "group": group, "recipients": recipients},
    )
