"""The generation hot path's statements, written as plain SQL.

Around each ~200 ms provider call a task claims its row (and reads the prompt, generator and job it
needs), writes the result under its claim, and asks whether anything is left in the job. Through the
ORM those steps took 2.6 ms of CPU per candidate (compiling the queries, building the model
instances), about a quarter of a worker's CPU per candidate in bench/generation.py, and on a worker
of 8 threads every such millisecond is paid several times over in waits for the GIL. Here:

* ``claim``: the conditional UPDATE and the read of prompt, generator and job in one PostgreSQL
  statement (0.2 ms of CPU instead of 1.6, one round trip instead of two). PostgreSQL only, because
  SQLite cannot put an UPDATE in a WITH; the ORM claim (``annotate.work.claims.claim``) serves SQLite.
* ``write_claimed``: the guarded UPDATE of a result (any backend).

The rules are annotate/work/claims.py's, and so is the claim's condition (``claimable_sql``): the
claim matches only a PENDING row or a RUNNING row whose holder is dead or whose claim is stale, and
a write matches only the row still RUNNING under its own claim stamp.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from django.db import connection

from annotate.sql import rows as raw_rows
from annotate.models import Candidate, GenerationJob, Generator, Prompt
from annotate.work import claims

_TABLE = Candidate._meta.db_table
_RUNNING = Candidate.Status.RUNNING


@cache
def _claim_sql() -> tuple[str, list[tuple[type, list]]]:
    """The statement, and per model the fields its columns come back in (in order)."""
    from annotate.services.generation import CANDIDATES

    aliases = {Candidate: "c", Prompt: "p", Generator: "g", GenerationJob: "j"}
    models = [(model, list(model._meta.concrete_fields)) for model in aliases]
    columns = ", ".join(
        f'{aliases[model]}."{f.column}"' for model, fields in models for f in fields
    )
    sql = f"""
        WITH c AS (
            UPDATE {_TABLE}
            SET status = %(running)s, claimed_at = %(now)s, claimed_by = %(worker)s,
                attempts = attempts + 1
            WHERE id = %(id)s AND {claims.claimable_sql(CANDIDATES)}
            RETURNING *
        )
        SELECT {columns}
        FROM c
        JOIN {Prompt._meta.db_table} p ON p.id = c.prompt_id
        JOIN {Generator._meta.db_table} g ON g.id = c.generator_id
        LEFT JOIN {GenerationJob._meta.db_table} j ON j.id = c.job_id
    """
    return sql, models


def claim(*, candidate_id: int, now: datetime) -> Candidate | None:
    """PENDING (or an abandoned RUNNING) -> RUNNING stamped ``now`` and this process's worker id,
    with prompt, generator and job loaded; None if the row is not claimable. PostgreSQL only."""
    from annotate.services.generation import CANDIDATES

    sql, models = _claim_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, {"id": candidate_id, **claims.claim_params(CANDIDATES, now)})
        row = cursor.fetchone()
    if row is None:
        return None
    objects, start = [], 0
    for model, fields in models:
        values = row[start : start + len(fields)]
        start += len(fields)
        names = [f.attname for f in fields]
        objects.append(None if values[0] is None else raw_rows.instance(model, names, values))
    candidate, prompt, generator, job = objects
    candidate.prompt, candidate.generator = prompt, generator
    if job is not None:
        candidate.job = job
    return candidate


def write_claimed(*, candidate_id: int, token: datetime, values: dict[str, Any]) -> bool:
    """UPDATE the row with ``values`` (field name -> value) if it is still RUNNING under ``token``."""
    fields = [Candidate._meta.get_field(name) for name in values]
    assignments = ", ".join(f'"{f.column}" = %s' for f in fields)
    params = [f.get_db_prep_save(values[f.name], connection) for f in fields]
    params += [candidate_id, _RUNNING, connection.ops.adapt_datetimefield_value(token)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_TABLE} SET {assignments} WHERE id = %s AND status = %s AND claimed_at = %s",
            params,
        )
        return cursor.rowcount == 1
