"""Generation: turn (prompt × generator × sample index) into candidates, exactly once, observably.

The life of a candidate row is the whole protocol:

    pending --claim (conditional UPDATE)--> running --write (guarded UPDATE)--> done | failed
       ^                                        |
       +---- retryable error (backoff) ---------+         pending --cancel--> cancelled

* ``generation_start`` creates the PENDING rows a job lacks (``bulk_create(ignore_conflicts=True)``
  against the unique key), and enqueues one task per candidate on commit.
* ``candidate_generate`` (the task body) claims its row with a conditional UPDATE, so a redelivered
  or duplicated message finds nothing to claim; it calls the provider OUTSIDE any transaction and
  writes the result only if the row is still RUNNING with *its* claim stamp, so a late twin of a
  stale claim cannot overwrite the winner.
* Retries live here and only here (the SDK runs with ``max_retries=0``): a retryable error puts the row
  back to PENDING and tells the task to re-run after a backoff that honours ``retry-after``; after
  ``MAX_ATTEMPTS`` the row fails with the provider's message. Non-retryable errors fail at once.
* When a job has nothing PENDING or RUNNING it ends (done, or failed if nothing succeeded), and pairs
  are built for the campaign.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from annotate.endpoints import generator_provider_config
from annotate.markdown import render_markdown
from annotate.models import Campaign, Candidate, GenerationJob, Generator, User
from annotate.providers.base import Completion, ProviderError, Unsupported, provider_for
from annotate.services import generation_rows, pricing, ratelimit

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
MAX_BACKOFF_SECONDS = 60.0
ACTIVE = (GenerationJob.Status.QUEUED, GenerationJob.Status.RUNNING)
BUSY = (Candidate.Status.PENDING, Candidate.Status.RUNNING)


def stale_after() -> timedelta:
    """A RUNNING claim older than this belongs to a dead worker and may be taken over.

    It must exceed the task's hard time limit, or a live (slow) call could be claimed twice.
    """
    seconds = getattr(settings, "GENERATION_STALE_SECONDS", None)
    if seconds is None:
        seconds = settings.CELERY_TASK_TIME_LIMIT + 30
    return timedelta(seconds=float(seconds))


@dataclass(frozen=True)
class Outcome:
    status: str  # done | failed | retry | skipped
    retry_in: float | None = None


# --- starting, cancelling, resuming -----------------------------------------------------------


def generation_start(
    *,
    campaign: Campaign,
    actor: User | None,
    mode: str = GenerationJob.Mode.FAST,
    generators: list[Generator] | None = None,
) -> GenerationJob:
    """Create the missing candidates of a campaign and enqueue them. A second click while a job
    runs returns the running job instead of starting another."""
    if mode not in GenerationJob.Mode.values:
        raise ValueError(f"Unknown generation mode {mode!r}; use fast or cheap.")
    gens = [
        g
        for g in (generators if generators is not None else campaign.generators.all())
        if g.provider != Generator.Provider.IMPORTED and g.campaign_id == campaign.id
    ]
    with transaction.atomic():
        # Two admins clicking at once serialise on the campaign row; the second gets the first's job.
        Campaign.objects.select_for_update().filter(id=campaign.id).first()
        active = campaign.generation_jobs.filter(status__in=ACTIVE).first()
        if active is not None:
            return active
        prompt_ids = list(campaign.prompts.values_list("id", flat=True))
        job = GenerationJob.objects.create(campaign=campaign, mode=mode, created_by=actor)
        rows = [
            Candidate(prompt_id=pid, generator=g, sample_index=i, job=job)
            for g in gens
            for pid in prompt_ids
            for i in range(g.samples_per_prompt)
        ]
        Candidate.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
        # Earlier rows that never finished (failed, cancelled, orphaned) join this job.
        Candidate.objects.filter(
            generator__in=gens,
            prompt__campaign=campaign,
            status__in=(
                Candidate.Status.PENDING,
                Candidate.Status.FAILED,
                Candidate.Status.CANCELLED,
            ),
        ).exclude(job=job).update(job=job, status=Candidate.Status.PENDING, error="", attempts=0)
        job.total = Candidate.objects.filter(job=job).count()
        job.save(update_fields=["total"])
        Campaign.objects.filter(id=campaign.id, status=Campaign.Status.DRAFT).update(
            status=Campaign.Status.GENERATING
        )
        generation_enqueue(job=job)
    log.info("generation job %s: %s candidates (%s mode)", job.id, job.total, job.mode)
    return job


def generation_cancel(*, campaign: Campaign, actor: User | None) -> GenerationJob | None:
    """Stop a job: PENDING rows become CANCELLED (their queued tasks then find nothing to claim);
    calls already in flight finish and are kept, since they are paid for."""
    job = campaign.generation_jobs.filter(status__in=ACTIVE).first()
    if job is None:
        return None
    with transaction.atomic():
        updated = GenerationJob.objects.filter(id=job.id, status__in=ACTIVE).update(
            status=GenerationJob.Status.CANCELLED, finished_at=timezone.now()
        )
        if not updated:
            return job
        Candidate.objects.filter(job=job, status=Candidate.Status.PENDING).update(
            status=Candidate.Status.CANCELLED
        )
        Campaign.objects.filter(id=campaign.id, status=Campaign.Status.GENERATING).update(
            status=Campaign.Status.DRAFT
        )
        if job.provider_batch_ids:
            from annotate.services.generation_batches import batches_cancel_on_commit

            batches_cancel_on_commit(job=job)
    job.refresh_from_db()
    log.info("generation job %s cancelled by %s", job.id, actor)
    return job


def generation_resume(*, campaign: Campaign, actor: User | None) -> GenerationJob | None:
    """Pick up the latest job again: cancelled and failed rows, and RUNNING rows whose worker died
    (claim older than ``stale_after``), go back to PENDING and are enqueued. Done rows stay done."""
    job = campaign.generation_jobs.first()
    if job is None:
        return None
    stale = timezone.now() - stale_after()
    with transaction.atomic():
        job = GenerationJob.objects.select_for_update().get(id=job.id)
        dead = Q(status=Candidate.Status.RUNNING, claimed_at__lt=stale)
        if job.mode == GenerationJob.Mode.CHEAP:
            # Rows in a submitted batch wait for hours by design (their batch is polled again
            # below); only rows claimed for a batch that was never recorded are dead.
            open_batches = [
                datetime.fromisoformat(e["claimed_at"])
                for e in job.provider_batch_ids
                if isinstance(e, dict) and not e.get("collected")
            ]
            dead &= ~Q(
                generator__provider=Generator.Provider.ANTHROPIC, claimed_at__in=open_batches
            )
        Candidate.objects.filter(job=job).filter(
            Q(status__in=(Candidate.Status.FAILED, Candidate.Status.CANCELLED)) | dead
        ).update(status=Candidate.Status.PENDING, error="", attempts=0, claimed_at=None)
        job.status = GenerationJob.Status.QUEUED
        job.error = ""
        job.finished_at = None
        job.save(update_fields=["status", "error", "finished_at"])
        Campaign.objects.filter(id=campaign.id, status=Campaign.Status.DRAFT).update(
            status=Campaign.Status.GENERATING
        )
        generation_enqueue(job=job)
        if job.mode == GenerationJob.Mode.CHEAP:
            from annotate.services.generation_batches import batches_poll_on_commit

            batches_poll_on_commit(job=job)
    log.info("generation job %s resumed by %s", job.id, actor)
    return job


def generation_enqueue(*, job: GenerationJob, candidate_ids: list[int] | None = None) -> None:
    """On commit: Batches for Anthropic generators in cheap mode; one request with ``n`` samples per
    (prompt, generator) for OpenAI-compatible generators asked for several; one task per candidate
    otherwise. With ``candidate_ids``, only those of the job's PENDING rows (the sweep's re-sends)."""
    from annotate import tasks

    pending = Candidate.objects.filter(job=job, status=Candidate.Status.PENDING)
    if candidate_ids is not None:
        pending = pending.filter(id__in=candidate_ids)
    anthropic = Q(generator__provider=Generator.Provider.ANTHROPIC)
    batched = job.mode == GenerationJob.Mode.CHEAP and pending.filter(anthropic).exists()
    if job.mode == GenerationJob.Mode.CHEAP:
        pending = pending.exclude(anthropic)
    grouped_generators = [
        g.id
        for g in Generator.objects.filter(
            campaign_id=job.campaign_id,
            provider=Generator.Provider.OPENAI_COMPATIBLE,
            samples_per_prompt__gt=1,
        )
        if (g.params or {}).get("use_n", True) is not False
    ]
    groups: dict[tuple[int, int], list[int]] = {}
    for cid, prompt_id, generator_id in pending.filter(
        generator_id__in=grouped_generators
    ).values_list("id", "prompt_id", "generator_id"):
        groups.setdefault((prompt_id, generator_id), []).append(cid)
    singles = list(
        pending.exclude(generator_id__in=grouped_generators).values_list("id", flat=True)
    )
    job_id = job.id

    def send() -> None:
        if batched:
            tasks.generation_batch_submit_task.delay(job_id=job_id)
        for ids in groups.values():
            tasks.generation_group_task.delay(candidate_ids=ids)
        for cid in singles:
            tasks.generation_candidate_task.delay(candidate_id=cid)
        if not (batched or groups or singles):
            generation_job_finish_if_complete(job_id=job_id)

    transaction.on_commit(send)


# --- one candidate ------------------------------------------------------------------------------


def candidate_claim(*, candidate_id: int) -> Candidate | None:
    """PENDING -> RUNNING (or a stale RUNNING taken over), stamped with ``claimed_at``. None if the
    row is done, failed, cancelled, or held by a live worker: a redelivered task then does nothing."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        # One statement instead of the two below (see generation_rows: the worker's hot path).
        candidate = generation_rows.claim(
            candidate_id=candidate_id, now=now, stale_before=now - stale_after()
        )
        if candidate is None:
            return None
    else:
        claimed = (
            Candidate.objects.filter(id=candidate_id)
            .filter(
                Q(status=Candidate.Status.PENDING)
                | Q(status=Candidate.Status.RUNNING, claimed_at__lt=now - stale_after())
            )
            .update(status=Candidate.Status.RUNNING, claimed_at=now, attempts=F("attempts") + 1)
        )
        if claimed != 1:
            return None
        candidate = Candidate.objects.select_related("prompt", "generator", "job").get(
            id=candidate_id
        )
    if candidate.job_id and candidate.job.status == GenerationJob.Status.QUEUED:
        GenerationJob.objects.filter(
            id=candidate.job_id, status=GenerationJob.Status.QUEUED
        ).update(status=GenerationJob.Status.RUNNING, started_at=now)
    return candidate


