"""Test settings: the real PostGIS and Redis, isolated from a dev server and from other test runs."""

import os

from tracker_project.settings import *  # noqa: F403
from tracker_project.settings import CACHES, CHANNEL_LAYERS, DATABASES, STORAGES

# Names of their own keep test broadcasts away from a `make run` server sharing the Redis, and let two test
# runs share one PostgreSQL.
# Server processes started by a test (tests/support/) are given the test's prefix in CHANNEL_LAYER_PREFIX.
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = os.environ.get("CHANNEL_LAYER_PREFIX", f"tracker-test-{os.getpid()}")
DATABASES["default"]["TEST"] = {"NAME": f"test_tracker_{os.getpid()}"}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; never in production
# Rate-limit counters (login, DRF throttles) of this run only; tests/conftest.py empties them between tests.
CACHES["default"]["KEY_PREFIX"] = os.environ.get("CACHE_KEY_PREFIX", f"tracker-test-{os.getpid()}")
# Tests (and the servers they start) must not depend on collectstatic having run since the last frontend build:
# plain storage, files looked up per request where the finders find them. The hashed-name storage is tested
# with the production settings (tests/test_deploy.py).
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
