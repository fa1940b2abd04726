"""The test suite's settings: the project's, with the fast MD5 password hasher (tests create and log
in hundreds of users; PBKDF2 would spend minutes on it). Only pytest (pyproject.toml) selects this
module; production settings offer no way to choose MD5."""

import os
import uuid

from project.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Crowd tests send participants to capture endpoints and fake platforms on 127.0.0.1.
CROWD_ALLOW_LOOPBACK = True

# Test databases number their rows from 1 again on every run (and per pytest-xdist worker), so live
# channel names ("candidate:1") repeat: each run and worker relays under a prefix of its own, also
# put in the environment for the worker processes a test starts.
_RUN = os.environ.setdefault("TEST_LIVE_RUN", uuid.uuid4().hex[:12])
LIVE_RELAY_PREFIX = os.environ["LIVE_RELAY_PREFIX"] = (
    f"test-{_RUN}-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
)
