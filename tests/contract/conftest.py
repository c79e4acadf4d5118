"""Hypothesis profiles of the contract test: `contract` keeps `make test` short, `HYPOTHESIS_PROFILE=long` searches
deeper (more and longer sequences). Registered, not loaded: the rest of the suite keeps Hypothesis's defaults."""

import os

import pytest
from hypothesis import HealthCheck, settings

# Each step is a real request, a real commit and a real WebSocket round trip: tens of milliseconds, not
# microseconds, so no per-example deadline and no "too slow" health check.
_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}
settings.register_profile("contract", max_examples=10, stateful_step_count=12, **_COMMON)
settings.register_profile("long", max_examples=150, stateful_step_count=40, **_COMMON)


@pytest.fixture
def contract_settings() -> settings:
    """Return the profile named by HYPOTHESIS_PROFILE if it is one of these, else `contract`."""
    name = os.environ.get("HYPOTHESIS_PROFILE")
    return settings.get_profile(name if name in ("contract", "long") else "contract")
