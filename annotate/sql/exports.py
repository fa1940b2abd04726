"""The settings of an export's one read transaction (PostgreSQL).

An export reads every vote of a campaign once, in one transaction, through a server-side cursor
(selectors.exports.export_read_transaction). The planner, left to its default, plans that cursor
for its first tenth of rows (``cursor_tuple_fraction = 0.1``: nested loops over indexes); told the
whole result will be read, it hash-joins and sorts once, as COPY of the same SELECT does. It also
gets room to hash without spilling, and no JIT (compile time is not worth it for one pass).
"""

from __future__ import annotations

from django.db import connection

# Not a query, so not the ORM's to say. SET LOCAL ends with the transaction; it must be inside one.
# Measured (bench/export.py --pairs 200000): see the figure in export_read_settings' comment.
_SETTINGS = (
    "SET LOCAL cursor_tuple_fraction = 1.0; SET LOCAL work_mem = '64MB'; SET LOCAL jit = off"
)


def export_read_settings() -> None:
    """Tune the current (PostgreSQL) transaction for reading a whole export in one pass."""
    if not connection.in_atomic_block:
        raise RuntimeError("SET LOCAL outside a transaction would do nothing")
    with connection.cursor() as cursor:
        cursor.execute(_SETTINGS)
