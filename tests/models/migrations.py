"""Run a data migration's test at an old schema: migrate back, seed with the historical models,
migrate forward, then always return the database to the latest migration for the tests after."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate_to(targets):
    """Migrate to ``targets`` and return the historical apps of that state."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@contextmanager
def schema_at(targets) -> Iterator:
    """The historical apps at ``targets``; the latest schema is restored on the way out."""
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes("annotate")
    try:
        yield migrate_to(targets)
    finally:
        migrate_to(latest)
