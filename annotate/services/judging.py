"""The AI judge: configure it, judge pairs in both orders exactly once, rank best-of-N.

A verdict row is a kind of claimable work (``VERDICTS``; the protocol is annotate/work's):

    pending --claim--> running --write under the claim--> done | failed
       ^                  |
       +-- retryable provider error (backoff), or its worker died (the sweep) --+

* ``judge_pairs_start`` / ``judge_rank_start`` create the PENDING verdicts a job lacks
  (``bulk_create(ignore_conflicts=True)`` against the unique key) and enqueue on commit: one task per
  verdict (fast), or Message Batches for the whole job (cheap, Anthropic only).
* ``judge_pair_run`` (the task body) claims its row, asks the provider twice (a shown first, then b
  shown first) outside any transaction, retries a malformed answer up to ``MALFORMED_TRIES`` times,
  then writes under its claim stamp. Provider errors go to annotate/work/claims.py: retried with a
  backoff up to the kind's attempts, or failed visibly; what the calls cost is kept either way.
* Settings and rubric versions live in services/judging_config.py (re-exported here); auto-labels,
  revisions and best pairs in services/judging_labels.py; Message Batches in
  services/judging_batch.py; the reads (progress, rankings, analytics) in selectors/judging.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.utils import timezone

from annotate.endpoints import judge_provider_config
from annotate.judge import calls as judge_calls
from annotate.judge import verdict as judge_verdict
from annotate.models import (
    Campaign,
    Candidate,
    JudgeConfig,
    JudgeJob,
    JudgeVerdict,
    Pair,
    User,
)
from annotate.providers.base import ProviderError, provider_for, require_key
from annotate.services import pricing, ratelimit
from annotate.services.judging_config import (  # noqa: F401 (re-exported)
    JUDGE_PROVIDERS,
    JudgeRefused,
    judge_config_get,
    judge_config_update,
    rubric_current,
    rubric_save,
)
from annotate.work import Kind, Outcome, claims
from annotate.work.kinds import send_each_on_commit

log = logging.getLogger(__name__)

MALFORMED_TRIES = 3  # calls per order before a malformed answer fails the verdict
MAX_RANK_CANDIDATES = 8  # best-of-N tournament: at most 28 pairs per prompt

VERDICTS = Kind(
    name="verdict",
    noun="verdicts",
    model=JudgeVerdict,
    job_model=JudgeJob,
    send=lambda job, ids: verdicts_enqueue(job=job, verdict_ids=ids),
    batched=True,  # cheap mode: Anthropic Message Batches (services/judging_batch.py)
)


# --- starting work ----------------------------------------------------------------------------


def _check_runnable(config: JudgeConfig) -> None:
    if config.provider not in JUDGE_PROVIDERS:
        raise JudgeRefused(
            "The judge runs on Anthropic, an OpenAI-compatible server or the demo judge."
        )
    try:
        target = judge_provider_config(config)
        if target.key_env:
            require_key(target.key_env, f"the judge at {target.base_url}")
    except ProviderError as exc:
        raise JudgeRefused(
            f"{exc.message} Fix the judge settings, or choose the offline demo judge."
        ) from None


def _start_job(
    *, campaign: Campaign, actor: User | None, mode: str | None, kind: str, rows: list[dict]
) -> JudgeJob:
    config = judge_config_get(campaign=campaign)
    _check_runnable(config)
    mode = mode or config.mode
    if mode not in JudgeConfig.Mode.values:
        raise JudgeRefused(f"Unknown mode {mode!r}: fast or cheap.")
    rubric = rubric_current(campaign=campaign)
    with transaction.atomic():
        job = JudgeJob.objects.create(
            campaign=campaign, rubric=rubric, kind=kind, mode=mode, created_by=actor
        )
        key = {"rubric": rubric, "model": config.model}
        JudgeVerdict.objects.bulk_create(
            [
                JudgeVerdict(campaign=campaign, provider=config.provider, job=job, **key, **row)
                for row in rows
            ],
            ignore_conflicts=True,
        )
        # The campaign's verdicts for this rubric and model that are not done join this job: failed
        # ones get another go, pending ones are (re)sent, and fast-path rows left RUNNING by a dead
        # worker (older than the stale limit, not waiting in a live Message Batch) are recovered.
        mine = JudgeVerdict.objects.filter(campaign=campaign, **key)
        mine.filter(status=JudgeVerdict.Status.FAILED).update(
            status=JudgeVerdict.Status.PENDING, attempts=0, error="", job=job
        )
        mine.filter(claims.abandoned(VERDICTS, timezone.now())).filter(
            Q(job__isnull=True)
            | Q(job__provider_batch_ids=[])
            | ~Q(job__status=JudgeJob.Status.RUNNING)
        ).update(status=JudgeVerdict.Status.PENDING)
        pending = mine.filter(status=JudgeVerdict.Status.PENDING).exclude(job=job)
        older_jobs = set(pending.exclude(job=None).values_list("job_id", flat=True))
        pending.update(job=job)
        job.total = JudgeVerdict.objects.filter(job=job).count()
        job.status = JudgeJob.Status.QUEUED if job.total else JudgeJob.Status.DONE
        job.finished_at = None if job.total else timezone.now()
        job.save(update_fields=["total", "status", "finished_at"])
        verdicts_enqueue(job=job)
        for old in older_jobs:  # an older job whose work moved here may now be complete
            transaction.on_commit(lambda old=old: claims.finish_if_complete(VERDICTS, old))
    log.info("judge job %s (%s, %s): %d verdicts", job.id, kind, mode, job.total)
    return job


def verdicts_enqueue(*, job: JudgeJob, verdict_ids: list[int] | None = None) -> None:
    """On commit: the job's PENDING verdicts (or just ``verdict_ids``) go to a Message Batch (cheap
    mode on Anthropic) or one task each."""
    from annotate import tasks

    if not job.total:
        return
    cheap = job.mode == JudgeConfig.Mode.CHEAP
    if cheap and job.verdicts.filter(provider=JudgeConfig.Provider.ANTHROPIC).exists():
        transaction.on_commit(lambda: tasks.judge_batch_submit_task.delay(job_id=job.id))
        return
    pending = JudgeVerdict.objects.filter(job=job, status=JudgeVerdict.Status.PENDING)
    if verdict_ids is not None:
        pending = pending.filter(id__in=verdict_ids)
    verdicts_send(pending.values_list("id", flat=True))


def verdicts_send(ids) -> None:
    """One task message per verdict, sent once the current transaction commits."""
    send_each_on_commit("judge_verdict_task", "verdict_id", ids)


def verdicts_link_pairs(*, campaign: Campaign) -> int:
    """Attach pair-less verdicts (from best-of-N ranking) to pairs built later on the same two
    candidates, so raters see them (reveal / suggestion) and analytics count them."""
    same = Pair.objects.filter(
        candidate_a=OuterRef("candidate_a"), candidate_b=OuterRef("candidate_b")
    ).values("id")[:1]
    return (
        JudgeVerdict.objects.filter(campaign=campaign, pair__isnull=True)
        .filter(Exists(same))
        .update(pair=Subquery(same))
    )


def judge_pairs_start(
    *, campaign: Campaign, actor: User | None, mode: str | None = None
) -> JudgeJob:
    """Judge every pair of the campaign that has no verdict for the current rubric and model."""
    rows = [
        {"pair_id": p, "prompt_id": q, "candidate_a_id": a, "candidate_b_id": b}
        for p, q, a, b in Pair.objects.filter(campaign=campaign).values_list(
            "id", "prompt_id", "candidate_a_id", "candidate_b_id"
        )
    ]
    if not rows:
        raise JudgeRefused(
            "This campaign has no pairs to judge yet: generate and build pairs first."
        )
    return _start_job(
        campaign=campaign, actor=actor, mode=mode, kind=JudgeJob.Kind.PAIRS, rows=rows
    )


def judge_rank_start(
    *, campaign: Campaign, actor: User | None, mode: str | None = None
) -> JudgeJob:
    """Best-of-N: judge every two candidates of each prompt (both orders), so each prompt's
    candidates can be ranked. Up to ``MAX_RANK_CANDIDATES`` per prompt (the first ones by id)."""
    candidates = Candidate.objects.filter(
        prompt__campaign=campaign, status=Candidate.Status.DONE
    ).order_by("prompt_id", "id")
    if campaign.self_id_policy == Campaign.SelfIdPolicy.HIDE:
        candidates = candidates.exclude(self_identifies=True)
    by_prompt: dict[int, list[int]] = {}
    for prompt_id, cid in candidates.values_list("prompt_id", "id"):
        by_prompt.setdefault(prompt_id, []).append(cid)
    pair_ids = {
        (a, b): p
        for p, a, b in Pair.objects.filter(campaign=campaign).values_list(
            "id", "candidate_a_id", "candidate_b_id"
        )
    }
    rows = []
    for prompt_id, ids in by_prompt.items():
        ids = ids[:MAX_RANK_CANDIDATES]
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                rows.append(
                    {
                        "prompt_id": prompt_id,
                        "candidate_a_id": a,
                        "candidate_b_id": b,
                        "pair_id": pair_ids.get((a, b)),
                    }
                )
    if not rows:
        raise JudgeRefused("No prompt has two finished candidates to rank yet.")
    return _start_job(campaign=campaign, actor=actor, mode=mode, kind=JudgeJob.Kind.RANK, rows=rows)


# --- one verdict ------------------------------------------------------------------------------


def verdict_claim(*, verdict_id: int) -> JudgeVerdict | None:
    """PENDING -> RUNNING (or an abandoned claim taken over). None: done, failed, or held elsewhere."""
    now = claims.claim(VERDICTS, verdict_id)
    if now is None:
        return None
    verdict = JudgeVerdict.objects.select_related(
        "campaign", "prompt", "candidate_a", "candidate_b", "rubric", "job"
    ).get(id=verdict_id)
    claims.job_started(VERDICTS, verdict.job_id, now)
    return verdict


def verdict_spec(campaign: Campaign) -> judge_calls.VerdictSpec:
    return judge_calls.VerdictSpec(
        graded=campaign.scale == Campaign.Scale.GRADED7,
        allow_both_bad=campaign.allow_both_bad,
        aspects=tuple(campaign.aspects or ()),
    )


def verdict_calls(verdict: JudgeVerdict, config: JudgeConfig) -> list[judge_calls.JudgeCall]:
    """The two calls for a verdict: order 1 shows a first, order 2 shows b first."""
    spec = verdict_spec(verdict.campaign)
    prompt = verdict.prompt
    out = []
    for order, (first, second) in (
        (1, (verdict.candidate_a.text, verdict.candidate_b.text)),
        (2, (verdict.candidate_b.text, verdict.candidate_a.text)),
    ):
        out.append(
            judge_calls.JudgeCall(
                custom_id=f"v{verdict.id}-o{order}",
                rubric=verdict.rubric.text,
                user_text=judge_calls.user_text(
                    messages=prompt.messages, system=prompt.system, first=first, second=second
                ),
                model=verdict.model,
                spec=spec,
                max_tokens=int((config.params or {}).get("max_tokens", 1024)),
                first_text=first,
                second_text=second,
            )
        )
    return out


@dataclass
class _Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost: Decimal = Decimal("0")

    @property
    def tokens(self) -> int:
        """What counts against the account's tokens-per-minute (cache reads mostly do not)."""
        return self.input_tokens + self.output_tokens + self.cache_write_tokens

    def add(self, reply: judge_calls.JudgeReply, *, provider: str, model: str) -> None:
        self.input_tokens += reply.input_tokens
        self.output_tokens += reply.output_tokens
        self.cache_read_tokens += reply.cache_read_tokens
        self.cache_write_tokens += reply.cache_write_tokens
        price = pricing.price_for(provider=provider, model=reply.model or model)
        self.cost += pricing.cost_usd(
            price=price,
            input_tokens=reply.input_tokens,
            output_tokens=reply.output_tokens,
            cache_read_tokens=reply.cache_read_tokens,
            cache_write_tokens=reply.cache_write_tokens,
            batch=reply.batch,
        )

    def updates(self) -> dict[str, Any]:
        """What it cost, added to the row with whatever else is written."""
        return {
            "input_tokens": F("input_tokens") + self.input_tokens,
            "output_tokens": F("output_tokens") + self.output_tokens,
            "cache_read_tokens": F("cache_read_tokens") + self.cache_read_tokens,
            "cache_write_tokens": F("cache_write_tokens") + self.cache_write_tokens,
            "cost_usd": F("cost_usd") + self.cost,
        }


