"""annotate/sql/exports.py: the export's read transaction settings (PostgreSQL; SQLite sets none)."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from annotate.selectors.exports import export_read_transaction
from annotate.sql import exports as export_sql
from tests.sql import ON_POSTGRES


def _show(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return cursor.fetchone()[0]


@pytest.mark.postgresql
def test_it_tunes_the_read_transaction_for_one_pass_and_only_it(transactional_db):
    before = {name: _show(name) for name in ("cursor_tuple_fraction", "work_mem", "jit")}
    with export_read_transaction():
        assert connection.in_atomic_block
        assert (_show("cursor_tuple_fraction"), _show("work_mem"), _show("jit")) == (
            "1",
            "64MB",
            "off",
        )
    assert {name: _show(name) for name in before} == before  # SET LOCAL: gone at the commit


@pytest.mark.postgresql
def test_outside_a_transaction_it_refuses_rather_than_do_nothing(transactional_db):
    with pytest.raises(RuntimeError, match="outside a transaction"):
        export_sql.export_read_settings()
    with transaction.atomic():
        export_sql.export_read_settings()


def test_the_read_transaction_sends_the_settings_on_postgresql_only(db):
    # SQLite streams without a transaction (the project opens SQLite transactions IMMEDIATE, which
    # would block raters for the whole export), so nothing is sent there.
    with CaptureQueriesContext(connection) as ctx, export_read_transaction():
        pass
    sent = [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert sent == ([export_sql._SETTINGS] if ON_POSTGRES else [])
