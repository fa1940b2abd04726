"""How an export reads every vote of a campaign (PostgreSQL): its SELECT, read with COPY, in one
read transaction with settings of its own.

An export reads every vote of a campaign once, in one transaction
(selectors.exports.export_read_transaction), with ``COPY (<its SELECT>) TO STDOUT`` (``copy_rows``);
the SELECT sorts the narrow vote rows and then fetches the texts (``vote_rows_select``). The other
protocols' exports (rankings, ratings, steps) read through the ORM's server-side cursor in the same
transaction: the planner, left to its default, plans a cursor for its first tenth of rows
(``cursor_tuple_fraction = 0.1``: nested loops over indexes); told the whole result will be read,
it hash-joins and sorts once. Every read gets room to sort and hash without spilling, and no JIT
(compile time is not worth it for one pass).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

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


def export_read_settings(*, snapshot: bool = False, imported: str | None = None) -> None:
    """Tune the current (PostgreSQL) transaction for reading a whole export in one pass. With
    ``snapshot`` (the transaction's first statement) it reads one snapshot throughout (REPEATABLE
    READ), which it can hand to other processes (``snapshot_export``); with ``imported``, it
    reads the snapshot another transaction exported."""
    if not connection.in_atomic_block:
        raise RuntimeError("SET LOCAL outside a transaction would do nothing")
    with connection.cursor() as cursor:
        if snapshot or imported:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        if imported:
            if not _SNAPSHOT_ID.fullmatch(imported):
                raise ValueError(f"{imported!r} is not a snapshot id")
            cursor.execute(f"SET TRANSACTION SNAPSHOT '{imported}'")  # takes no parameter
        cursor.execute(_SETTINGS)


_SNAPSHOT_ID = re.compile(r"[0-9A-F]{1,16}-[0-9A-F]{1,16}-[0-9]{1,10}")


def snapshot_export() -> str:
    """The id of the current transaction's snapshot, for other transactions to read the same
    rows while this one is open (``pg_export_snapshot``)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_export_snapshot()")
        return cursor.fetchone()[0]


def prompt_bounds(pairs, parts: int) -> tuple[int, list[int]]:
    """How many rows ``pairs`` has (a ``values_list("prompt_id")``), and the prompt ids that cut
    them into ``parts`` runs of about as many rows each, in prompt order: the ``parts - 1``
    quantiles of the prompt id, each once, in one pass."""
    inner, params = pairs.query.get_compiler(using=pairs.db).as_sql()
    fractions = [k / parts for k in range(1, parts)]  # none for one part: no bound
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), percentile_disc(%s::float8[]) WITHIN GROUP (ORDER BY n.prompt_id) "
            f"FROM ({inner}) AS n",
            [fractions, *params],
        )
        rows, found = cursor.fetchone()
    return rows, sorted({bound for bound in found or [] if bound is not None})


