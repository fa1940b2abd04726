"""Cheap mode: Anthropic Message Batches (half price, results within 24 hours).

``batches_submit`` claims a job's PENDING Anthropic candidates in chunks (the same conditional UPDATE
as fast mode, one claim stamp per chunk), submits each chunk as one batch with ``custom_id`` = the
candidate id, and records ``{"id", "generator", "claimed_at", "size"}`` in ``job.provider_batch_ids``.
A poll task re-schedules itself until the batch has ended, then maps every result line back to its
candidate by ``custom_id`` and writes it under the chunk's claim stamp (so nothing is written twice).
Errored items with a retryable error type and expired items go back to PENDING and into a new batch,
up to ``MAX_ATTEMPTS``; the rest fail with the API's message, visible on the job.

The entry is recorded before ``batches.create`` with no id, and gets its id when the call returns.
A worker that dies in between leaves an entry without an id and its rows RUNNING; once that is older
than ``stale_after()``, ``batches_recover`` (asked for by the periodic sweep and by Resume) looks
for the batch among the provider's recent ones (same size, created since the stamp) and polls it,
or, if there is none, sends the rows to a new batch. Either way the rows are paid for once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from annotate.endpoints import generator_provider
from annotate.models import Candidate, GenerationJob, Generator
from annotate.providers.base import BatchRequest, ProviderError
from annotate.services.generation import (
    candidate_record_completion,
    candidate_record_error,
    generation_job_finish_if_complete,
    request_for,
    stale_after,
)

log = logging.getLogger(__name__)


def _chunk_size() -> int:
    return int(getattr(settings, "GENERATION_BATCH_CHUNK", 10_000))  # API limit: 100,000 / 256 MB


def _poll_seconds() -> float:
    return float(getattr(settings, "GENERATION_BATCH_POLL_SECONDS", 30))


def _enqueue_poll(job_id: int, batch_id: str, countdown: float) -> None:
    from annotate import tasks

    transaction.on_commit(
        lambda: tasks.generation_batch_poll_task.apply_async(
            kwargs={"job_id": job_id, "batch_id": batch_id}, countdown=countdown
        )
    )


def batches_submit(*, job_id: int) -> int:
    """Submit every PENDING Anthropic candidate of the job; returns how many batches were created."""
    job = GenerationJob.objects.filter(id=job_id).first()
    if job is None or not job.is_active:
        return 0
    created = 0
    generator_ids = (
        Candidate.objects.filter(
            job=job,
            status=Candidate.Status.PENDING,
            generator__provider=Generator.Provider.ANTHROPIC,
        )
        .values_list("generator_id", flat=True)
        .distinct()
    )
    for generator in Generator.objects.filter(id__in=list(generator_ids)):
        while _submit_chunk(job=job, generator=generator):
            created += 1
    generation_job_finish_if_complete(job_id=job.id)
    return created


def _submit_chunk(*, job: GenerationJob, generator: Generator) -> bool:
    ids = list(
        Candidate.objects.filter(job=job, generator=generator, status=Candidate.Status.PENDING)
        .order_by("id")
        .values_list("id", flat=True)[: _chunk_size()]
    )
    if not ids:
        return False
    token = timezone.now()
    Candidate.objects.filter(id__in=ids, status=Candidate.Status.PENDING).update(
        status=Candidate.Status.RUNNING, claimed_at=token, attempts=F("attempts") + 1
    )
    GenerationJob.objects.filter(id=job.id, status=GenerationJob.Status.QUEUED).update(
        status=GenerationJob.Status.RUNNING, started_at=token
    )
    claimed = list(
        Candidate.objects.filter(id__in=ids, status=Candidate.Status.RUNNING, claimed_at=token)
        .select_related("prompt", "generator")
        .order_by("id")
    )
    if not claimed:
        return True  # someone else took them; look again
    requests = [BatchRequest(custom_id=str(c.id), **request_for(c)) for c in claimed]
    # Recorded before the call, without an id: if this worker dies after the provider has accepted
    # the batch but before its id is stored, the recovery finds that batch instead of paying again.
    _update_entries(job.id, lambda entries: [*entries, _entry(generator, token, len(claimed))])
    try:
        provider = generator_provider(generator)
        batch_id = provider.batch_submit(requests)
    except ProviderError as exc:
        _update_entries(job.id, lambda entries: [e for e in entries if not _unsent(e, token)])
        # Submission is all-or-nothing: every claimed row shares the error (retried or failed).
        for candidate in claimed:
            candidate_record_error(candidate=candidate, token=token, error=exc)
        if exc.retryable:
            from annotate import tasks

            delay = max(exc.retry_after or 0.0, 5.0)
            transaction.on_commit(
                lambda: tasks.generation_batch_submit_task.apply_async(
                    kwargs={"job_id": job.id}, countdown=delay
                )
            )
            return False  # the rest waits for the retry
        return True  # those rows failed; the next chunk gets its own answer
    with transaction.atomic():
        _update_entries(
            job.id,
            lambda entries: [{**e, "id": batch_id} if _unsent(e, token) else e for e in entries],
        )
        _enqueue_poll(job.id, batch_id, _poll_seconds())
    log.info("job %s: submitted batch %s with %s requests", job.id, batch_id, len(claimed))
    return True


def _entry(generator: Generator, token: datetime, size: int) -> dict:
    return {"id": None, "generator": generator.id, "claimed_at": token.isoformat(), "size": size}


def _unsent(entry, token: datetime | None = None) -> bool:
    """An entry recorded before its submission whose batch id never came back (yet)."""
    return (
        isinstance(entry, dict)
        and entry.get("id") is None
        and (token is None or entry.get("claimed_at") == token.isoformat())
    )


def _update_entries(job_id: int, change) -> None:
    with transaction.atomic():
        locked = GenerationJob.objects.select_for_update().get(id=job_id)
        locked.provider_batch_ids = change(list(locked.provider_batch_ids))
        locked.save(update_fields=["provider_batch_ids"])


def batches_recover(*, job_id: int) -> int:
    """Settle the job's submissions whose answer was lost (their worker died between the provider's
    reply and storing the batch id; the rows wait RUNNING under the entry's stamp). Once such an
    entry is older than ``stale_after()``: if the provider has a batch of that size created since
    the stamp, it is ours, so record its id and poll it; if not, the submission never arrived, so
    its rows go back to PENDING for a new batch. Returns how many entries were settled."""
    job = GenerationJob.objects.filter(id=job_id).first()
    if job is None or not job.is_active:
        return 0
    cutoff = timezone.now() - stale_after()
    settled = 0
    for entry in [e for e in job.provider_batch_ids if _unsent(e)]:
        token = datetime.fromisoformat(entry["claimed_at"])
        if token >= cutoff:
            continue  # its worker may still be waiting for the provider's reply
        known = {e["id"] for e in job.provider_batch_ids if isinstance(e, dict) and e.get("id")}
        provider = generator_provider(Generator.objects.get(id=entry["generator"]))
        # A minute of slack for the provider's clock against ours.
        found = provider.batch_find(
            size=entry["size"], created_from=token - timedelta(minutes=1), exclude=known
        )
        with transaction.atomic():
            if found is not None:
                _update_entries(
                    job.id,
                    lambda entries, f=found, t=token: [
                        {**e, "id": f} if _unsent(e, t) else e for e in entries
                    ],
                )
                _enqueue_poll(job.id, found, 0)
                log.info("job %s: found batch %s of a lost submission", job.id, found)
            else:
                _update_entries(
                    job.id,
                    lambda entries, t=token: [e for e in entries if not _unsent(e, t)],
                )
                Candidate.objects.filter(
                    job=job, status=Candidate.Status.RUNNING, claimed_at=token
                ).update(status=Candidate.Status.PENDING, claimed_at=None)
                from annotate import tasks

                transaction.on_commit(
                    lambda: tasks.generation_batch_submit_task.delay(job_id=job.id)
                )
                log.info("job %s: a lost submission never reached the provider", job.id)
        settled += 1
    return settled


def _batch_entry(job: GenerationJob, batch_id: str | None) -> dict | None:
    for entry in job.provider_batch_ids:
        if batch_id and isinstance(entry, dict) and entry.get("id") == batch_id:
            return entry
    return None


def batch_poll(*, job_id: int, batch_id: str) -> float | None:
    """Check one batch; when it has ended, write its results. Returns seconds until the next poll,
    or None when this batch is finished with."""
    job = GenerationJob.objects.filter(id=job_id).first()
    entry = _batch_entry(job, batch_id) if job else None
    if entry is None or entry.get("collected"):
        return None  # a redelivered poll after collection: nothing to do
    generator = Generator.objects.get(id=entry["generator"])
    token = datetime.fromisoformat(entry["claimed_at"])
    try:
        provider = generator_provider(generator)
        status = provider.batch_status(batch_id)
        if not status.ended:
            return _poll_seconds()
        results = list(provider.batch_results(batch_id))
    except ProviderError as exc:
        if exc.retryable:
            return max(exc.retry_after or 0.0, _poll_seconds())
        _fail_batch(job=job, batch_id=batch_id, token=token, error=exc)
        return None
    resubmit = _collect(job=job, token=token, results=results)
    with transaction.atomic():
        locked = GenerationJob.objects.select_for_update().get(id=job.id)
        locked.provider_batch_ids = [
            {**e, "collected": True} if isinstance(e, dict) and e.get("id") == batch_id else e
            for e in locked.provider_batch_ids
        ]
        locked.save(update_fields=["provider_batch_ids"])
        if resubmit and locked.is_active:
            from annotate import tasks

            transaction.on_commit(lambda: tasks.generation_batch_submit_task.delay(job_id=job.id))
    generation_job_finish_if_complete(job_id=job.id)
    return None


def _collect(*, job: GenerationJob, token: datetime, results: list) -> bool:
    """Write each result to its candidate; True if some went back to PENDING for another batch."""
    by_id = {
        c.id: c
        for c in Candidate.objects.filter(
            job=job, status=Candidate.Status.RUNNING, claimed_at=token
        ).select_related("generator")
    }
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
            Candidate.objects.filter(
                id=candidate.id, status=Candidate.Status.RUNNING, claimed_at=token
            ).update(status=Candidate.Status.CANCELLED, error=result.error.message)
        else:
            outcome = candidate_record_error(candidate=candidate, token=token, error=result.error)
            resubmit |= outcome.status == "retry"
    # A request the results file does not mention is treated as expired: try it again.
    for candidate in by_id.values():
        outcome = candidate_record_error(
            candidate=candidate,
            token=token,
            error=ProviderError("Missing from the batch results.", retryable=True),
        )
        resubmit |= outcome.status == "retry"
    return resubmit


def _fail_batch(
    *, job: GenerationJob, batch_id: str, token: datetime, error: ProviderError
) -> None:
    for candidate in Candidate.objects.filter(
        job=job, status=Candidate.Status.RUNNING, claimed_at=token
    ):
        candidate_record_error(
            candidate=candidate,
            token=token,
            error=ProviderError(f"Batch {batch_id}: {error.message}", retryable=False),
        )


def batches_cancel_on_commit(*, job: GenerationJob) -> None:
    """Ask the provider to cancel the job's open batches; their results still arrive (canceled
    items become CANCELLED, items that finished first are kept)."""
    from annotate import tasks

    for entry in job.provider_batch_ids:
        if isinstance(entry, dict) and entry.get("id") and not entry.get("collected"):
            batch_id = entry["id"]
            transaction.on_commit(
                lambda b=batch_id: tasks.generation_batch_cancel_task.delay(
                    job_id=job.id, batch_id=b
                )
            )


def batches_poll_on_commit(*, job: GenerationJob) -> None:
    """After a resume: poll every batch not yet collected (a poll lost with a dead worker), and
    settle submissions whose batch id was never stored."""
    from annotate import tasks

    for entry in job.provider_batch_ids:
        if isinstance(entry, dict) and entry.get("id") and not entry.get("collected"):
            _enqueue_poll(job.id, entry["id"], 0)
    if any(_unsent(e) for e in job.provider_batch_ids):
        transaction.on_commit(lambda: tasks.generation_batch_recover_task.delay(job_id=job.id))


def batch_cancel(*, job_id: int, batch_id: str) -> None:
    job = GenerationJob.objects.filter(id=job_id).first()
    entry = _batch_entry(job, batch_id) if job else None
    if entry is None or entry.get("collected"):
        return
    try:
        generator_provider(Generator.objects.get(id=entry["generator"])).batch_cancel(batch_id)
    except ProviderError as exc:
        log.warning("could not cancel batch %s: %s", batch_id, exc)
