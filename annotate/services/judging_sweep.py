"""The periodic sweep for the AI judge's one-at-a-time work, the twin of ``generation_sweep``.

A judge verdict is claimed and written under the same rules as a candidate, so it is lost the
same ways: a worker killed with ``kill -9`` takes its messages (the verdicts it was running and the
retries it held), and a broker restarted empty forgets the queue. ``judge_sweep`` (``celery beat``
runs it with the generation sweep) looks at every queued or running judge job on the one-at-a-time
path:

* RUNNING verdicts claimed longer than ``stale_after()`` ago belong to a dead worker: back to
  PENDING (guarded on their claim stamp) and sent again;
* PENDING verdicts claimed before (a retryable error handed them back) whose retry has not come in
  that window lost their retry message: sent again;
* PENDING verdicts never claimed are sent again only when the whole job has been silent for that
  window (they may simply be waiting their turn on a long queue);
* a job with nothing PENDING or RUNNING left is ended.

Jobs on Anthropic's Message Batches are left alone: their own poll task owns them. Every verdict
sent again gets ``claimed_at = now`` as a mark, so later sweeps wait another window. A duplicate
message is harmless: the claim is a conditional UPDATE.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from annotate.models import JudgeConfig, JudgeJob, JudgeVerdict
from annotate.services.generation import stale_after
from annotate.services.generation_sweep import silent_since
from annotate.services.judging import judge_job_finish_if_complete, verdicts_send

log = logging.getLogger(__name__)

_ACTIVE = (JudgeJob.Status.QUEUED, JudgeJob.Status.RUNNING)


def judge_sweep() -> tuple[int, int]:
    """Returns (verdicts sent again, jobs ended)."""
    resent = ended = 0
    for job in JudgeJob.objects.filter(status__in=_ACTIVE):
        if _on_batches(job):
            continue
        if judge_job_finish_if_complete(job_id=job.id):
            ended += 1
            continue
        resent += _sweep_job(job.id)
    if resent or ended:
        log.info("judge sweep: %s verdicts sent again, %s jobs ended", resent, ended)
    return resent, ended


def _on_batches(job: JudgeJob) -> bool:
    cheap = job.mode == JudgeConfig.Mode.CHEAP
    return cheap and job.verdicts.filter(provider=JudgeConfig.Provider.ANTHROPIC).exists()


def _sweep_job(job_id: int) -> int:
    now = timezone.now()
    cutoff = now - stale_after()
    with transaction.atomic():
        # Locked, so two sweeps (or a sweep and a new judge job taking these verdicts over) take turns.
        job = JudgeJob.objects.select_for_update().filter(id=job_id, status__in=_ACTIVE).first()
        if job is None:
            return 0
        rows = JudgeVerdict.objects.filter(job=job)
        lost = Q(status=JudgeVerdict.Status.RUNNING, claimed_at__lt=cutoff) | Q(
            status=JudgeVerdict.Status.PENDING, claimed_at__lt=cutoff
        )
        if silent_since(rows, job.created_at) < cutoff:
            # The whole job has been silent: the never-claimed ones were lost too.
            lost |= Q(status=JudgeVerdict.Status.PENDING, claimed_at=None)
        ids = list(rows.filter(lost).values_list("id", flat=True))
        rows.filter(id__in=ids).filter(lost).update(
            status=JudgeVerdict.Status.PENDING, claimed_at=now
        )
        verdicts_send(ids)
    return len(ids)