def request_for(candidate: Candidate) -> dict:
    """The provider-neutral request for a candidate: messages, system prompt, model, params."""
    generator, prompt = candidate.generator, candidate.prompt
    system = "\n\n".join(s for s in (generator.system_prompt.strip(), prompt.system.strip()) if s)
    model = generator.model or (
        settings.ANTHROPIC_DEFAULT_MODEL
        if generator.provider == Generator.Provider.ANTHROPIC
        else ""
    )
    return {
        "messages": prompt.messages,
        "system": system,
        "model": model,
        "params": dict(generator.params or {}),
    }


def candidate_generate(*, candidate_id: int) -> Outcome:
    """Claim, call the provider outside any transaction, write under the claim. The task body."""
    candidate = candidate_claim(candidate_id=candidate_id)
    if candidate is None:
        return Outcome("skipped")
    token = candidate.claimed_at
    request = request_for(candidate)
    try:
        config = generator_provider_config(candidate.generator)
    except ProviderError as exc:
        return candidate_record_error(candidate=candidate, token=token, error=exc)
    budget = ratelimit.ratelimit_take(
        config=config, params=request["params"], calls=[(request["messages"], request["system"])]
    )
    if budget.wait:
        # Over the account's budget: hand the row back without spending an attempt.
        _release(candidate, token)
        return Outcome("retry", retry_in=budget.wait)
    try:
        completion = provider_for(config).complete(**request, sample_index=candidate.sample_index)
    except ProviderError as exc:
        return candidate_record_error(candidate=candidate, token=token, error=exc)
    except Exception as exc:  # a bug or a surprise from an SDK: bounded retries, then visible
        log.exception("candidate %s: unexpected error from the provider", candidate.id)
        error = ProviderError(f"Unexpected error: {type(exc).__name__}: {exc}", retryable=True)
        return candidate_record_error(candidate=candidate, token=token, error=error)
    budget.settle(used=completion.input_tokens + completion.output_tokens)
    candidate_record_completion(candidate=candidate, token=token, completion=completion)
    return Outcome("done")


