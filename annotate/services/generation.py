"""Generation: turn (prompt × generator × sample index) into candidates, exactly once, observably.

A candidate row is a kind of claimable work (``CANDIDATES``; the protocol is annotate/work's):

    pending --claim--> running --write under the claim--> done | failed
       ^                  |
       +-- retryable error (backoff), or its worker died (the sweep) --+   pending --cancel--> cancelled

* ``generation_start`` creates the PENDING rows a job lacks (``bulk_create(ignore_conflicts=True)``
  against the unique key), and enqueues one task per candidate on commit (one per (prompt,
  generator) with ``n`` samples for OpenAI-compatible servers; Message Batches in cheap mode).
* ``candidate_generate`` (the task body) claims its row (plain SQL on PostgreSQL, the hot path:
  annotate/sql/generation.py), calls the provider OUTSIDE any transaction, and writes the result
  only if the row is still RUNNING under its claim stamp, so a late twin of a taken-over claim
  cannot overwrite the winner. ``candidates_generate_n`` does the same for a group of samples.
* Retries, their bound and giving up are annotate/work/claims.py's (the SDK runs with
  ``max_retries=0``); the rate limiter (services/ratelimit.py) is asked before every call and
  settled after it, whatever the call's fate.
* When a job has nothing PENDING or RUNNING it ends (done, or failed if nothing succeeded), and pairs
  are built for the campaign. Work lost with a dead worker or an emptied broker comes back through
  the sweep (annotate/work/sweep.py), without anyone pressing Resume.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from annotate.endpoints import generator_provider_config
from annotate.markdown import render_markdown
from annotate.models import Campaign, Candidate, GenerationJob, Generator, User
from annotate.providers.base import Completion, ProviderError, Unsupported, provider_for
from annotate.reading import reading_length
from annotate.services import pricing, ratelimit
from annotate.sql import generation as generation_sql
from annotate.work import Kind, Outcome, batches, claims

log = logging.getLogger(__name__)

ACTIVE = (GenerationJob.Status.QUEUED, GenerationJob.Status.RUNNING)

CANDIDATES = Kind(
    name="candidate",
    noun="responses",
    model=Candidate,
    job_model=GenerationJob,
    send=lambda job, ids: generation_enqueue(job=job, candidate_ids=ids),
    on_job_end=lambda job_id, status: _job_ended(job_id, status),
    batched=True,  # cheap mode: Anthropic Message Batches (services/generation_batches.py)
)


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
            Candidate(prompt_id=pid, generator=g, sample_index=i, job=job, read_length=0)
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
    """Pick up the latest job again: cancelled and failed rows, and RUNNING rows whose worker is
    dead or whose claim is stale (``claims.abandoned``), go back to PENDING and are enqueued. Rows
    inside a submitted Message Batch wait for it (its poll is sent again). Done rows stay done."""
    job = campaign.generation_jobs.first()
    if job is None:
        return None
    now = timezone.now()
    with transaction.atomic():
        job = GenerationJob.objects.select_for_update().get(id=job.id)
        dead = claims.abandoned(CANDIDATES, now) & ~batches.held_by_batches(CANDIDATES, job)
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
            from annotate.services.generation_batches import BATCHES

            batches.poll_open_on_commit(BATCHES, job)
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
            claims.finish_if_complete(CANDIDATES, job_id)

    transaction.on_commit(send)


# --- one candidate ------------------------------------------------------------------------------


def candidate_claim(*, candidate_id: int) -> Candidate | None:
    """PENDING -> RUNNING (or an abandoned claim taken over: annotate/work/claims.py), stamped with
    ``claimed_at`` and this process's worker id. None if the row is done, failed, cancelled, or held
    by a live worker: a redelivered task then does nothing."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        # One statement instead of the two below (annotate/sql/generation.py: the worker's hot path).
        candidate = generation_sql.claim(kind=CANDIDATES, candidate_id=candidate_id, now=now)
    elif claims.claim(CANDIDATES, candidate_id, now=now):
        candidate = Candidate.objects.select_related("prompt", "generator", "job").get(
            id=candidate_id
        )
    else:
        candidate = None
    if candidate is not None and candidate.job_id:
        if candidate.job.status == GenerationJob.Status.QUEUED:
            claims.job_started(CANDIDATES, candidate.job_id, now)
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
    return _generate([candidate])


def candidates_generate_n(*, candidate_ids: list[int]) -> Outcome:
    """Several samples of one (prompt, generator) in one request with ``n`` (vLLM, OpenAI). Each row
    is claimed on its own, so a redelivery only asks for the samples still missing. A server that
    refuses ``n`` gets one request per sample instead."""
    claimed = [c for c in (candidate_claim(candidate_id=cid) for cid in candidate_ids) if c]
    if not claimed:
        return Outcome("skipped")
    return _generate(claimed)


