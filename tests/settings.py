"""Test settings: the real PostGIS and Redis, isolated from a dev server and from other test runs."""

import os

from tracker_project.settings import *  # noqa: F403
from tracker_project.settings import CHANNEL_LAYERS, DATABASES

# Names of their own keep test broadcasts away from a `make run` server sharing the Redis, and let two test
# runs share one PostgreSQL.
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"tracker-test-{os.getpid()}"
DATABASES["default"]["TEST"] = {"NAME": f"test_tracker_{os.getpid()}"}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; never in production