def candidates_generate_n(*, candidate_ids: list[int]) -> Outcome:
    """Several samples of one (prompt, generator) in one request with ``n`` (vLLM, OpenAI). Each row
    is claimed on its own, so a redelivery only asks for the samples still missing. A server that
    refuses ``n`` gets one request per sample instead."""
    claimed = [c for c in (candidate_claim(candidate_id=cid) for cid in candidate_ids) if c]
    if not claimed:
        return Outcome("skipped")
    request = request_for(claimed[0])
    try:
        config = generator_provider_config(claimed[0].generator)
    except ProviderError as exc:
        return _merge(
            [candidate_record_error(candidate=c, token=c.claimed_at, error=exc) for c in claimed]
        )
    # One request whose output is n samples.
    budget = ratelimit.ratelimit_take(
        config=config,
        params=request["params"],
        calls=[(request["messages"], request["system"])] * len(claimed),
        requests=1,
    )
    if budget.wait:
        for candidate in claimed:
            _release(candidate, candidate.claimed_at)
        return Outcome("retry", retry_in=budget.wait)
    try:
        provider = provider_for(config)
        completions = (
            provider.complete_n(**request, n=len(claimed))
            if len(claimed) > 1
            else [provider.complete(**request, sample_index=claimed[0].sample_index)]
        )
    except Unsupported:
        completions = None
    except ProviderError as exc:
        outcomes = [
            candidate_record_error(candidate=c, token=c.claimed_at, error=exc) for c in claimed
        ]
        return _merge(outcomes)
    if completions is None:
        outcomes = []
        for candidate in claimed:
            try:
                completion = provider.complete(**request, sample_index=candidate.sample_index)
            except ProviderError as exc:
                outcomes.append(
                    candidate_record_error(
                        candidate=candidate, token=candidate.claimed_at, error=exc
                    )
                )
                continue
            candidate_record_completion(
                candidate=candidate, token=candidate.claimed_at, completion=completion
            )
            outcomes.append(Outcome("done"))
        return _merge(outcomes)
    budget.settle(used=sum(c.input_tokens + c.output_tokens for c in completions))
    for candidate, completion in zip(claimed, completions, strict=True):
        candidate_record_completion(
            candidate=candidate, token=candidate.claimed_at, completion=completion
        )
    return Outcome("done")


