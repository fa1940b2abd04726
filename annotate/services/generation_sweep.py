"""The periodic sweep: generation work whose message was lost comes back without anyone pressing
"Resume".

Messages get lost. A worker killed with ``kill -9`` takes its unacknowledged messages with it (the
tasks it was running and the retries it was holding until their countdown); Redis gives them back
only after the visibility timeout, an hour. A broker restarted without persistence comes back
empty. The database still knows what is left to do, so ``generation_sweep`` (``celery beat`` runs it
every ``GENERATION_SWEEP_SECONDS``) looks at every queued or running job:

* RUNNING rows claimed longer than ``stale_after()`` ago belong to a dead worker (the window exceeds
  the longest a live call may take). They go back to PENDING, guarded by their claim stamp, and are
  sent again. Rows inside a submitted Message Batch wait for hours by design and are left alone.
* PENDING rows claimed before (a retryable error handed them back) whose retry has not come in that
  window lost their retry message: sent again.
* PENDING rows never claimed may simply be waiting their turn on a long queue, so they are sent
  again only when the whole job has been silent (nothing claimed, handed back or finished) for
  that window.
* A Message Batch submission whose batch id never came back (its worker died around the call) is
  settled by ``generation_batches.batches_recover``: the provider's batch is found, or the rows are
  submitted again.
* A job with nothing PENDING or RUNNING left is ended (its last writer may have died first).

Every row sent again gets ``claimed_at = now`` as a mark, so later sweeps leave it alone for another
window. Duplicates are harmless anyway: the claim is a conditional UPDATE, so a second message for
the same row finds nothing to claim and the provider is not called twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from annotate.models import Candidate, GenerationJob, Generator
from annotate.services.generation import (
    ACTIVE,
    generation_enqueue,
    generation_job_finish_if_complete,
    stale_after,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepResult:
    jobs: int = 0
    resent: int = 0  # rows sent again (stale claims and lost PENDING rows)
    ended: int = 0  # jobs ended because nothing was left to do


def generation_sweep() -> SweepResult:
    jobs = resent = ended = 0
    for job_id in GenerationJob.objects.filter(status__in=ACTIVE).values_list("id", flat=True):
        jobs += 1
        if generation_job_finish_if_complete(job_id=job_id):
            ended += 1
            continue
        resent += _sweep_job(job_id)
    if resent or ended:
        log.info("generation sweep: %s rows sent again, %s jobs ended", resent, ended)
    return SweepResult(jobs=jobs, resent=resent, ended=ended)


def _sweep_job(job_id: int) -> int:
    now = timezone.now()
    cutoff = now - stale_after()
    with transaction.atomic():
        # The job row is locked so a sweep and an admin's Resume or Cancel take turns.
        job = GenerationJob.objects.select_for_update().filter(id=job_id).first()
        if job is None or not job.is_active:
            return 0
        rows = Candidate.objects.filter(job=job)
        dead = rows.filter(status=Candidate.Status.RUNNING, claimed_at__lt=cutoff)
        open_batches = _open_batch_stamps(job)
        if open_batches:
            dead = dead.exclude(
                generator__provider=Generator.Provider.ANTHROPIC, claimed_at__in=open_batches
            )
        lost = Q(status=Candidate.Status.PENDING, claimed_at__lt=cutoff)
        if silent_since(rows, job.started_at, job.created_at) < cutoff:
            lost |= Q(status=Candidate.Status.PENDING, claimed_at__isnull=True)
        ids = [
            *dead.values_list("id", flat=True),
            *rows.filter(lost).values_list("id", flat=True),
        ]
        if _lost_submissions(job, cutoff):
            from annotate import tasks

            transaction.on_commit(lambda: tasks.generation_batch_recover_task.delay(job_id=job_id))
        if not ids:
            return 0
        # Guarded like every other write: a row someone claimed or finished meanwhile is not touched.
        rows.filter(id__in=ids).filter(
            Q(status=Candidate.Status.RUNNING, claimed_at__lt=cutoff)
            | Q(status=Candidate.Status.PENDING)
        ).update(status=Candidate.Status.PENDING, claimed_at=now)
        generation_enqueue(job=job, candidate_ids=ids)
    log.info("generation job %s: %s rows sent again by the sweep", job_id, len(ids))
    return len(ids)


def _open_batch_stamps(job: GenerationJob) -> list[datetime]:
    """Claim stamps of the job's submitted, not yet collected Message Batches."""
    return [
        datetime.fromisoformat(entry["claimed_at"])
        for entry in job.provider_batch_ids
        if isinstance(entry, dict) and not entry.get("collected")
    ]


def _lost_submissions(job: GenerationJob, cutoff: datetime) -> bool:
    """A batch submission recorded before its call whose id never came back within the window
    (generation_batches.batches_recover settles it: find the batch, or submit again)."""
    return any(
        isinstance(entry, dict)
        and entry.get("id") is None
        and datetime.fromisoformat(entry["claimed_at"]) < cutoff
        for entry in job.provider_batch_ids
    )


def silent_since(rows: QuerySet, *moments: datetime | None) -> datetime:
    """When a job last showed life: the latest claim, hand-back or finish among its ``rows`` (any
    model with ``claimed_at`` and ``finished_at``), or the job's own ``moments`` (its start)."""
    latest = rows.aggregate(claimed=Max("claimed_at"), finished=Max("finished_at"))
    return max(m for m in (latest["claimed"], latest["finished"], *moments) if m is not None)
