"""Test settings: the real PostGIS and Redis, isolated from a dev server running on the same machine."""

import os

from tracker_project.settings import *  # noqa: F403
from tracker_project.settings import CHANNEL_LAYERS

# A prefix of its own keeps test broadcasts away from a `make run` server sharing the Redis.
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"tracker-test-{os.getpid()}"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; never in production
