"""The generation hot path: a candidate's claim with what its task reads, its guarded write, and
"is any work left in the job?".

Around each ~200 ms provider call a task claims its row (and reads the prompt, generator and job it
needs), writes the result under its claim, and asks whether anything is left in the job. Through the
ORM those steps took 2.6 ms of CPU per candidate (compiling the queries, building the model
instances), about a quarter of a worker's CPU per candidate in bench/generation.py, and on a worker
of 8 threads every such millisecond is paid several times over in waits for the GIL (7af6acc).

The rules are annotate/work/claims.py's (``claims.claimable``, the Q this module's
``claimable_condition`` says in SQL): the claim matches only a PENDING row or a RUNNING row whose
holder is dead or whose claim is stale, and a write matches only the row still RUNNING under its
own claim stamp.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from django.db import connection

from annotate.models import Candidate, GenerationJob, Generator, Prompt, WorkerProcess
from annotate.sql import Table, rows
from annotate.work import workers
from annotate.work.kinds import Kind

C, W = Table(Candidate), Table(WorkerProcess)


def claimable_condition(kind: Kind) -> str:
    """``claims.claimable`` as a SQL condition on ``kind``'s table; its parameters come from
    ``claim_params``."""
    t = Table(kind.model)
    return (
        f"({t}.{t.status} = %(pending)s OR ({t}.{t.status} = %(running)s AND ("
        f"{t}.{t.claimed_at} < %(stale)s OR ({t}.{t.claimed_by} IS NOT NULL AND NOT EXISTS ("
        f"SELECT 1 FROM {W} w WHERE w.{W.id} = {t}.{t.claimed_by}"
        f" AND w.{W.beat_at} >= %(dead)s)))))"
    )


def claim_params(kind: Kind, now: datetime) -> dict[str, Any]:
    ops = connection.ops
    return {
        "pending": kind.pending,
        "running": kind.running,
        "stale": ops.adapt_datetimefield_value(now - kind.stale_after()),
        "dead": ops.adapt_datetimefield_value(now - workers.dead_after()),
        "now": ops.adapt_datetimefield_value(now),
        "worker": workers.current(),
    }


@cache
def _claim_sql(kind: Kind) -> tuple[str, list[tuple[type, list]]]:
    """The statement, and per model the fields its columns come back in (in order)."""
    aliases = {Candidate: "c", Prompt: "p", Generator: "g", GenerationJob: "j"}
    models = [(model, list(model._meta.concrete_fields)) for model in aliases]
    columns = ", ".join(
        f'{aliases[model]}."{f.column}"' for model, fields in models for f in fields
    )
    # The conditional UPDATE and the read of prompt, generator and job in one statement: claim
    # 10 -> 3 ms, 0.2 ms of CPU instead of 1.6, one round trip instead of two (7af6acc, measured in
    # bench/generation.py's 3,000-candidate steady run). PostgreSQL only: SQLite cannot put an
    # UPDATE in a WITH, and claims.claim (the ORM) serves it.
    sql = f"""
        WITH c AS (
            UPDATE {C}
            SET {C.status} = %(running)s, {C.claimed_at} = %(now)s,
                {C.claimed_by} = %(worker)s, {C.attempts} = {C.attempts} + 1
            WHERE {C.id} = %(id)s AND {claimable_condition(kind)}
            RETURNING *
        )
        SELECT {columns}
        FROM c
        JOIN {Table(Prompt)} p ON p.id = c.{C.prompt_id}
        JOIN {Table(Generator)} g ON g.id = c.{C.generator_id}
        LEFT JOIN {Table(GenerationJob)} j ON j.id = c.{C.job_id}
    """
    return sql, models


def claim(*, kind: Kind, candidate_id: int, now: datetime) -> Candidate | None:
    """PENDING (or an abandoned RUNNING) -> RUNNING stamped ``now`` and this process's worker id,
    with prompt, generator and job loaded; None if the row is not claimable. PostgreSQL only.
    ``kind`` is the candidates' (services.generation.CANDIDATES)."""
    sql, models = _claim_sql(kind)
    with connection.cursor() as cursor:
        cursor.execute(sql, {"id": candidate_id, **claim_params(kind, now)})
        row = cursor.fetchone()
    if row is None:
        return None
    objects, start = [], 0
    for model, fields in models:
        values = row[start : start + len(fields)]
        start += len(fields)
        names = [f.attname for f in fields]
        objects.append(None if values[0] is None else rows.instance(model, names, values))
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
    params += [
        candidate_id,
        Candidate.Status.RUNNING,
        connection.ops.adapt_datetimefield_value(token),
    ]
    # The result's write, guarded by the claim: 10 -> 4 ms per candidate (7af6acc, the same run),
    # the ORM's compile of a dozen-field UPDATE being most of it. Any backend.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {C} SET {assignments} "
            f"WHERE {C.id} = %s AND {C.status} = %s AND {C.claimed_at} = %s",
            params,
        )
        return cursor.rowcount == 1


def work_left(kind: Kind, job_id: int) -> bool:
    """Is any row of the job PENDING or RUNNING? Every writer of every kind asks after each write
    (claims.finish_if_complete): part of the 2.6 ms of ORM CPU per candidate above, so plain."""
    t = Table(kind.model)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {t} WHERE {getattr(t, kind.job_field)} = %s "
            f"AND {t.status} IN (%s, %s) LIMIT 1",
            [job_id, kind.pending, kind.running],
        )
        return cursor.fetchone() is not None
