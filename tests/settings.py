"""The test suite's settings: the project's, with the fast MD5 password hasher (tests create and log
in hundreds of users; PBKDF2 would spend minutes on it). Only pytest (pyproject.toml) selects this
module; production settings offer no way to choose MD5."""

from project.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Crowd tests send participants to capture endpoints and fake platforms on 127.0.0.1.
CROWD_ALLOW_LOOPBACK = True
