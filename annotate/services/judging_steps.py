"""The AI judge on step traces (protocol "steps"): label every step of each trace +1 / 0 / -1
with a short reason (annotate/judge/steps.py), through the campaign's judge settings.

A judgement row is a kind of claimable work (``STEP_JUDGEMENTS``; annotate/work's protocol), each
row its own job; the claim, the call and the write are the set judges' (services/judging_sets.py,
shared with the rating judge):

* ``step_judge_start`` creates the PENDING rows the campaign's traces lack for the judge's current
  model, gives failed ones another go, and sends one task per row on commit.
* ``step_judge_run`` (the task body) claims its row, asks the judge outside any transaction (a
  malformed answer is asked again, up to ``MALFORMED_TRIES``, then the row fails with nothing
  stored), and under the claim writes the labels as a StepVote of their own (source judge, no
  rater) in the same transaction as the row's DONE. Human votes are never touched.
"""

from __future__ import annotations

import logging

from django.db import transaction

from annotate.judge import steps as judge_steps
from annotate.judge.calls import JudgeCall, VerdictSpec
from annotate.models import Campaign, StepJudgement, StepTrace, StepVote, User
from annotate.services.judging import JudgeRefused, _check_runnable
from annotate.services.judging_config import judge_config_get
from annotate.services.judging_sets import set_judge_ask, set_judge_write, set_judgements_queue
from annotate.work import Kind, Outcome, claims
from annotate.work.kinds import send_each_on_commit

log = logging.getLogger(__name__)


def step_judgements_send(ids) -> None:
    """One task message per judgement, sent once the current transaction commits."""
    send_each_on_commit("judge_steps_task", "judgement_id", ids)


STEP_JUDGEMENTS = Kind(
    name="step_judgement",
    noun="step judgements",
    model=StepJudgement,
    send=lambda job, ids: step_judgements_send(ids),
)


def step_judge_start(*, campaign: Campaign, actor: User | None) -> int:
    """Queue the judge on every trace of a steps campaign that has no judgement from the judge's
    current model; returns how many are now pending."""
    if not campaign.is_steps:
        raise JudgeRefused("Only a step-labels campaign has steps to judge.")
    config = judge_config_get(campaign=campaign)
    _check_runnable(config)
    with transaction.atomic():
        set_ids = StepTrace.objects.filter(candidate_set__campaign=campaign).values_list(
            "candidate_set_id", flat=True
        )
        if not set_ids.exists():
            raise JudgeRefused("This campaign has no traces to judge yet: build the units first.")
        pending = set_judgements_queue(
            kind=STEP_JUDGEMENTS,
            campaign=campaign,
            config=config,
            set_ids=set_ids,
            send=step_judgements_send,
        )
    log.info("step judgements of %s by %s: %d pending", campaign.slug, actor, len(pending))
    return len(pending)


def step_judge_call(judgement: StepJudgement, trace: StepTrace, *, max_tokens: int) -> JudgeCall:
    prompt = judgement.candidate_set.prompt
    return JudgeCall(
        custom_id=f"s{judgement.id}",
        rubric=judge_steps.STEP_RUBRIC,
        user_text=judge_steps.steps_text(
            messages=prompt.messages, system=prompt.system, steps=trace.steps
        ),
        model=judgement.model,
        spec=VerdictSpec(),  # unused: the tool below replaces the verdict's
        max_tokens=max_tokens,
        tool=judge_steps.step_tool(len(trace.steps)),
    )


def step_judge_run(*, judgement_id: int) -> Outcome:
    """Claim, ask the judge outside any transaction, write under the claim. The task body."""
    token = claims.claim(STEP_JUDGEMENTS, judgement_id)
    if token is None:
        return Outcome("skipped")
    judgement = StepJudgement.objects.select_related(
        "campaign", "candidate_set__prompt", "candidate_set__trace"
    ).get(id=judgement_id)
    campaign, trace = judgement.campaign, judgement.candidate_set.trace
    config = judge_config_get(campaign=campaign)
    call = step_judge_call(
        judgement, trace, max_tokens=int((config.params or {}).get("max_tokens", 2048))
    )
    outcome, parsed, usage = set_judge_ask(
        kind=STEP_JUDGEMENTS,
        judgement=judgement,
        token=token,
        config=config,
        call=call,
        parse=lambda tool_input: judge_steps.parse_step_labels(
            tool_input, n=len(trace.steps), stop_at_wrong=campaign.step_stop_at_wrong
        ),
    )
    if outcome is not None:
        return outcome
    labels, reasons = parsed

    def write(now):
        return StepVote.objects.create(
            campaign=campaign,
            candidate_set_id=judgement.candidate_set_id,
            rater=None,
            source=StepVote.Source.JUDGE,
            labels=labels,
            notes=reasons,
            created_at=now,
        )

    return set_judge_write(
        kind=STEP_JUDGEMENTS, judgement=judgement, token=token, usage=usage, write=write
    )
