"""The one sweep: work whose holder died, or whose message was lost, is sent again, for every kind.

Nobody has to press "Resume". A worker killed with ``kill -9`` takes its unacknowledged messages
with it (Redis gives them back only after its visibility timeout, an hour), and a broker restarted
without persistence comes back empty; the database still knows what is left. Some serving process
runs ``work_sweep`` about every ``WORK_SWEEP_SECONDS`` (workers.py: a lease in the database, so no
single scheduler has to survive). For every active job of every kind (an export is its own job),
with the job's row locked so that a sweep and an admin's Resume or Cancel take turns:

* RUNNING rows whose holder stopped beating (``claims.abandoned``) go back to PENDING and are sent
  again: within ``WORK_DEAD_AFTER_SECONDS`` plus about one and a half sweep periods of the kill.
  So do RUNNING rows claimed longer ago than the kind's stale window (a hung holder, or one that had
  no heartbeat). A row whose holder died ``max_attempts`` times fails instead, visibly. Each such
  recovery is recorded (``WorkRecovery``) for the progress pages.
* When a process is newly found dead, the messages it had received without claiming their rows
  died with it too: the retries it held until their countdown (PENDING rows handed back after an
  error) and the few it had prefetched (rows never claimed that the queue has moved past: below the
  job's highest claimed id). Those are sent again, once.
* PENDING rows handed back longer ago than the stale window lost their retry message: sent again.
* PENDING rows never claimed may be waiting their turn on a long queue, so they are sent again only
  when the whole job has been silent (nothing claimed, handed back or finished) for that window.
* A job with nothing PENDING or RUNNING left is ended (its last writer may have died first).

Rows held by a submitted Message Batch are left to it; ``batches.sweep_job`` settles submissions
whose batch id was lost and polls whose message was. Every row sent again gets ``claimed_at = now``
as a mark, so later sweeps leave it alone for another window. Duplicates are harmless anyway: the
claim is a conditional UPDATE, so a second message for a row finds nothing to claim.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from annotate.work import batches, claims, workers
from annotate.work.kinds import Kind, all_batch_kinds, all_kinds

log = logging.getLogger(__name__)

# A dead process's row is kept this long after its work was recovered (for the progress notices).
FORGET_LOST_WORKERS_AFTER = timedelta(hours=1)


@dataclass
class SweepResult:
    resent: Counter = field(default_factory=Counter)  # kind name -> rows sent again
    ended: Counter = field(default_factory=Counter)  # kind name -> jobs ended
    failed: Counter = field(default_factory=Counter)  # kind name -> rows given up
    lost_workers: list[int] = field(default_factory=list)


def work_sweep(*, kinds: tuple[Kind, ...] | None = None) -> SweepResult:
    from annotate.models import WorkerProcess

    now = timezone.now()
    result = SweepResult()
    lost = WorkerProcess.objects.filter(
        beat_at__lt=now - workers.dead_after(), lost_at__isnull=True
    )
    result.lost_workers = list(lost.values_list("id", flat=True))
    someone_died = bool(result.lost_workers)
    for kind in kinds or all_kinds():
        jobs = kind.active_jobs()
        if kind.job_model is None:
            jobs = jobs.filter(_worth_a_look(kind, now=now, someone_died=someone_died))
        for job_id in list(jobs.values_list("id", flat=True)):
            _sweep_job(kind, job_id, now=now, someone_died=someone_died, out=result)
    for spec in all_batch_kinds():
        if kinds is None or spec.kind in kinds:
            for job in spec.kind.active_jobs().exclude(provider_batch_ids=[]):
                batches.sweep_job(spec, job, now=now, someone_died=bool(result.lost_workers))
    WorkerProcess.objects.filter(id__in=result.lost_workers).update(lost_at=now)
    WorkerProcess.objects.filter(lost_at__lt=now - FORGET_LOST_WORKERS_AFTER).delete()
    if result.resent or result.ended or result.failed or result.lost_workers:
        log.info(
            "work sweep: %s lost workers; sent again %s; ended %s; gave up %s",
            len(result.lost_workers),
            dict(result.resent),
            dict(result.ended),
            dict(result.failed),
        )
    return result


def _worth_a_look(kind: Kind, *, now: datetime, someone_died: bool) -> Q:
    """For a kind whose rows are their own jobs: every row ``_sweep_job`` could act on (a few more,
    never fewer), found in one query. Hundreds of live replies streaming at once are hundreds of
    busy jobs; looking at each in turn cost five queries a row every sweep, in the worker whose
    threads were streaming."""
    cutoff = now - kind.stale_after()
    pending = Q(claimed_at__lt=cutoff) | Q(claimed_at=None, **{f"{kind.created_field}__lt": cutoff})
    if someone_died:
        pending |= Q(claimed_at__isnull=False)
    return claims.abandoned(kind, now) | (Q(status=kind.pending) & pending)


def _sweep_job(kind: Kind, job_id: int, *, now: datetime, someone_died: bool, out) -> None:
    from annotate.models import WorkRecovery

    if kind.job_model is not None and claims.finish_if_complete(kind, job_id):
        out.ended[kind.name] += 1
        return
    owner = kind.job_model or kind.model
    with transaction.atomic():
        job = owner.objects.select_for_update().filter(id=job_id, status__in=kind.job_active)
        job = job.first()
        if job is None:
            return
        rows = kind.rows(job_id)
        if kind.batched:
            rows = rows.exclude(batches.held_by_batches(kind, job))
        cutoff = now - kind.stale_after()
        taken = claims.abandoned(kind, now)
        lost = Q(status=kind.pending, claimed_at__lt=cutoff)
        if someone_died:
            lost |= Q(status=kind.pending, claimed_at__isnull=False)
            frontier = rows.exclude(claimed_at=None).aggregate(top=Max("id"))["top"]
            if frontier is not None:
                lost |= Q(status=kind.pending, claimed_at=None, id__lt=frontier)
        if silent_since(rows, getattr(job, "started_at", None), job.created_at) < cutoff:
            lost |= Q(status=kind.pending, claimed_at=None)

        dead = list(rows.filter(taken).values_list("id", "attempts", "claimed_by"))
        spent = [row_id for row_id, attempts, _ in dead if attempts >= kind.max_attempts]
        back = [row_id for row_id, attempts, _ in dead if attempts < kind.max_attempts]
        # Guarded like every other write: a row finished or claimed meanwhile is not touched.
        given_up = spent and rows.filter(id__in=spent).filter(taken).update(
            status=kind.failed, error=gave_up_message(kind), finished_at=now
        )
        if back:
            rows.filter(id__in=back).filter(taken).update(status=kind.pending, claimed_at=now)
        resend = list(rows.filter(lost).exclude(id__in=back).values_list("id", flat=True))
        if resend:
            rows.filter(id__in=resend, status=kind.pending).update(claimed_at=now)
        if dead:
            holders = [w for _, _, w in dead if w is not None]
            WorkRecovery.objects.create(
                kind=kind.name,
                job_id=job_id,
                worker_id=holders[0] if holders else None,
                rows=len(dead),
                at=now,
            )
        ids = back + resend
        if ids:
            kind.send(job if kind.job_model is not None else None, ids)
    if ids:
        out.resent[kind.name] += len(ids)
        log.info("%s job %s: %s sent again by the sweep", kind.name, job_id, len(ids))
    if given_up:
        out.failed[kind.name] += given_up
        claims.job_failed_row(kind, job_id if kind.job_model else None, gave_up_message(kind))
        if kind.on_given_up is not None:
            failed = kind.rows(job_id).filter(id__in=spent, status=kind.failed)
            kind.on_given_up(list(failed.values_list("id", flat=True)), gave_up_message(kind))


def gave_up_message(kind: Kind) -> str:
    return (
        f"Gave up after {kind.max_attempts} attempts: the worker holding it stopped each time "
        "(killed, out of memory, or over the time limit)."
    )


def silent_since(rows: QuerySet, *moments: datetime | None) -> datetime:
    """When a job last showed life: the latest claim, hand-back or finish among its ``rows``, or the
    job's own ``moments`` (its creation, its start)."""
    latest = rows.aggregate(claimed=Max("claimed_at"), finished=Max("finished_at"))
    return max(m for m in (latest["claimed"], latest["finished"], *moments) if m is not None)
