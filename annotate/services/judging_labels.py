"""What verdicts are used for (the writes): revise after the reveal, RLAIF auto-labels, best pairs.

* ``judgment_revise`` — after the reveal the rater may revise: a new Judgment pointing at the first.
* ``judge_auto_label`` — RLAIF labels (Judgment.source="judge"), refused unless Cohen's κ between the
  judge and the humans on the campaign's human-labelled pairs reaches the admin's threshold.
* ``judge_best_pairs_build`` — pair each prompt's judge-best with its judge-worst for humans.

The reads they rest on (the verdict shown, κ, rankings, analytics) are in selectors/judging.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils.translation import gettext

from annotate.models import Campaign, JudgeVerdict, Judgment, User
from annotate.selectors.judging import (
    current_verdicts,
    judge_agreement,
    judge_label_count,
    judge_rankings,
    verdict_for_pair,
)
from annotate.services.campaign_stats import stats_vote_arrived_on_commit
from annotate.services.judging import JudgeRefused, judge_config_get
from annotate.services.judgments import VoteRefused, judgment_validate

INCONSISTENT = JudgeVerdict.INCONSISTENT


# --- reveal and revise ------------------------------------------------------------------------


def judgment_revise(
    *,
    judgment: Judgment,
    rater: User,
    choice: str,
    strength: int | None = None,
    aspects: dict | None = None,
    rationale: str = "",
) -> Judgment:
    """Store a revision of ``judgment`` (canonical a/b terms) made after the judge was revealed.

    The first vote stays as it was; the revision is a new row with ``revises`` and
    ``judge_shown=True``. One revision per vote: submitting again returns the stored revision.
    Revising to the vote itself (same choice and strength) stores nothing and returns ``judgment``:
    that is keeping it, and a revision equal to its vote would read as a change of mind.
    """
    if judgment.rater_id != rater.pk or judgment.source != Judgment.Source.HUMAN:
        raise VoteRefused(gettext("You can only revise your own vote."), code="revise")
    if judgment.revises_id is not None:
        raise VoteRefused(gettext("Revise your first vote, not a revision."), code="revise")
    campaign = judgment.campaign
    if campaign.judge_mode != Campaign.JudgeMode.AFTER_VOTE:
        raise VoteRefused(
            gettext("This campaign does not reveal the judge after the vote."), code="revise"
        )
    if verdict_for_pair(pair_id=judgment.pair_id) is None:
        raise VoteRefused(
            gettext("There is no judge verdict on this pair to revise against."), code="revise"
        )
    existing = judgment.revisions.first()
    if existing is not None:
        return existing
    strength, aspects, rationale, _ = judgment_validate(
        campaign=campaign,
        choice=choice,
        strength=strength,
        aspects=aspects if aspects is not None else dict(judgment.aspects or {}),
        rationale=rationale,
        rewrite="",
    )
    if (choice, strength) == (judgment.choice, judgment.strength):
        return judgment
    try:
        with transaction.atomic():
            stats_vote_arrived_on_commit(campaign_id=campaign.pk)
            return Judgment.objects.create(
                campaign=campaign,
                pair_id=judgment.pair_id,
                assignment_id=judgment.assignment_id,
                rater=rater,
                choice=choice,
                strength=strength,
                aspects=aspects,
                rationale=rationale,
                left_is_a=judgment.left_is_a,
                judge_shown=True,
                revises=judgment,
                idempotency_key=f"revise:{judgment.pk}",
            )
    except IntegrityError:  # a double-click: the first submit won
        return judgment.revisions.get()


# --- RLAIF auto-labels ------------------------------------------------------------------------


@dataclass(frozen=True)
class AutoLabelReport:
    created: int
    kappa: float
    n: int


def judge_auto_label(*, campaign: Campaign, actor: User | None) -> AutoLabelReport:
    """Label every judged pair as Judgment(source="judge"), only if κ ≥ the admin's threshold on
    enough human-labelled pairs. Inconsistent verdicts label nothing. Idempotent per verdict."""
    if campaign.judge_mode != Campaign.JudgeMode.AUTO_LABEL:
        raise JudgeRefused("Set the judge mode to “Auto-label (RLAIF)” first.")
    config = judge_config_get(campaign=campaign)
    result = judge_agreement(campaign=campaign)
    if result.n < config.auto_label_min_pairs:
        raise JudgeRefused(
            f"Not enough evidence yet: the judge and the humans overlap on {result.n} pairs; "
            f"auto-labelling needs at least {config.auto_label_min_pairs}."
        )
    if result.kappa is None or result.kappa < config.auto_label_min_kappa:
        shown = "undefined" if result.kappa is None else f"{result.kappa:.2f}"
        raise JudgeRefused(
            f"Refused: the judge agrees with the humans at κ = {shown} on {result.n} pairs, below "
            f"the threshold of {config.auto_label_min_kappa:.2f}. Collect more human labels, "
            "improve the rubric, or lower the threshold."
        )
    labels = [
        Judgment(
            campaign=campaign,
            pair_id=pair_id,
            source=Judgment.Source.JUDGE,
            choice=v.choice,
            strength=v.strength if campaign.scale == Campaign.Scale.GRADED7 else None,
            aspects={k: val for k, val in (v.aspects or {}).items() if val != INCONSISTENT},
            rationale=v.rationale,
            idempotency_key=f"judge:{v.pk}",
        )
        for pair_id, v in current_verdicts(campaign=campaign).items()
        if v.consistent and v.choice != INCONSISTENT
    ]
    before = judge_label_count(campaign=campaign)
    Judgment.objects.bulk_create(labels, ignore_conflicts=True)
    created = judge_label_count(campaign=campaign) - before
    return AutoLabelReport(created=created, kappa=result.kappa, n=result.n)


# --- best-of-N --------------------------------------------------------------------------------


def judge_best_pairs_build(*, campaign: Campaign, actor: User | None):
    """Seed recipe, last step: switch the campaign to "judge best vs judge worst" pairing, build the
    pairs (services/pairing.py reads ``judge_rankings``, selectors/judging.py), and attach the
    ranking's verdicts to them."""
    from annotate.services.judging import verdicts_link_pairs
    from annotate.services.pairing import pairs_build_report

    if campaign.uses_sets:
        raise JudgeRefused(
            f"This campaign's protocol is {campaign.protocol}: it has no pairs to build."
        )
    if not judge_rankings(campaign=campaign):
        raise JudgeRefused("Rank the candidates first (best-of-N), then build the pairs.")
    if campaign.pairing != Campaign.Pairing.JUDGE_RANKED:
        campaign.pairing = Campaign.Pairing.JUDGE_RANKED
        campaign.save(update_fields=["pairing"])
    report = pairs_build_report(campaign=campaign)
    verdicts_link_pairs(campaign=campaign)
    return report
