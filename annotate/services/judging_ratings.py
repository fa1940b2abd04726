"""The AI judge on rating units (protocol "rating"): score every response of each unit on the
campaign's scale, overall and per aspect, with a rationale each (annotate/judge/ratings.py),
through the campaign's judge settings. One call per unit: the judge sees the unit's responses in
their slot order and scores each on its own (UltraFeedback's layout).

A judgement row is a kind of claimable work (``RATING_JUDGEMENTS``), each row its own job; the
claim, the call and the write are the set judges' (services/judging_sets.py, shared with the step
judge). When done, its scores are a RatingVote of its own (source judge, no rater, no lease) with
a RatingScore per response, written in the same transaction as the row's DONE: exported as the
judge's source, never mixed into the humans' aggregates. Human votes are never touched.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils.translation import gettext

from annotate.judge import ratings as judge_ratings
from annotate.judge.calls import JudgeCall, VerdictSpec
from annotate.models import (
    Campaign,
    CandidateSet,
    CandidateSetMember,
    RatingJudgement,
    RatingScore,
    RatingVote,
    User,
)
from annotate.services.judging import JudgeRefused, _check_runnable
from annotate.services.judging_config import judge_config_get
from annotate.services.judging_sets import set_judge_ask, set_judge_write, set_judgements_queue
from annotate.work import Kind, Outcome, claims
from annotate.work.kinds import send_each_on_commit

log = logging.getLogger(__name__)


def rating_judgements_send(ids) -> None:
    """One task message per judgement, sent once the current transaction commits."""
    send_each_on_commit("judge_ratings_task", "judgement_id", ids)


RATING_JUDGEMENTS = Kind(
    name="rating_judgement",
    noun="rating judgements",
    model=RatingJudgement,
    send=lambda job, ids: rating_judgements_send(ids),
)


def rating_judge_start(*, campaign: Campaign, actor: User | None) -> int:
    """Queue the judge on every unit of a rating campaign that has no judgement from the judge's
    current model; returns how many are now pending."""
    if not campaign.is_rating:
        raise JudgeRefused(gettext("Only a rating campaign has responses for the judge to score."))
    config = judge_config_get(campaign=campaign)
    _check_runnable(config)
    with transaction.atomic():
        set_ids = CandidateSet.objects.filter(campaign=campaign).values_list("id", flat=True)
        if not set_ids.exists():
            raise JudgeRefused(
                gettext("This campaign has no units to judge yet: build the units first.")
            )
        pending = set_judgements_queue(
            kind=RATING_JUDGEMENTS,
            campaign=campaign,
            config=config,
            set_ids=set_ids,
            send=rating_judgements_send,
        )
    log.info("rating judgements of %s by %s: %d pending", campaign.slug, actor, len(pending))
    return len(pending)


def rating_judge_call(
    judgement: RatingJudgement, members: list[tuple[int, str]], *, max_tokens: int
) -> JudgeCall:
    """The one call of a unit: its responses (``members``: (candidate id, text) in slot order)."""
    campaign, prompt = judgement.campaign, judgement.candidate_set.prompt
    aspects = tuple(campaign.aspects or ())
    return JudgeCall(
        custom_id=f"r{judgement.id}",
        rubric=judge_ratings.rating_rubric(
            low=campaign.rating_min,
            high=campaign.rating_max,
            low_label=campaign.rating_low_label,
            high_label=campaign.rating_high_label,
            aspects=aspects,
            guidelines=campaign.guidelines,
        ),
        user_text=judge_ratings.ratings_text(
            messages=prompt.messages, system=prompt.system, responses=[t for _, t in members]
        ),
        model=judgement.model,
        spec=VerdictSpec(),  # unused: the tool below replaces the verdict's
        max_tokens=max_tokens,
        tool=judge_ratings.rating_tool(
            n=len(members), low=campaign.rating_min, high=campaign.rating_max, aspects=aspects
        ),
    )


def rating_judge_run(*, judgement_id: int) -> Outcome:
    """Claim, ask the judge outside any transaction, write under the claim. The task body."""
    token = claims.claim(RATING_JUDGEMENTS, judgement_id)
    if token is None:
        return Outcome("skipped")
    judgement = RatingJudgement.objects.select_related("campaign", "candidate_set__prompt").get(
        id=judgement_id
    )
    campaign = judgement.campaign
    members = list(
        CandidateSetMember.objects.filter(candidate_set_id=judgement.candidate_set_id)
        .order_by("slot")
        .values_list("candidate_id", "candidate__text")
    )
    config = judge_config_get(campaign=campaign)
    call = rating_judge_call(
        judgement, members, max_tokens=int((config.params or {}).get("max_tokens", 2048))
    )
    outcome, scores, usage = set_judge_ask(
        kind=RATING_JUDGEMENTS,
        judgement=judgement,
        token=token,
        config=config,
        call=call,
        parse=lambda tool_input: judge_ratings.parse_ratings(
            tool_input,
            n=len(members),
            low=campaign.rating_min,
            high=campaign.rating_max,
            aspects=tuple(campaign.aspects or ()),
        ),
    )
    if outcome is not None:
        return outcome
    order = [cid for cid, _ in members]

    def write(now):
        vote = RatingVote.objects.create(
            campaign=campaign,
            candidate_set_id=judgement.candidate_set_id,
            rater=None,
            source=RatingVote.Source.JUDGE,
            shown_order=order,
            created_at=now,
        )
        RatingScore.objects.bulk_create(
            RatingScore(vote=vote, candidate_id=cid, **entry)
            for cid, entry in zip(order, scores, strict=True)
        )
        return vote

    return set_judge_write(
        kind=RATING_JUDGEMENTS, judgement=judgement, token=token, usage=usage, write=write
    )
