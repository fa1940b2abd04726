"""Cheap mode: Anthropic Message Batches (half price, results within 24 hours).

Submitting, polling, collecting and recovering a submission whose batch id was lost are
annotate/work/batches.py's, for every kind. What is generation's own:

* a batch holds the PENDING Anthropic candidates of one generator, ``GENERATION_BATCH_CHUNK`` at
  most, each request's ``custom_id`` the candidate id; the entry on the job records the generator;
* a result line is a completion written at half price, a cancelled row, or an error: retryable
  items and expired ones (and any the results file leaves out) go back to PENDING and into a new
  batch, up to the kind's attempts; the rest fail with the API's message, visible on the job;
* cancelling a job asks the provider to cancel its open batches (their results still arrive).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from annotate.endpoints import generator_provider
from annotate.models import Candidate, GenerationJob, Generator
from annotate.providers.base import BatchRequest, ProviderError
from annotate.services.generation import CANDIDATES, candidate_record_completion, request_for
from annotate.work import batches, claims
from annotate.work.batches import BatchKind, Submitted

log = logging.getLogger(__name__)


def _chunk_size() -> int:
    return int(getattr(settings, "GENERATION_BATCH_CHUNK", 10_000))  # API limit: 100,000 / 256 MB


def _generators(job: GenerationJob) -> list[Generator]:
    ids = _anthropic_pending(job).order_by().values_list("generator_id", flat=True).distinct()
    return list(Generator.objects.filter(id__in=list(ids)))


def _anthropic_pending(job: GenerationJob):
    return Candidate.objects.filter(
        job=job,
        status=Candidate.Status.PENDING,
        generator__provider=Generator.Provider.ANTHROPIC,
    )


def _submit(provider, job: GenerationJob, ids: list[int]) -> str:
    rows = Candidate.objects.filter(id__in=ids).select_related("prompt", "generator").order_by("id")
    return provider.batch_submit(
        [BatchRequest(custom_id=str(c.id), **request_for(c)) for c in rows]
    )


def _collect(job: GenerationJob, token, results: list) -> bool:
    """Write each result to its candidate; True if some went back to PENDING for another batch."""
    by_id = {c.id: c for c in batches.rows_of(CANDIDATES, job, token).select_related("generator")}
    resubmit = False
    for result in results:
        try:
            candidate = by_id.pop(int(result.custom_id))
        except (KeyError, ValueError):
            continue  # not ours, or already written
        if result.completion is not None:
            candidate_record_completion(
                candidate=candidate, token=token, completion=result.completion, batch=True
            )
        elif result.kind == "canceled":
            claims.held(CANDIDATES, candidate.id, token).update(
                status=Candidate.Status.CANCELLED, error=result.error.message
            )
        else:
            outcome = claims.record_error(
                CANDIDATES, candidate.id, token, result.error, job_id=job.id
            )
            resubmit |= outcome.status == "retry"
    # A request the results file does not mention is treated as expired: try it again.
    missing = ProviderError("Missing from the batch results.", retryable=True)
    for candidate in by_id.values():
        outcome = claims.record_error(CANDIDATES, candidate.id, token, missing, job_id=job.id)
        resubmit |= outcome.status == "retry"
    return resubmit


BATCHES = BatchKind(
    kind=CANDIDATES,
    groups=_generators,
    pending=lambda job, generator: _anthropic_pending(job).filter(generator=generator),
    entry_key=lambda generator: {"generator": generator.id},
    group_of=lambda job, entry: Generator.objects.get(id=entry["generator"]),
    provider=lambda job, generator: generator_provider(generator),
    submit=_submit,
    results=lambda provider, batch_id: provider.batch_results(batch_id),
    collect=_collect,
    tasks=(
        "generation_batch_submit_task",
        "generation_batch_poll_task",
        "generation_batch_recover_task",
    ),
    poll_setting="GENERATION_BATCH_POLL_SECONDS",
    chunk=_chunk_size,
)


def batches_submit(*, job_id: int) -> Submitted:
    """Submit every PENDING Anthropic candidate of the job, one generator at a time."""
    return batches.submit(BATCHES, job_id=job_id)


def batch_poll(*, job_id: int, batch_id: str) -> float | None:
    """Seconds until the next poll, or None when this batch is finished with."""
    return batches.poll(BATCHES, job_id=job_id, batch_id=batch_id)


def batches_recover(*, job_id: int) -> int:
    return batches.recover(BATCHES, job_id=job_id)


def batches_cancel_on_commit(*, job: GenerationJob) -> None:
    """Ask the provider to cancel the job's open batches; their results still arrive (canceled
    items become CANCELLED, items that finished first are kept)."""
    from annotate import tasks

    for entry in batches.open_entries(job):
        if entry.get("id"):
            batch_id = entry["id"]
            transaction.on_commit(
                lambda b=batch_id: tasks.generation_batch_cancel_task.delay(
                    job_id=job.id, batch_id=b
                )
            )


def batch_cancel(*, job_id: int, batch_id: str) -> None:
    job = GenerationJob.objects.filter(id=job_id).first()
    entry = batches.entry_for(job, batch_id) if job else None
    if entry is None or entry.get("collected"):
        return
    try:
        generator_provider(Generator.objects.get(id=entry["generator"])).batch_cancel(batch_id)
    except ProviderError as exc:
        log.warning("could not cancel batch %s: %s", batch_id, exc)
