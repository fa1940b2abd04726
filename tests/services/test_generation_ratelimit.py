"""The database token bucket: one budget shared by every worker, on any broker."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from annotate.models import Generator
from annotate.services.ratelimit import ratelimit_acquire, ratelimit_settle


def test_it_grants_exactly_the_budget_to_concurrent_workers(transactional_db):
    generator = Generator(provider="anthropic", model="m", base_url="http://x", params={})
    params = {"requests_per_minute": 5}
    waits: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(12)

    def worker() -> None:
        start.wait()
        wait = ratelimit_acquire(generator=generator, params=params)
        with lock:
            waits.append(wait)
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(1 for w in waits if w == 0) == 5
    assert all(w > 0 for w in waits if w)


def test_it_limits_tokens_and_returns_the_unused_estimate(db):
    generator = Generator(provider="openai_compatible", model="m", base_url="http://x", params={})
    params = {"tokens_per_minute": 1000}
    assert ratelimit_acquire(generator=generator, params=params, tokens=800) == 0
    assert ratelimit_acquire(generator=generator, params=params, tokens=800) > 0
    ratelimit_settle(generator=generator, params=params, estimated=800, actual=100)
    assert ratelimit_acquire(generator=generator, params=params, tokens=800) == 0


@pytest.mark.parametrize("params", [{}, {"requests_per_minute": 0}])
def test_it_does_nothing_without_a_limit(db, params):
    generator = Generator(provider="demo", model="m", params={})
    assert all(ratelimit_acquire(generator=generator, params=params) == 0 for _ in range(100))