def _merge(outcomes: list[Outcome]) -> Outcome:
    """A group is re-run (for its PENDING rows only) after the longest of its retry delays."""
    delays = [o.retry_in for o in outcomes if o.retry_in is not None]
    return Outcome("retry", retry_in=max(delays)) if delays else Outcome("done")


def _release(candidate: Candidate, token) -> None:
    Candidate.objects.filter(
        id=candidate.id, status=Candidate.Status.RUNNING, claimed_at=token
    ).update(status=Candidate.Status.PENDING, attempts=F("attempts") - 1)


def candidate_record_completion(
    *, candidate: Candidate, token, completion: Completion, batch: bool = False
) -> bool:
    """RUNNING (with our claim) -> DONE with text, rendered HTML, usage and cost. False if the row
    was taken over or cancelled meanwhile (nothing is written twice)."""
    generator = candidate.generator
    price = pricing.price_for(
        provider=generator.provider,
        model=completion.model or generator.model,
        job_id=candidate.job_id,
    )
    cost = pricing.cost_usd(
        price=price,
        input_tokens=completion.input_tokens,
        output_tokens=completion.output_tokens,
        cache_read_tokens=completion.cache_read_tokens,
        cache_write_tokens=completion.cache_write_tokens,
        batch=batch,
    )
    written = generation_rows.write_claimed(
        candidate_id=candidate.id,
        token=token,
        values={
            "status": Candidate.Status.DONE,
            "text": completion.text,
            "html": render_markdown(completion.text),
            "stop_reason": completion.stop_reason[:40],
            "input_tokens": completion.input_tokens,
            "output_tokens": completion.output_tokens,
            "cache_read_tokens": completion.cache_read_tokens,
            "cache_write_tokens": completion.cache_write_tokens,
            "cost_usd": cost,
            "latency_ms": completion.latency_ms,
            "request_id": completion.request_id[:200],
            "error": "",
            "finished_at": timezone.now(),
        },
    )
    if written and candidate.job_id:
        generation_job_finish_if_complete(job_id=candidate.job_id)
    return bool(written)


