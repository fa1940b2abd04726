"""The prompt import's statements: a staging table, the checks in SQL, one INSERT … SELECT.

A file is read once. Each good line becomes a row of a temporary table as it is read (PostgreSQL:
``COPY`` through psycopg's ``cursor.copy()``; SQLite: ``executemany``), ``CHUNK`` rows at a time, so
the process holds one chunk however long the file is. What needs the whole file is then asked of
the database, by line number:

* a conversation (content hash) on an earlier line: "same conversation as line n";
* an id on an earlier line: "id 'x' repeats line n";
* an id a stored prompt of the campaign uses for another conversation: "is already used";
* a conversation the campaign has already: skipped, or "duplicate of a prompt already in this
  campaign".

and only when no line is bad, one ``INSERT … SELECT`` moves the rows into the prompt table, in file
order, inside one transaction. The staging table is per connection (TEMP) and dropped at the end:
a process killed while reading leaves nothing anywhere, one killed during the INSERT has its
transaction rolled back by the database. Reading and staging take no lock on the prompt table, so
on SQLite raters keep voting while a long file is read; only the final check and INSERT hold the
write lock. The same SQL runs on both backends (window functions, EXISTS), tested on both.

Why SQL: the whole file is never in the process, and the checks are the database's joins instead of
a million ORM lookups. A million prompts (about 250 MB) import in under a minute with flat memory
(README; bench/import.py, whose target is the import within 3x a bare COPY of the same rows).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction

from annotate.models import Prompt
from annotate.sql import Table

CHUNK = 5_000  # rows staged per COPY / executemany
_TABLE = "annotate_import_staging"  # a TEMP table of this module's own, not a model's
P = Table(Prompt)
_COLUMNS = ("line", "external_id", "messages", "system", "metadata", "content_hash")

# (line, external_id, messages as JSON text, system, metadata as JSON text, content hash)
StagedRow = tuple[int, str, str, str, str, str]


@dataclass(frozen=True)
class Problem:
    line: int
    kind: str  # same | repeat | taken | stored
    external_id: str
    other_line: int | None

    @property
    def reason(self) -> str:
        if self.kind == "same":
            return f"same conversation as line {self.other_line}"
        if self.kind == "repeat":
            return f"id {self.external_id!r} repeats line {self.other_line}"
        if self.kind == "taken":
            return f"id {self.external_id!r} is already used by another prompt"
        return "duplicate of a prompt already in this campaign"


# Every staged row with what is wrong with it, if anything; the first matching rule wins, in the
# order the importer has always checked them. Window functions and EXISTS over the whole file at
# once, where per-line ORM lookups would be a query per line (a million for bench/import.py's file).
_VERDICTS = f"""
    WITH firsts AS (
        SELECT line, external_id, content_hash,
               MIN(line) OVER (PARTITION BY content_hash) AS hash_first,
               MIN(line) OVER (PARTITION BY external_id) AS id_first
        FROM {_TABLE}
    ), verdicts AS (
        SELECT f.line, f.external_id,
            CASE
                WHEN f.hash_first < f.line THEN 'same'
                WHEN f.external_id <> '' AND f.id_first < f.line THEN 'repeat'
                WHEN f.external_id <> '' AND EXISTS (
                    SELECT 1 FROM {P} p
                    WHERE p.{P.campaign_id} = %(campaign)s AND p.{P.external_id} <> ''
                      AND p.{P.external_id} = f.external_id
                      AND p.{P.content_hash} <> f.content_hash
                ) THEN 'taken'
                WHEN EXISTS (
                    SELECT 1 FROM {P} p
                    WHERE p.{P.campaign_id} = %(campaign)s AND p.{P.content_hash} = f.content_hash
                ) THEN 'stored'
            END AS kind,
            CASE WHEN f.hash_first < f.line THEN f.hash_first ELSE f.id_first END AS other_line
        FROM firsts f
    )
"""


# Is anything wrong at all? Cheaper than the verdicts (hash aggregates, no sorts), and a good file,
# the usual case, needs no more (846bc6e, bench/import.py).
_ANY_PROBLEM = f"""
    SELECT EXISTS (SELECT 1 FROM {_TABLE} GROUP BY content_hash HAVING COUNT(*) > 1)
        OR EXISTS (
            SELECT 1 FROM {_TABLE} WHERE external_id <> '' GROUP BY external_id HAVING COUNT(*) > 1
        )
        OR EXISTS (
            SELECT 1 FROM {_TABLE} s JOIN {P} p
            ON p.{P.campaign_id} = %(campaign)s AND p.{P.content_hash} = s.content_hash
        )
        OR EXISTS (
            SELECT 1 FROM {_TABLE} s JOIN {P} p
            ON p.{P.campaign_id} = %(campaign)s AND p.{P.external_id} <> ''
               AND p.{P.external_id} = s.external_id
            WHERE s.external_id <> ''
        )
