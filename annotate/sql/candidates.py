"""Stored reading lengths (Candidate.read_length) written for many candidates at once: the
backfill of migration 0026 and the recompute's measure of the rows written without one
(services/campaign_stats.candidates_measure).

One statement per batch: on PostgreSQL an UPDATE … FROM unnest(ids, lengths), elsewhere an UPDATE
per distinct length. The ORM's bulk_update (a CASE of one WHEN per row) took 150 µs of CPU per
row, 60 s for 400,000 candidates; the measure itself takes 12 µs. A length is written only where
none is stored, so a writer that stored the new text's length meanwhile keeps it. No model
import: the migration uses it as it is.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

TABLE = "annotate_candidate"


def read_lengths_write(connection, lengths: Sequence[tuple[int, int]]) -> int:
    """Store (candidate id, reading length) where the candidate has none; returns rows written."""
    if not lengths:
        return 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {TABLE} AS c SET read_length = v.length "
                "FROM unnest(%s::bigint[], %s::integer[]) AS v(id, length) "
                "WHERE c.id = v.id AND c.read_length IS NULL",
                [[cid for cid, _ in lengths], [n for _, n in lengths]],
            )
            return cursor.rowcount
        by_length: dict[int, list[int]] = defaultdict(list)
        for cid, n in lengths:
            by_length[n].append(cid)
        written = 0
        for n, ids in by_length.items():
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                cursor.execute(
                    f"UPDATE {TABLE} SET read_length = %s "
                    f"WHERE read_length IS NULL AND id IN ({', '.join(['%s'] * len(chunk))})",
                    [n, *chunk],
                )
                written += cursor.rowcount
        return written