def candidate_record_error(*, candidate: Candidate, token, error: ProviderError) -> Outcome:
    """A retryable error goes back to PENDING with a backoff (bounded); anything else fails now."""
    guard = Candidate.objects.filter(
        id=candidate.id, status=Candidate.Status.RUNNING, claimed_at=token
    )
    attempts = (
        Candidate.objects.filter(id=candidate.id).values_list("attempts", flat=True).first() or 0
    )
    if error.retryable and attempts < MAX_ATTEMPTS:
        if guard.update(status=Candidate.Status.PENDING, error=error.message):
            delay = backoff_seconds(attempts=attempts, retry_after=error.retry_after)
            log.info("candidate %s: %s; retry %s in %.1fs", candidate.id, error, attempts, delay)
            return Outcome("retry", retry_in=delay)
        return Outcome("skipped")
    message = error.message
    if error.retryable:
        message = f"Gave up after {attempts} attempts: {message}"
    if guard.update(status=Candidate.Status.FAILED, error=message, finished_at=timezone.now()):
        log.warning("candidate %s failed: %s", candidate.id, message)
        if candidate.job_id:
            GenerationJob.objects.filter(id=candidate.job_id, error="").update(error=message)
            generation_job_finish_if_complete(job_id=candidate.job_id)
    return Outcome("failed")


def backoff_seconds(*, attempts: int, retry_after: float | None) -> float:
    """Exponential backoff with jitter, never sooner than the provider's ``retry-after``."""
    exp = min(0.5 * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)
    jittered = exp * random.uniform(0.75, 1.0)
    return round(max(jittered, retry_after or 0.0), 3)


# --- ending a job --------------------------------------------------------------------------------


def generation_job_finish_if_complete(*, job_id: int) -> bool:
    """End the job once nothing is PENDING or RUNNING. Safe under races: every writer checks after
    its own write is committed, so the last one sees the job complete; the conditional UPDATE lets
    exactly one of them end it and build pairs."""
    if generation_rows.job_has_work_left(job_id=job_id):
        return False
    finished = Candidate.objects.filter(job_id=job_id)
    done = finished.filter(status=Candidate.Status.DONE).count()
    failed = finished.filter(status=Candidate.Status.FAILED).count()
    status = GenerationJob.Status.FAILED if failed and not done else GenerationJob.Status.DONE
    ended = GenerationJob.objects.filter(id=job_id, status__in=ACTIVE).update(
        status=status, finished_at=timezone.now()
    )
    if not ended:
        return False
    job = GenerationJob.objects.select_related("campaign").get(id=job_id)
    Campaign.objects.filter(id=job.campaign_id, status=Campaign.Status.GENERATING).update(
        status=Campaign.Status.DRAFT
    )
    log.info("generation job %s %s: %s done, %s failed", job_id, status, done, failed)
    _build_pairs(job)
    return True


def _build_pairs(job: GenerationJob) -> None:
    from annotate.services.pairing import pairs_build

    try:
        pairs_build(campaign=job.campaign)
    except Exception as exc:  # pairing's failure must not undo a finished, paid-for job
        log.exception("pairs_build failed after generation job %s", job.id)
        GenerationJob.objects.filter(id=job.id).update(error=f"Building pairs failed: {exc}")