"""


class PromptStaging:
    """The staging table of one import, on the default connection; use it as a context manager.

    ``add`` buffers a row and sends a chunk when ``CHUNK`` are waiting; ``batches`` records the
    size of each chunk sent (the tests read it: no list of every row is ever built).
    """

    def __init__(self, *, chunk: int | None = None) -> None:
        self.chunk = chunk or CHUNK
        self.batches: list[int] = []
        self._buffer: list[StagedRow] = []
        self._postgres = connection.vendor == "postgresql"

    def __enter__(self) -> PromptStaging:
        with connection.cursor() as cursor:
            cursor.execute(
                f"DROP TABLE IF EXISTS {_TABLE}"
            )  # a previous import's, on this connection
            cursor.execute(
                f"CREATE TEMP TABLE {_TABLE} (line integer NOT NULL, external_id text NOT NULL, "
                "messages text NOT NULL, system text NOT NULL, metadata text NOT NULL, "
                "content_hash text NOT NULL)"
            )
        return self

    def __exit__(self, *exc) -> None:
        self._buffer = []
        if connection.connection is None:  # the connection went away: so did the table
            return
        if self._postgres and connection.needs_rollback:
            return  # an aborted outer transaction: its rollback drops the table
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {_TABLE}")

    def add(self, row: StagedRow) -> None:
        self._buffer.append(row)
        if len(self._buffer) >= self.chunk:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        rows, self._buffer = self._buffer, []
        # COPY is bench/import.py's floor, the fastest way rows reach PostgreSQL; the staging table
        # has no model, so the ORM has nothing to say here.
        with connection.cursor() as cursor:
            if self._postgres:
                statement = f"COPY {_TABLE} ({', '.join(_COLUMNS)}) FROM STDIN"
                with cursor.cursor.copy(statement) as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" * len(_COLUMNS))
                cursor.cursor.executemany(
                    f"INSERT INTO {_TABLE} ({', '.join(_COLUMNS)}) VALUES ({marks})", rows
                )
        self.batches.append(len(rows))

    @contextmanager
    def _tuned(self) -> Iterator[None]:
        """PostgreSQL, for the statements over the whole file: no JIT (compiling them took half
        the checks' time at 100,000 rows) and room to sort in memory. SET LOCAL needs a
        transaction; on SQLite nothing is set and none is opened (it would take the write lock)."""
        if not self._postgres:
            yield
            return
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
            cursor.execute("SET LOCAL work_mem = '64MB'")
            yield

    def problems(
        self, *, campaign_id: int, skip_existing: bool, limit: int
    ) -> tuple[list[Problem], int, int]:
        """The first ``limit`` bad rows in line order, how many there are, and how many rows are
        already in the campaign and will be skipped (``skip_existing``)."""
        self.flush()
        bad = "kind IS NOT NULL" + (" AND kind <> 'stored'" if skip_existing else "")
        params = {"campaign": campaign_id, "limit": limit}
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {_TABLE}")  # a fresh table has no statistics to plan with
        with self._tuned(), connection.cursor() as cursor:
            cursor.execute(_ANY_PROBLEM, params)
            if not cursor.fetchone()[0]:
                return [], 0, 0
            cursor.execute(
                f"{_VERDICTS} SELECT line, kind, external_id, other_line, COUNT(*) OVER () "
                f"FROM verdicts WHERE {bad} ORDER BY line LIMIT %(limit)s",
                params,
            )
            rows = cursor.fetchall()
            skipped = 0
            if skip_existing:
                cursor.execute(
                    f"{_VERDICTS} SELECT COUNT(*) FROM verdicts WHERE kind = 'stored'", params
                )
                skipped = cursor.fetchone()[0]
        found = [Problem(line, kind, ext, other) for line, kind, ext, other, _ in rows]
        return found, (rows[0][4] if rows else 0), skipped

    def insert(self, *, campaign_id: int, now: datetime) -> tuple[int, int | None, int | None]:
        """Every staged row not already in the campaign into the prompt table, in file order,
        unrendered; (count, first id, last id). Call inside the import's transaction."""
        assert transaction.get_connection().in_atomic_block
        self.flush()
        jsonb = "::jsonb" if self._postgres else ""
        select = f"""
            SELECT %(campaign)s, s.external_id, s.messages{jsonb}, s.system, s.metadata{jsonb},
                   s.content_hash, '[]'{jsonb}, %(now)s
            FROM {_TABLE} s
            WHERE NOT EXISTS (
                SELECT 1 FROM {P} p
                WHERE p.{P.campaign_id} = %(campaign)s AND p.{P.content_hash} = s.content_hash
            )
            ORDER BY s.line
        """
        columns = P.cols(
            "campaign_id", "external_id", "messages", "system", "metadata", "content_hash",
            "rendered", "created_at",
        )  # fmt: skip
        insert = f"INSERT INTO {P} ({columns}) {select}"
        params = {"campaign": campaign_id, "now": now}
        with self._tuned(), connection.cursor() as cursor:
            if self._postgres:
                cursor.execute(
                    f"WITH added AS ({insert} RETURNING {P.id}) "
                    "SELECT COUNT(*), MIN(id), MAX(id) FROM added",
                    params,
                )
                return tuple(cursor.fetchone())
            # SQLite: the write lock is held from BEGIN IMMEDIATE, so the new ids are exactly
            # those above the largest before the INSERT (AUTOINCREMENT never reuses one).
            cursor.execute(f"SELECT COALESCE(MAX({P.id}), 0) FROM {P}")
            before = cursor.fetchone()[0]
            cursor.execute(insert, params)
            cursor.execute(
                f"SELECT COUNT(*), MIN({P.id}), MAX({P.id}) FROM {P} WHERE {P.id} > %s", [before]
            )
            return tuple(cursor.fetchone())
