"""The sign-in rate limit.

Every failed authentication (any login form, the admin's, a token endpoint: whatever calls `authenticate`
with the request) counts against the client address; past LOGIN_FAILURE_RATE the login views answer 429
before checking any password, so a burst costs no password hashing and guesses stop counting. The client
address is the one the API's throttles count against (`client_address`, settings.RATELIMIT_IP_META_KEY).
"""

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.http import HttpResponse, JsonResponse
from django_ratelimit.core import get_usage
from rest_framework.throttling import BaseThrottle

# The views that check a password: Django's LoginView and the admin's login.
LOGIN_VIEW_NAMES = frozenset({"login", "admin:login"})
LOGIN_FAILURES_GROUP = "tracker.login-failures"


def client_address(request) -> str:
    """Return the address a client's requests are counted against, by every rate limit (the sign-in limit
    and the API's throttles): REMOTE_ADDR, or behind REST_FRAMEWORK["NUM_PROXIES"] trusted proxies the address
    that many places from the right of X-Forwarded-For. This is DRF's rule; it is used as is, so the two
    limits cannot drift apart."""
    return BaseThrottle().get_ident(request)


def login_failures(request, *, count_one: bool) -> dict | None:
    """Return django-ratelimit's usage of the client address's failed sign-ins in the current window
    ({"count", "limit", "time_left", ...}), counting one more failure first if `count_one`; None if off."""
    return get_usage(
        request, group=LOGIN_FAILURES_GROUP, key="ip", rate=settings.LOGIN_FAILURE_RATE, increment=count_one
    )


def count_login_failure(sender, credentials: dict, request=None, **kwargs) -> None:
    if request is not None:
        login_failures(request, count_one=True)


def too_many_attempts(request, retry_after: int) -> HttpResponse:
    """Return the 429 answer: JSON for API clients, a short page for browsers; with Retry-After."""
    detail = f"Too many failed sign-in attempts from your address; try again in {retry_after} seconds."
    if request.accepts("text/html"):
        response = HttpResponse(detail, status=429, content_type="text/plain; charset=utf-8")
    else:
        response = JsonResponse({"detail": detail}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


class LoginRateLimitMiddleware:
    """Answers 429 to a sign-in POST from an address that used up its failed attempts; passes all else."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method != "POST" or request.resolver_match.view_name not in LOGIN_VIEW_NAMES:
            return None
        usage = login_failures(request, count_one=False)
        if usage is not None and usage["count"] >= usage["limit"]:
            return too_many_attempts(request, max(usage["time_left"], 1))
        return None


def connect() -> None:
    """Connect the failure counter; idempotent thanks to the dispatch_uid."""
    user_login_failed.connect(count_login_failure, dispatch_uid="tracker.security.login_rate.count_login_failure")
