"""Judging through Anthropic Message Batches (the "cheap" mode: half price, results within 24 h).

``judge_batch_submit`` claims every PENDING verdict of the job (PENDING -> RUNNING, stamped), sends
both orders of each as one batch (custom ids ``v<id>-o1`` / ``v<id>-o2``) and records the batch id
on the job. ``judge_batch_poll`` asks for its status; once ended, it reads the results, writes every
verdict whose two orders came back valid, and hands the rest (malformed, errored, expired) to the
one-at-a-time path (``judge_verdict_task``), which retries and fails visibly like any fast verdict.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from annotate.endpoints import judge_provider
from annotate.judge import verdict as judge_verdict
from annotate.models import JudgeJob, JudgeVerdict
from annotate.providers.base import ProviderError
from annotate.services.generation import backoff_seconds
from annotate.services.judging import (
    _Usage,
    judge_config_get,
    judge_job_finish_if_complete,
    verdict_calls,
    verdict_record,
    verdict_spec,
)

log = logging.getLogger(__name__)
CHUNK = 5000  # verdicts per batch (10,000 requests; the API allows 100,000)
_CUSTOM_ID = re.compile(r"^v(\d+)-o([12])$")


def poll_seconds() -> float:
    return float(getattr(settings, "JUDGE_BATCH_POLL_SECONDS", 30))


def judge_batch_submit(*, job_id: int) -> float | None:
    """Claim the job's PENDING verdicts, submit them, enqueue a poll per batch. Returns a delay when
    the submit should be tried again (a retryable provider error); a hard error fails the job."""
    from annotate import tasks

    job = JudgeJob.objects.select_related("campaign").get(id=job_id)
    config = judge_config_get(campaign=job.campaign)
    try:
        provider = judge_provider(config)
    except ProviderError as exc:
        _fail_job(job, exc.message)
        return None

    batch_ids: list[str] = []
    while True:
        ids = list(
            JudgeVerdict.objects.filter(job=job, status=JudgeVerdict.Status.PENDING).values_list(
                "id", flat=True
            )[:CHUNK]
        )
        if not ids:
            break
        now = timezone.now()
        JudgeVerdict.objects.filter(id__in=ids, status=JudgeVerdict.Status.PENDING).update(
            status=JudgeVerdict.Status.RUNNING, claimed_at=now, attempts=F("attempts") + 1
        )
        verdicts = JudgeVerdict.objects.filter(
            id__in=ids, status=JudgeVerdict.Status.RUNNING, claimed_at=now
        ).select_related("campaign", "prompt", "candidate_a", "candidate_b", "rubric")
        calls = [call for v in verdicts for call in verdict_calls(v, config)]
        try:
            batch_id = provider.judge_batch_submit(calls)
        except ProviderError as exc:
            # Nothing was sent: hand the rows back; retry the submit later, or fail visibly.
            JudgeVerdict.objects.filter(id__in=ids, claimed_at=now).update(
                status=JudgeVerdict.Status.PENDING, attempts=F("attempts") - 1
            )
            if exc.retryable:
                return backoff_seconds(attempts=1, retry_after=exc.retry_after)
            _fail_job(job, exc.message)
            return None
        batch_ids.append(batch_id)
        JudgeJob.objects.filter(id=job.id).update(
            provider_batch_ids=list(job.provider_batch_ids or []) + batch_ids,
            status=JudgeJob.Status.RUNNING,
        )
        transaction.on_commit(
            lambda b=batch_id: tasks.judge_batch_poll_task.apply_async(
                kwargs={"job_id": job.id, "batch_id": b}, countdown=poll_seconds()
            )
        )
    log.info("judge job %s: submitted batches %s", job.id, batch_ids)
    return None


def _fail_job(job: JudgeJob, message: str) -> None:
    now = timezone.now()
    JudgeVerdict.objects.filter(job=job, status=JudgeVerdict.Status.PENDING).update(
        status=JudgeVerdict.Status.FAILED, error=message[:2000], finished_at=now
    )
    JudgeJob.objects.filter(id=job.id).update(
        status=JudgeJob.Status.FAILED, error=message[:2000], finished_at=now
    )


def judge_batch_poll(*, job_id: int, batch_id: str) -> bool:
    """True once the batch has ended and its results are written (or handed on)."""
    from annotate import tasks

    job = JudgeJob.objects.select_related("campaign").get(id=job_id)
    config = judge_config_get(campaign=job.campaign)
    replies: dict[int, dict[int, Any]] = {}
    try:
        provider = judge_provider(config)
        if not provider.batch_status(batch_id).ended:
            return False
        for item in provider.judge_batch_results(batch_id):
            match = _CUSTOM_ID.match(item.custom_id)
            if match:
                replies.setdefault(int(match.group(1)), {})[int(match.group(2))] = item
    except ProviderError as exc:
        if exc.retryable:
            return False  # poll again later
        _fail_job(job, exc.message)
        JudgeVerdict.objects.filter(job=job, status=JudgeVerdict.Status.RUNNING).update(
            status=JudgeVerdict.Status.FAILED, error=exc.message[:2000], finished_at=timezone.now()
        )
        return True
    spec = verdict_spec(job.campaign)
    running = JudgeVerdict.objects.filter(
        job=job, status=JudgeVerdict.Status.RUNNING, id__in=list(replies)
    ).select_related("campaign")
    handed_on: list[int] = []
    for verdict in running:
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
        # Keep what the batch cost, then let the fast path ask again (it retries and fails visibly).
        errors = [i.error for i in items.values() if getattr(i, "error", "")]
        if JudgeVerdict.objects.filter(
            id=verdict.id, status=JudgeVerdict.Status.RUNNING, claimed_at=verdict.claimed_at
        ).update(
            status=JudgeVerdict.Status.PENDING,
            error=(errors[0] if errors else "Batch answer missing or malformed; asking again.")[
                :2000
            ],
            input_tokens=F("input_tokens") + usage.input_tokens,
            output_tokens=F("output_tokens") + usage.output_tokens,
            cache_read_tokens=F("cache_read_tokens") + usage.cache_read_tokens,
            cache_write_tokens=F("cache_write_tokens") + usage.cache_write_tokens,
            cost_usd=F("cost_usd") + usage.cost,
        ):
            handed_on.append(verdict.id)
    # Verdicts of this batch that got no result line at all.
    stuck = JudgeVerdict.objects.filter(job=job, status=JudgeVerdict.Status.RUNNING).exclude(
        Q(id__in=list(replies))
    )
    if len(job.provider_batch_ids or []) <= 1:
        for vid in stuck.values_list("id", flat=True):
            JudgeVerdict.objects.filter(id=vid, status=JudgeVerdict.Status.RUNNING).update(
                status=JudgeVerdict.Status.PENDING
            )
            handed_on.append(vid)
    for vid in handed_on:
        tasks.judge_verdict_task.delay(verdict_id=vid)
    if not handed_on:
        judge_job_finish_if_complete(job_id=job.id)
    log.info(
        "judge job %s batch %s ended; %d handed to the fast path", job.id, batch_id, len(handed_on)
    )
    return True