def vote_rows_select(
    pairs,
    *,
    own: tuple[str, ...],
    joined: dict[str, tuple[str, str]],
    columns: tuple[str, ...],
) -> tuple[str, list]:
    """The export's SELECT: ``pairs`` (a ``values_list(*own)`` of the vote rows' own columns,
    ordered by prompt, pair and judgment id, with ``id``, ``judgments__id``, ``prompt_id``,
    ``candidate_a_id`` and ``candidate_b_id`` among them), each row then given its prompt's and
    candidates' columns, ``joined``: alias -> (``prompt``, ``a`` or ``b``, the column's SQL in
    that table). It selects ``columns`` (aliases of both), in that order.

    The ORM's one SELECT joins and sorts every column, the two responses' and the prompt's texts
    too, and nothing comes out of a sort before it ends: on a million votes 7 of the 10 seconds
    of its COPY passed before the first row, the export waiting. Here only the narrow rows are
    sorted (a second), then each one fetches its prompt and candidates by primary key, in the
    sorted order (LATERAL subqueries kept apart by OFFSET 0 are not flattened back into hash
    joins): the rows flow from the first second on, while the export works on them, and the
    whole COPY took 8.4 s instead of 10.2 s. The outer ORDER BY is the inner one, which the
    nested loops keep: PostgreSQL knows it and does not sort again.
    """
    from annotate.models import Candidate, Prompt

    inner, params = pairs.query.get_compiler(using=pairs.db).as_sql()
    quote = connection.ops.quote_name
    tables = {
        "prompt": ("p", Prompt._meta.db_table, "prompt_id"),
        "a": ("ca", Candidate._meta.db_table, "candidate_a_id"),
        "b": ("cb", Candidate._meta.db_table, "candidate_b_id"),
    }
    where_from = {alias: "n" for alias in own}
    laterals = []
    for side, (short, table, key) in tables.items():
        mine = {alias: sql for alias, (where, sql) in joined.items() if where == side}
        if not mine:
            continue
        where_from.update(dict.fromkeys(mine, short))
        inside = ", ".join(f"{sql} AS {quote(alias)}" for alias, sql in mine.items())
        laterals.append(
            f"CROSS JOIN LATERAL (SELECT {inside} FROM {quote(table)} "
            f"WHERE {quote('id')} = n.{quote(key)} OFFSET 0) AS {short}"
        )
    # The SELECT lists ``columns``, in their order: a row needs no reordering.
    select = [f"{where_from[alias]}.{quote(alias)} AS {quote(alias)}" for alias in columns]
    order = ", ".join(f"n.{quote(alias)}" for alias in ("prompt_id", "id", "judgments__id"))
    sql = (
        f"SELECT {', '.join(select)} FROM ({inner} OFFSET 0) AS n {' '.join(laterals)} "
        f"ORDER BY {order}"
    )
    return sql, list(params)


def copy_rows(sql: str, params: list, *, columns: tuple[str, ...]) -> Iterator[tuple]:
    """The rows of a SELECT, read with ``COPY (<it>) TO STDOUT`` in the binary format, each a
    tuple of the ``columns`` (aliases in the SELECT) in that order (PostgreSQL), inside the
    export's read transaction.

    COPY instead of a server-side cursor: a cursor's query runs without parallel workers and
    answers one FETCH at a time, so the server waits while the export builds rows and the export
    waits on each FETCH; COPY sorts with parallel workers and streams, the server producing rows
    while the export works on those it has (bench/export.py, the lean rows of a million votes,
    the ORM's SELECT: 10.8 s, 3.4 s of this process's CPU, against 19.3 s and 5.2 s through the
    cursor).

    The values are those the ORM's cursor gives: psycopg's loaders for the same types (the
    export's columns need no converter of the ORM on PostgreSQL: integers, text, booleans,
    numerics, timestamps, and JSON read as its text). The SELECT lists ``columns`` in their order
    (vote_rows_select does); one that does not is refused, not read into the wrong keys.

    While a COPY is under way its connection does nothing else: psycopg holds the connection's
    lock until the copy ends, and a statement from the same thread would wait on it for ever. A
    reader left half read (its consumer raised, and a traceback keeps the generator alive) is
    closed by ``close_readers()`` when the transaction ends, which cancels its COPY first.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("copy_rows reads inside the export's read transaction")
    reader = _copy_rows(sql, params, columns)
    connection.export_readers = [*getattr(connection, "export_readers", []), reader]
    return reader


def close_readers() -> None:
    """Close this connection's readers of copy_rows (a finished one is closed already; one
    half read cancels its COPY), so that the connection can run statements again."""
    readers, connection.export_readers = getattr(connection, "export_readers", []), []
    for reader in readers:
        reader.close()


def _copy_rows(sql: str, params: list, columns: tuple[str, ...]) -> Iterator[tuple]:
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's own: COPY is not in the DB-API
        raw.execute(f"SELECT * FROM ({sql}) AS export_columns LIMIT 0", params)
        names = [column.name for column in raw.description]
        if names != list(columns):
            raise ValueError(f"the SELECT gives the columns {names}, not {list(columns)}")
        types = [column.type_code for column in raw.description]
        with raw.copy(f"COPY ({sql}) TO STDOUT (FORMAT BINARY)", params) as copy:
            copy.set_types(types)
            yield from copy.rows()
