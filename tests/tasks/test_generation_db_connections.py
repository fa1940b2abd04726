"""Worker threads keep their database connection between tasks (generation runs thousands of short
tasks; Celery's Django fixup would otherwise open a new PostgreSQL connection for each one), and
still drop it when it is broken or older than CONN_MAX_AGE, as Django does between requests."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection

from project.celery import app, close_old_database_connections


def _task(*, eager: bool = False) -> SimpleNamespace:
    return SimpleNamespace(request=SimpleNamespace(is_eager=eager))


@pytest.fixture
def fresh_connection(transactional_db):
    """Open a new connection with the given CONN_MAX_AGE; the setting is restored afterwards."""
    saved = connection.settings_dict["CONN_MAX_AGE"]

    def open_with(max_age: int):
        connection.settings_dict["CONN_MAX_AGE"] = max_age
        connection.close()
        connection.ensure_connection()
        return connection.connection

    yield open_with
    connection.settings_dict["CONN_MAX_AGE"] = saved
    connection.close()


def test_it_keeps_the_connection_between_tasks(fresh_connection):
    raw = fresh_connection(60)
    assert app.conf.get("CELERY_DB_REUSE_MAX")  # without it the fixup closes on every task

    DjangoWorkerFixup(app).close_database()  # what task_prerun/postrun run in a worker
    close_old_database_connections(sender=_task())

    assert connection.connection is raw and not raw.closed


def test_it_drops_a_connection_older_than_conn_max_age(fresh_connection):
    raw = fresh_connection(0)
    close_old_database_connections(sender=_task())
    assert connection.connection is None and raw.closed


def test_it_leaves_eager_tasks_alone(fresh_connection):
    raw = fresh_connection(0)
    close_old_database_connections(sender=_task(eager=True))  # inside the caller's transaction
    assert connection.connection is raw and not raw.closed