def judge_pair_run(*, verdict_id: int) -> Outcome:
    """Claim, ask both orders outside any transaction, write under the claim. The task body."""
    verdict = verdict_claim(verdict_id=verdict_id)
    if verdict is None:
        return Outcome("skipped")
    token = verdict.claimed_at
    config = judge_config_get(campaign=verdict.campaign)
    spec = verdict_spec(verdict.campaign)
    usage = _Usage()
    orders: list[dict[str, Any]] = []
    calls = verdict_calls(verdict, config)
    budget = None
    try:
        target = judge_provider_config(config)
        budget = ratelimit.ratelimit_take(
            config=target, params=config.params or {}, calls=[_call_prompt(c) for c in calls]
        )
        if budget.wait:  # over the account's budget: hand the row back, no attempt spent
            claims.release(VERDICTS, verdict.id, token)
            return Outcome("retry", retry_in=budget.wait)
        provider = provider_for(target)
        for order, call in enumerate(calls, start=1):
            problem = ""
            for attempt in range(MALFORMED_TRIES):
                if attempt:  # asking again costs another call
                    budget.extend(calls=[_call_prompt(call)])
                reply = provider.judge(call)
                usage.add(reply, provider=verdict.provider, model=verdict.model)
                try:
                    parsed = judge_verdict.parse_verdict(reply.tool_input, spec=spec)
                except judge_verdict.MalformedVerdict as exc:
                    problem = str(exc)
                    log.info("verdict %s order %s malformed: %s", verdict.id, order, problem)
                    continue
                orders.append(judge_verdict.to_canonical(parsed, a_first=order == 1))
                break
            else:
                budget.settle(used=usage.tokens)
                message = f"Malformed answer {MALFORMED_TRIES} times (order {order}): {problem}"
                claims.fail(
                    VERDICTS,
                    verdict.id,
                    token,
                    message,
                    job_id=verdict.job_id,
                    also=usage.updates(),
                )
                return Outcome("failed")
    except Exception as exc:
        # Usage already spent (e.g. order 1 answered, order 2 hit a 529) is kept on the row, and
        # the rest of the estimate goes back to the budget.
        if budget is not None:
            budget.settle(used=usage.tokens)
        return claims.record_exception(
            VERDICTS, verdict.id, token, exc, job_id=verdict.job_id, also=usage.updates()
        )
    budget.settle(used=usage.tokens)
    verdict_record(verdict=verdict, token=token, order1=orders[0], order2=orders[1], usage=usage)
    return Outcome("done")


def _call_prompt(call: judge_calls.JudgeCall) -> tuple[list[dict[str, str]], str]:
    """A judge call as the rate limiter counts it: its message and its system prompt."""
    return [{"role": "user", "content": call.user_text}], call.rubric


def verdict_record(
    *, verdict: JudgeVerdict, token, order1: dict, order2: dict, usage: _Usage
) -> bool:
    """RUNNING (our claim) -> DONE with both orders, the combined verdict, tokens and cost."""
    combined = judge_verdict.combine(order1, order2)
    written = claims.held(VERDICTS, verdict.id, token).update(
        status=JudgeVerdict.Status.DONE,
        order1=order1,
        order2=order2,
        choice=combined.choice,
        strength=combined.strength,
        consistent=combined.consistent,
        aspects=combined.aspects,
        confidence=combined.confidence,
        rationale=combined.rationale,
        error="",
        finished_at=timezone.now(),
        **usage.updates(),
    )
    if written and verdict.job_id:
        claims.finish_if_complete(VERDICTS, verdict.job_id)
    return bool(written)