def _generate(claimed: list[Candidate]) -> Outcome:
    """One request for the claimed rows (samples of one prompt and generator), through the rate
    limiter: asked first (the rows are handed back unspent when it says wait), settled with what
    the calls used however they ended. Every error is recorded on its row: bounded retries for
    the retryable and the unexpected, a visible failure for the rest."""
    first = claimed[0]
    request = request_for(first)
    try:
        config = generator_provider_config(first.generator)
    except ProviderError as exc:
        return _merge([_record_error(c, exc) for c in claimed])
    # One request, whose output is as many samples as rows.
    budget = ratelimit.ratelimit_take(
        config=config,
        params=request["params"],
        calls=[(request["messages"], request["system"])] * len(claimed),
        requests=1,
    )
    if budget.wait:
        # Over the account's budget: hand the rows back without spending an attempt.
        for candidate in claimed:
            claims.release(CANDIDATES, candidate.id, candidate.claimed_at)
        return Outcome("retry", retry_in=budget.wait)
    used = 0
    outcomes: list[Outcome] = []
    try:
        provider = provider_for(config)
        answers = _ask(provider, request, claimed)
    except Exception as exc:
        answers = [exc] * len(claimed)
    for candidate, answer in zip(claimed, answers, strict=True):
        if answer is None:  # the server refused ``n``: one request per sample
            try:
                answer = provider.complete(**request, sample_index=candidate.sample_index)
            except Exception as exc:
                answer = exc
        if isinstance(answer, Exception):
            outcomes.append(_record_error(candidate, answer))
            continue
        used += answer.input_tokens + answer.output_tokens
        candidate_record_completion(
            candidate=candidate, token=candidate.claimed_at, completion=answer
        )
        outcomes.append(Outcome("done"))
    budget.settle(used=used)
    return _merge(outcomes)


def _ask(provider, request: dict, claimed: list[Candidate]) -> list:
    """One answer per claimed row: a Completion, an error, or None where ``n`` was refused."""
    if len(claimed) == 1:
        return [provider.complete(**request, sample_index=claimed[0].sample_index)]
    try:
        answers = list(provider.complete_n(**request, n=len(claimed)))
    except Unsupported:
        return [None] * len(claimed)
    short = ProviderError(
        f"The server answered {len(answers)} of {len(claimed)} samples.", retryable=True
    )
    return (answers + [short] * len(claimed))[: len(claimed)]


def _record_error(candidate: Candidate, exc: Exception) -> Outcome:
    return claims.record_exception(
        CANDIDATES, candidate.id, candidate.claimed_at, exc, job_id=candidate.job_id
    )


def _merge(outcomes: list[Outcome]) -> Outcome:
    """A group is re-run (for its PENDING rows only) after the longest of its retry delays."""
    delays = [o.retry_in for o in outcomes if o.retry_in is not None]
    if delays:
        return Outcome("retry", retry_in=max(delays))
    if len(outcomes) == 1:
        return outcomes[0]
    return Outcome("done") if any(o.status == "done" for o in outcomes) else Outcome("failed")


def candidate_record_completion(
    *, candidate: Candidate, token, completion: Completion, batch: bool = False
) -> bool:
    """RUNNING (with our claim) -> DONE with text, rendered HTML, usage and cost. False if the row
    was taken over or cancelled meanwhile (nothing is written twice)."""
    generator = candidate.generator
    price = pricing.price_for(
        provider=generator.provider,
        model=completion.model or generator.model,
        cached_for=("job", candidate.job_id) if candidate.job_id else None,
    )
    cost = pricing.cost_usd(
        price=price,
        input_tokens=completion.input_tokens,
        output_tokens=completion.output_tokens,
        cache_read_tokens=completion.cache_read_tokens,
        cache_write_tokens=completion.cache_write_tokens,
        batch=batch,
    )
    # The reasoning's share of the cost: its tokens at the output price.
    reasoning_cost = (
        pricing.cost_usd(
            price=price,
            input_tokens=0,
            output_tokens=completion.reasoning_tokens,
            cache_read_tokens=0,
            cache_write_tokens=0,
            batch=batch,
        )
        if completion.reasoning_tokens
        else 0
    )
    written = generation_sql.write_claimed(
        candidate_id=candidate.id,
        token=token,
        values={
            "status": Candidate.Status.DONE,
            "text": completion.text,
            "html": render_markdown(completion.text),
            "read_length": reading_length(completion.text),
            "reasoning": completion.reasoning,
            "reasoning_html": render_markdown(completion.reasoning) if completion.reasoning else "",
            "reasoning_tokens": completion.reasoning_tokens,
            "reasoning_cost_usd": reasoning_cost,
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
        claims.finish_if_complete(CANDIDATES, candidate.job_id)
    return bool(written)


def _job_ended(job_id: int, status: str) -> None:
    """After the job's last row: the campaign leaves "generating", and pairs are built."""
    job = GenerationJob.objects.select_related("campaign").get(id=job_id)
    Campaign.objects.filter(id=job.campaign_id, status=Campaign.Status.GENERATING).update(
        status=Campaign.Status.DRAFT
    )
    rows = Candidate.objects.filter(job_id=job_id)
    log.info(
        "generation job %s %s: %s done, %s failed",
        job_id,
        status,
        rows.filter(status=Candidate.Status.DONE).count(),
        rows.filter(status=Candidate.Status.FAILED).count(),
    )
    _build_pairs(job)
    _extract_answers(job)


def _extract_answers(job: GenerationJob) -> None:
    """Final answers of the new samples, by the campaign's rule (services/ttc.py)."""
    from annotate.services.ttc import answers_extract

    try:
        answers_extract(campaign=job.campaign)
    except Exception:  # like pairing: a finished, paid-for job stays finished
        log.exception("answers_extract failed after generation job %s", job.id)


def _build_pairs(job: GenerationJob) -> None:
    from annotate.protocols import protocol_for

    try:
        protocol_for(job.campaign).units_build(campaign=job.campaign)
    except Exception as exc:  # pairing's failure must not undo a finished, paid-for job
        log.exception("pairs_build failed after generation job %s", job.id)
        GenerationJob.objects.filter(id=job.id).update(error=f"Building pairs failed: {exc}")
