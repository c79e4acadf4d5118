"""Hypothesis profiles of the contract test: `contract` keeps `make test` short, `HYPOTHESIS_PROFILE=long` searches
deeper (more and longer sequences). Registered, not loaded: the rest of the suite keeps Hypothesis's defaults."""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Each step is a real request, a real commit and a real WebSocket round trip: tens of milliseconds, not
# microseconds, so no per-example deadline and no "too slow" health check.
_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}
settings.register_profile("contract", max_examples=10, stateful_step_count=12, **_COMMON)
settings.register_profile("long", max_examples=150, stateful_step_count=40, **_COMMON)
PROFILE = "long" if os.environ.get("HYPOTHESIS_PROFILE") == "long" else "contract"
# The whole run, shrinking included (pytest-timeout's suite-wide 120 s is per test, too short for a search).
TIMEOUT_SECONDS = {"contract": 900, "long": 3 * 3600}[PROFILE]


def pytest_collection_modifyitems(items) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.timeout(TIMEOUT_SECONDS))


@pytest.fixture
def contract_settings() -> settings:
    """Return the profile named by HYPOTHESIS_PROFILE if it is `long`, else `contract`."""
    return settings.get_profile(PROFILE)
