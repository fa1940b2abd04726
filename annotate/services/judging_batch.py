"""Judging through Anthropic Message Batches (the "cheap" mode: half price, results within 24 h).

Submitting, polling, collecting and recovering a submission whose batch id was lost are
annotate/work/batches.py's, for every kind. What is the judge's own:

* a batch holds up to ``CHUNK`` PENDING verdicts of a job, each as two requests, one per
  presentation order (custom ids ``v<id>-o1`` / ``v<id>-o2``), sent through the campaign's judge;
* once it has ended, every verdict whose two orders came back valid is written; the rest
  (malformed, errored, expired, missing from the results) keep what they cost and go to the
  one-at-a-time path (``judge_verdict_task``), which retries and fails visibly like any fast verdict.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from annotate.endpoints import judge_provider
from annotate.judge import verdict as judge_verdict
from annotate.models import JudgeJob, JudgeVerdict
from annotate.providers.base import ProviderError
from annotate.services.judging import (
    VERDICTS,
    _Usage,
    judge_config_get,
    verdict_calls,
    verdict_record,
    verdict_spec,
    verdicts_send,
)
from annotate.work import batches, claims
from annotate.work.batches import BatchKind, Submitted

log = logging.getLogger(__name__)
CHUNK = 5000  # verdicts per batch (10,000 requests; the API allows 100,000)
_CUSTOM_ID = re.compile(r"^v(\d+)-o([12])$")


def _submit(provider, job: JudgeJob, ids: list[int]) -> str:
    config = judge_config_get(campaign=job.campaign)
    verdicts = (
        JudgeVerdict.objects.filter(id__in=ids)
        .select_related("campaign", "prompt", "candidate_a", "candidate_b", "rubric")
        .order_by("id")
    )
    return provider.judge_batch_submit([c for v in verdicts for c in verdict_calls(v, config)])


def _results(provider, batch_id: str) -> list:
    return list(provider.judge_batch_results(batch_id))


def _collect(job: JudgeJob, token, results: list) -> bool:
    """Write the verdicts answered well in both orders; hand the others to the fast path."""
    replies: dict[int, dict[int, Any]] = {}
    for item in results:
        match = _CUSTOM_ID.match(item.custom_id)
        if match:
            replies.setdefault(int(match.group(1)), {})[int(match.group(2))] = item
    spec = verdict_spec(job.campaign)
    handed_on: list[int] = []
    for verdict in batches.rows_of(VERDICTS, job, token).select_related("campaign"):
        items = replies.get(verdict.id, {})
        usage = _Usage()
        orders = []
        for order in (1, 2):
            item = items.get(order)
            if item is None or item.reply is None:
                break
            usage.add(item.reply, provider=verdict.provider, model=verdict.model)
            try:
                parsed = judge_verdict.parse_verdict(item.reply.tool_input, spec=spec)
            except judge_verdict.MalformedVerdict:
                break
            orders.append(judge_verdict.to_canonical(parsed, a_first=order == 1))
        if len(orders) == 2:
            verdict_record(
                verdict=verdict,
                token=verdict.claimed_at,
                order1=orders[0],
                order2=orders[1],
                usage=usage,
            )
            continue
        # Keep what the batch cost, then let the fast path ask again (it retries, fails visibly).
        errors = [i.error for i in items.values() if getattr(i, "error", "")]
        message = errors[0] if errors else "Batch answer missing or malformed; asking again."
        outcome = claims.record_error(
            VERDICTS,
            verdict.id,
            verdict.claimed_at,
            ProviderError(message, retryable=True),
            job_id=job.id,
            also=usage.updates(),
        )
        if outcome.status == "retry":
            handed_on.append(verdict.id)
    verdicts_send(handed_on)
    log.info("judge job %s: a batch ended; %d handed to the fast path", job.id, len(handed_on))
    return False


BATCHES = BatchKind(
    kind=VERDICTS,
    groups=lambda job: [judge_config_get(campaign=job.campaign)],
    pending=lambda job, config: JudgeVerdict.objects.filter(
        job=job, status=JudgeVerdict.Status.PENDING
    ),
    entry_key=lambda config: {},
    group_of=lambda job, entry: judge_config_get(campaign=job.campaign),
    provider=lambda job, config: judge_provider(config),
    submit=_submit,
    results=_results,
    collect=_collect,
    tasks=("judge_batch_submit_task", "judge_batch_poll_task", "judge_batch_recover_task"),
    poll_setting="JUDGE_BATCH_POLL_SECONDS",
    chunk=lambda: CHUNK,
    requests_per_row=2,
)


def judge_batch_submit(*, job_id: int) -> Submitted:
    """Claim the job's PENDING verdicts, submit them, enqueue a poll per batch."""
    return batches.submit(BATCHES, job_id=job_id)


def judge_batch_poll(*, job_id: int, batch_id: str) -> float | None:
    """Seconds until the next poll, or None once the batch's results are written (or handed on)."""
    return batches.poll(BATCHES, job_id=job_id, batch_id=batch_id)


def judge_batch_recover(*, job_id: int) -> int:
    return batches.recover(BATCHES, job_id=job_id)
