"""The judge on one sample alone: verifier scores (best-of-N's ``verifier`` method) and final
answers read by the judge (the ``judge`` answer rule).

A review row is a kind of claimable work (``REVIEWS``; the protocol is annotate/work's), each row
its own job, as an export is:

    pending --claim--> running --write under the claim--> done | failed
       ^                  |
       +-- retryable provider error (backoff), or its worker died (the sweep) --+

* ``reviews_start`` creates the PENDING rows the campaign's finished samples lack for the judge's
  current model (``bulk_create(ignore_conflicts=True)`` against the unique key), gives failed ones
  another go, and sends one task per row on commit.
* ``review_run`` (the task body) claims its row, asks the judge once outside any transaction (a
  malformed answer is asked again, up to ``MALFORMED_TRIES``), and writes the score or the answer,
  its tokens and cost under the claim. A read answer goes beside the sample at once when the
  campaign's rule is the judge's.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from annotate.endpoints import judge_provider_config
from annotate.judge import samples as judge_samples
from annotate.judge.calls import JudgeCall, VerdictSpec
from annotate.models import Campaign, Candidate, CandidateReview, TTCConfig, User
from annotate.providers.base import provider_for
from annotate.services import ratelimit
from annotate.services.judging import MALFORMED_TRIES, JudgeRefused, _check_runnable, _Usage
from annotate.services.judging_config import judge_config_get
from annotate.work import Kind, Outcome, claims
from annotate.work.kinds import send_each_on_commit

log = logging.getLogger(__name__)


def reviews_send(ids) -> None:
    """One task message per review, sent once the current transaction commits."""
    send_each_on_commit("ttc_review_task", "review_id", ids)


REVIEWS = Kind(
    name="review",
    noun="reviews",
    model=CandidateReview,
    send=lambda job, ids: reviews_send(ids),
)


def reviews_start(*, campaign: Campaign, actor: User | None, task: str) -> int:
    """Queue a review of ``task`` (score | answer) for every finished sample that has none from the
    judge's current model; returns how many are now pending."""
    if task not in CandidateReview.Task.values:
        raise JudgeRefused(f"Unknown review {task!r}: score or answer.")
    config = judge_config_get(campaign=campaign)
    _check_runnable(config)
    with transaction.atomic():
        ids = Candidate.objects.filter(
            prompt__campaign=campaign, status=Candidate.Status.DONE
        ).values_list("id", flat=True)
        CandidateReview.objects.bulk_create(
            [
                CandidateReview(
                    campaign=campaign,
                    candidate_id=cid,
                    task=task,
                    provider=config.provider,
                    model=config.model,
                )
                for cid in ids
            ],
            batch_size=1000,
            ignore_conflicts=True,
        )
        mine = CandidateReview.objects.filter(campaign=campaign, task=task, model=config.model)
        mine.filter(status=CandidateReview.Status.FAILED).update(
            status=CandidateReview.Status.PENDING, attempts=0, error=""
        )
        pending = list(
            mine.filter(status=CandidateReview.Status.PENDING).values_list("id", flat=True)
        )
        reviews_send(pending)
    log.info("%s reviews of %s by %s: %d pending", task, campaign.slug, actor, len(pending))
    return len(pending)


def review_call(review: CandidateReview, *, max_tokens: int) -> JudgeCall:
    candidate, prompt = review.candidate, review.candidate.prompt
    score = review.task == CandidateReview.Task.SCORE
    return JudgeCall(
        custom_id=f"r{review.id}",
        rubric=judge_samples.VERIFIER_RUBRIC if score else judge_samples.READER_RUBRIC,
        user_text=judge_samples.sample_text(
            messages=prompt.messages,
            system=prompt.system,
            response=candidate.text,
            task=review.task,
        ),
        model=review.model,
        spec=VerdictSpec(),  # unused: the tool below replaces the verdict's
        max_tokens=max_tokens,
        first_text=candidate.text,
        tool=judge_samples.score_tool() if score else judge_samples.answer_tool(),
    )


def review_run(*, review_id: int) -> Outcome:
    """Claim, ask the judge outside any transaction, write under the claim. The task body."""
    token = claims.claim(REVIEWS, review_id)
    if token is None:
        return Outcome("skipped")
    review = CandidateReview.objects.select_related("campaign", "candidate__prompt").get(
        id=review_id
    )
    config = judge_config_get(campaign=review.campaign)
    call = review_call(review, max_tokens=int((config.params or {}).get("max_tokens", 1024)))
    usage = _Usage()
    budget = None
    try:
        target = judge_provider_config(config)
        prompt = ([{"role": "user", "content": call.user_text}], call.rubric)
        budget = ratelimit.ratelimit_take(config=target, params=config.params or {}, calls=[prompt])
        if budget.wait:
            claims.release(REVIEWS, review_id, token)
            return Outcome("retry", retry_in=budget.wait)
        provider = provider_for(target)
        problem = ""
        for attempt in range(MALFORMED_TRIES):
            if attempt:
                budget.extend(calls=[prompt])
            reply = provider.judge(call)
            usage.add(reply, provider=review.provider, model=review.model)
            try:
                if review.task == CandidateReview.Task.SCORE:
                    values = dict(
                        zip(
                            ("score", "rationale"),
                            judge_samples.parse_score(reply.tool_input),
                            strict=True,
                        )
                    )
                else:
                    values = {"answer": judge_samples.parse_answer(reply.tool_input)}
                break
            except judge_samples.Malformed as exc:
                problem = str(exc)
        else:
            budget.settle(used=usage.tokens)
            claims.fail(
                REVIEWS,
                review_id,
                token,
                f"Malformed answer {MALFORMED_TRIES} times: {problem}",
                job_id=None,
                also=usage.updates(),
            )
            return Outcome("failed")
    except Exception as exc:
        if budget is not None:
            budget.settle(used=usage.tokens)
        return claims.record_exception(
            REVIEWS, review_id, token, exc, job_id=None, also=usage.updates()
        )
    budget.settle(used=usage.tokens)
    written = claims.held(REVIEWS, review_id, token).update(
        status=CandidateReview.Status.DONE,
        error="",
        finished_at=timezone.now(),
        **values,
        **usage.updates(),
    )
    if written and review.task == CandidateReview.Task.ANSWER:
        _answer_beside_the_sample(review, values["answer"])
    return Outcome("done")


def _answer_beside_the_sample(review: CandidateReview, answer: str) -> None:
    rule = TTCConfig.objects.filter(campaign_id=review.campaign_id).values_list(
        "answer_rule", flat=True
    )
    if rule.first() == TTCConfig.Rule.JUDGE:
        Candidate.objects.filter(id=review.candidate_id).update(
            final_answer=answer, answer_rule=TTCConfig.Rule.JUDGE
        )
