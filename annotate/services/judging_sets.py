"""What the judges on candidate sets share (the step judge, services/judging_steps.py, and the
rating judge, services/judging_ratings.py): a judgement row (models ``SetJudgement``) per set and
judge model is a kind of claimable work, each row its own job:

    pending --claim--> running --write under the claim--> done | failed
       ^                  |
       +-- retryable provider error (backoff), or its worker died (the sweep) --+

* ``set_judgements_queue`` creates the PENDING rows the sets lack for the judge's current model,
  gives failed ones another go, and sends one task per pending row on commit.
* ``set_judge_ask`` asks the judge outside any transaction: the account's budget first (over it,
  the row is handed back with no attempt spent), then the call; a malformed answer is asked again,
  up to ``MALFORMED_TRIES``, then the row fails visibly with nothing stored. What the calls cost is
  kept on the row either way.
* ``set_judge_write`` writes the judge's vote under the claim, in the same transaction as the
  row's DONE (a lost claim writes nothing: the other holder does).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from annotate.endpoints import judge_provider_config
from annotate.judge.calls import JudgeCall
from annotate.judge.samples import Malformed
from annotate.models import Campaign, JudgeConfig
from annotate.providers.base import provider_for
from annotate.services import ratelimit
from annotate.services.judging import MALFORMED_TRIES, _Usage
from annotate.work import Kind, Outcome, claims

log = logging.getLogger(__name__)


def set_judgements_queue(
    *,
    kind: Kind,
    campaign: Campaign,
    config: JudgeConfig,
    set_ids: Iterable[int],
    send: Callable[[list[int]], None],
) -> list[int]:
    """Inside the caller's transaction: a PENDING row per set without one for the judge's current
    model, failed rows reset, and a task per pending row sent on commit. The pending ids."""
    model: type[models.Model] = kind.model
    model.objects.bulk_create(
        [
            model(
                campaign=campaign,
                candidate_set_id=sid,
                provider=config.provider,
                model=config.model,
            )
            for sid in set_ids
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )
    mine = model.objects.filter(campaign=campaign, model=config.model)
    mine.filter(status=kind.failed).update(status=kind.pending, attempts=0, error="")
    pending = list(mine.filter(status=kind.pending).values_list("id", flat=True))
    send(pending)
    return pending


def set_judge_ask(
    *,
    kind: Kind,
    judgement: models.Model,
    token,
    config: JudgeConfig,
    call: JudgeCall,
    parse: Callable[[Any], Any],
) -> tuple[Outcome | None, Any, _Usage]:
    """Ask the judge ``call`` and ``parse`` its tool input (``Malformed`` asks again). Returns
    (None, parsed, usage) on an answer, or (the outcome, None, usage) when the row was handed back,
    failed, or is to be retried."""
    usage = _Usage()
    budget = None
    try:
        target = judge_provider_config(config)
        prompt = ([{"role": "user", "content": call.user_text}], call.rubric)
        budget = ratelimit.ratelimit_take(config=target, params=config.params or {}, calls=[prompt])
        if budget.wait:  # over the account's budget: hand the row back, no attempt spent
            claims.release(kind, judgement.pk, token)
            return Outcome("retry", retry_in=budget.wait), None, usage
        provider = provider_for(target)
        problem = ""
        for attempt in range(MALFORMED_TRIES):
            if attempt:  # asking again costs another call
                budget.extend(calls=[prompt])
            reply = provider.judge(call)
            usage.add(reply, provider=judgement.provider, model=judgement.model)
            try:
                parsed = parse(reply.tool_input)
                break
            except Malformed as exc:
                problem = str(exc)
                log.info("%s %s malformed: %s", kind.name, judgement.pk, problem)
        else:
            budget.settle(used=usage.tokens)
            claims.fail(
                kind,
                judgement.pk,
                token,
                f"Malformed answer {MALFORMED_TRIES} times: {problem}",
                job_id=None,
                also=usage.updates(),
            )
            return Outcome("failed"), None, usage
    except Exception as exc:
        if budget is not None:
            budget.settle(used=usage.tokens)
        outcome = claims.record_exception(
            kind, judgement.pk, token, exc, job_id=None, also=usage.updates()
        )
        return outcome, None, usage
    budget.settle(used=usage.tokens)
    return None, parsed, usage


def set_judge_write(
    *,
    kind: Kind,
    judgement: models.Model,
    token,
    usage: _Usage,
    write: Callable[[Any], models.Model],
) -> Outcome:
    """Under the claim: ``write(now)`` stores the judge's vote, and the row turns DONE with it."""
    now = timezone.now()
    with transaction.atomic():
        held = claims.held(kind, judgement.pk, token).select_for_update().first()
        if held is None:  # the claim was lost (swept, redelivered): the other holder writes
            return Outcome("skipped")
        vote = write(now)
        claims.held(kind, judgement.pk, token).update(
            status=kind.done, vote=vote, error="", finished_at=now, **usage.updates()
        )
    return Outcome("done")
