"""The settings of an export's one read transaction (PostgreSQL).

An export reads every vote of a campaign once, in one transaction, through a server-side cursor
(selectors.exports.export_read_transaction). The planner, left to its default, plans that cursor
for its first tenth of rows (``cursor_tuple_fraction = 0.1``: nested loops over indexes); told the
whole result will be read, it hash-joins and sorts once, as COPY of the same SELECT does. It also
gets room to hash without spilling, and no JIT (compile time is not worth it for one pass).
"""

from __future__ import annotations

from django.db import connection

# Settings, not a query: nothing the ORM could say. They change the plan (EXPLAIN of the export's
# cursor at 1M pairs: seq scans, hash joins and one sort instead of nested loops over indexes), but
# the time did not move measurably on this 2-core machine, busy with other work, with the tables in
# cache: bench/export.py --pairs 1000000, export 31.9-38.1 s with them and 33.0-59.3 s without (3
# and 2 runs; --pairs 200000: 6.0-9.0 s and 6.6-7.2 s). Kept as they were; a quiet machine, or
# tables larger than memory, is where to measure them again.
_SETTINGS = (
    "SET LOCAL cursor_tuple_fraction = 1.0; SET LOCAL work_mem = '64MB'; SET LOCAL jit = off"
)


def export_read_settings() -> None:
    """Tune the current (PostgreSQL) transaction for reading a whole export in one pass."""
    if not connection.in_atomic_block:
        raise RuntimeError("SET LOCAL outside a transaction would do nothing")
    with connection.cursor() as cursor:
        cursor.execute(_SETTINGS)
