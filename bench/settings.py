"""The benchmarks' settings: the project's, plus the hooks they measure with (BENCH_HOOKS: the
/bench/noop/ floor and the rating page's keypress timings) and the fast MD5 hasher for their many
logins. Chosen with DJANGO_SETTINGS_MODULE=bench.settings by bench/*.py only."""

from project.settings import *  # noqa: F403

BENCH_HOOKS = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
