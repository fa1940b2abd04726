"""A real broker for tests that run real workers: the project's Celery app pointed at a Redis
database of its own (TEST_REDIS_URL). Registered as a plugin in tests/conftest.py."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest
from celery.contrib.testing.worker import test_worker_stopped
from django.db import connections

from annotate.work import workers
from project.celery import app as celery_app


def _redis_url() -> str:
    """TEST_REDIS_URL, and under pytest-xdist one database per worker (gw0 the given one, gw1 the
    next, …): every worker flushes its own broker, never another's queued tasks."""
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/1")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return url
    base, _, db = url.rpartition("/")
    return f"{base}/{(int(db or 0) + int(worker[2:])) % 16}"


REDIS_URL = _redis_url()


@test_worker_stopped.connect
def _stop_serving(**kwargs) -> None:
    """An embedded worker (``start_worker``) serves in the test process like a real one, but it is
    stopped without the ``worker_shutdown`` signal: stop its heartbeat, and close its connection,
    before the test's database goes away."""
    workers.stop_serving()


def wait_for(
    predicate: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.1
) -> None:
    """Poll until a worker has done something the test can see in the database."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def _reset_pools(app) -> None:
    """Forget connections made for the previous broker (the app and kombu's registry cache them)."""
    from kombu import pools

    pools.reset()  # closes and forgets every pooled connection and producer
    app._pool = None
    if "amqp" in app.__dict__:
        app.amqp._producer_pool = None


def _flush() -> None:
    """Empty this test Redis database: queued, scheduled and unacked messages of earlier runs
    (a killed worker's unacked messages would otherwise come back an hour later)."""
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def _consume_every_queue(app) -> None:
    """An embedded worker started with ``queues=[...]`` narrows the app's queue selection for the
    rest of the process (``app.amqp.queues.select``): the next test's worker would then listen on
    those queues alone, and its "celery" tasks would wait forever. Back to every queue."""
    app.amqp.queues._consume_from = None


@pytest.fixture
def redis_app():
    _consume_every_queue(celery_app)
    saved = (celery_app.conf.broker_url, celery_app.conf.broker_transport_options)
    celery_app.conf.broker_url = REDIS_URL
    celery_app.conf.broker_transport_options = {"visibility_timeout": 3600}
    _reset_pools(celery_app)
    _flush()
    # Worker threads open their own database connections; close them after each task so none is
    # left holding the test database when pytest-django drops it.
    saved_age = connections.settings["default"].get("CONN_MAX_AGE")
    connections.settings["default"]["CONN_MAX_AGE"] = 0
    yield celery_app
    _flush()
    connections.settings["default"]["CONN_MAX_AGE"] = saved_age
    celery_app.conf.broker_url, celery_app.conf.broker_transport_options = saved
    _reset_pools(celery_app)
    _consume_every_queue(celery_app)
