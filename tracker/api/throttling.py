"""Rate limit of the public report endpoint, per client address, shared by every server process."""

import math

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class ReportRateThrottle(SimpleRateThrottle):
    """At most N reports per client address per fixed window ("10/hour": 10 per clock hour).

    Counts with an atomic increment in the shared cache (Redis), so parallel requests cannot all pass by
    reading the same count, as DRF's read-then-write history can. The client address is REMOTE_ADDR, or the
    NUM_PROXIES-th address from the right of X-Forwarded-For behind that many trusted proxies. The rate is
    `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["report"]` (env TRACKER_REPORT_RATE), read on each request.
    While Redis is unreachable the cache (tracker.cache) fails open and every count restarts at one.
    """

    scope = "report"
    retry_after: float | None = None

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        now = self.timer()
        window = math.floor(now / self.duration)
        key = f"{self.get_cache_key(request, view)}_{window}"
        count = self.increment(key)
        self.retry_after = (window + 1) * self.duration - now
        return count <= self.num_requests

    def increment(self, key: str) -> int:
        """Return the window's count including this request."""
        self.cache.add(key, 0, timeout=self.duration)
        try:
            return self.cache.incr(key)
        except ValueError:  # the key expired between add and incr: this request opens a new count
            self.cache.add(key, 1, timeout=self.duration)
            return 1

    def wait(self) -> float | None:
        return self.retry_after
