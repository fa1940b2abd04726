"""What verdicts are used for: reveal/revise, RLAIF auto-labels, best-of-N rankings, analytics.

* ``verdict_for_pair`` — the verdict a rater may see (after their vote, or before in before-vote mode).
* ``judgment_revise`` — after the reveal the rater may revise: a new Judgment pointing at the first.
* ``judge_auto_label`` — RLAIF labels (Judgment.source="judge"), refused unless Cohen's κ between the
  judge and the humans on the campaign's human-labelled pairs reaches the admin's threshold.
* ``judge_rankings`` — {prompt id: candidate ids best → worst} for the "judge best vs worst" pairing.
* ``judge_analytics`` — rows for annotate/analytics/judge.py, and its results.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Length

from annotate.analytics import judge as stats
from annotate.judge.ranking import rank_candidates
from annotate.models import Campaign, JudgeVerdict, Judgment, User
from annotate.services.judging import JudgeRefused, judge_config_get
from annotate.services.judgments import VoteRefused, judgment_validate

INCONSISTENT = JudgeVerdict.INCONSISTENT


def _latest_done(campaign: Campaign):
    return JudgeVerdict.objects.filter(campaign=campaign, status=JudgeVerdict.Status.DONE).order_by(
        "finished_at", "id"
    )


def verdict_for_pair(*, pair_id: int) -> JudgeVerdict | None:
    """The most recent finished verdict on this pair (consistent or not), or None."""
    return (
        JudgeVerdict.objects.filter(pair_id=pair_id, status=JudgeVerdict.Status.DONE)
        .order_by("-finished_at", "-id")
        .first()
    )


def current_verdicts(*, campaign: Campaign) -> dict[int, JudgeVerdict]:
    """pair id -> its latest finished verdict."""
    out: dict[int, JudgeVerdict] = {}
    for v in _latest_done(campaign).filter(pair__isnull=False):
        out[v.pair_id] = v
    return out


# --- reveal and revise ------------------------------------------------------------------------


def judge_shown_for_vote(*, campaign: Campaign, assignment_id: int) -> bool:
    """Before-vote mode: was the judge's suggestion on the page for this lease? (It is shown whenever
    a finished verdict on the pair exists, so: does one exist now.) False in every other mode,
    without a query."""
    if campaign.judge_mode != Campaign.JudgeMode.BEFORE_VOTE:
        return False
    return JudgeVerdict.objects.filter(
        pair__assignments__id=assignment_id, status=JudgeVerdict.Status.DONE
    ).exists()


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
        raise VoteRefused("You can only revise your own vote.", code="revise")
    if judgment.revises_id is not None:
        raise VoteRefused("Revise your first vote, not a revision.", code="revise")
    campaign = judgment.campaign
    if campaign.judge_mode != Campaign.JudgeMode.AFTER_VOTE:
        raise VoteRefused("This campaign does not reveal the judge after the vote.", code="revise")
    if verdict_for_pair(pair_id=judgment.pair_id) is None:
        raise VoteRefused(
            "There is no judge verdict on this pair to revise against.", code="revise"
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


def judge_agreement(*, campaign: Campaign) -> stats.KappaResult:
    """Cohen's κ between the judge and the humans' blind majority on the campaign's pairs."""
    votes = _vote_rows(campaign)
    human = stats.human_labels(votes)
    judge = {pid: v.choice for pid, v in current_verdicts(campaign=campaign).items()}
    return stats.kappa(judge, human, n_boot=500)


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
    before = Judgment.objects.filter(campaign=campaign, source=Judgment.Source.JUDGE).count()
    Judgment.objects.bulk_create(labels, ignore_conflicts=True)
    created = (
        Judgment.objects.filter(campaign=campaign, source=Judgment.Source.JUDGE).count() - before
    )
    return AutoLabelReport(created=created, kappa=result.kappa, n=result.n)


# --- best-of-N --------------------------------------------------------------------------------


def judge_rankings(*, campaign: Campaign) -> dict[int, list[int]]:
    """{prompt id: candidate ids best → worst} from the campaign's finished verdicts (the latest per
    candidate pair). Prompts with no verdict are absent."""
    latest: dict[tuple[int, int], tuple[int, str]] = {}
    for prompt_id, a, b, choice in _latest_done(campaign).values_list(
        "prompt_id", "candidate_a_id", "candidate_b_id", "choice"
    ):
        latest[(a, b)] = (prompt_id, choice)
    by_prompt: dict[int, list[tuple[int, int, str]]] = {}
    for (a, b), (prompt_id, choice) in latest.items():
        by_prompt.setdefault(prompt_id, []).append((a, b, choice))
    rankings = {}
    for prompt_id, verdicts in by_prompt.items():
        ids = sorted({c for a, b, _ in verdicts for c in (a, b)})
        rankings[prompt_id] = rank_candidates(ids, verdicts)
    return rankings


def judge_best_pairs_build(*, campaign: Campaign, actor: User | None):
    """Seed recipe, last step: switch the campaign to "judge best vs judge worst" pairing, build the
    pairs (services/pairing.py reads ``judge_rankings``), and attach the ranking's verdicts to them."""
    from annotate.services.judging import verdicts_link_pairs
    from annotate.services.pairing import pairs_build_report

    if not judge_rankings(campaign=campaign):
        raise JudgeRefused("Rank the candidates first (best-of-N), then build the pairs.")
    if campaign.pairing != Campaign.Pairing.JUDGE_RANKED:
        campaign.pairing = Campaign.Pairing.JUDGE_RANKED
        campaign.save(update_fields=["pairing"])
    report = pairs_build_report(campaign=campaign)
    verdicts_link_pairs(campaign=campaign)
    return report


# --- analytics --------------------------------------------------------------------------------


def _vote_rows(campaign: Campaign) -> list[stats.VoteRow]:
    return [
        stats.VoteRow(
            id=i, pair_id=p, rater_id=r, choice=c, aspects=a or {}, judge_shown=s, revises_id=rv
        )
        for i, p, r, c, a, s, rv in Judgment.objects.filter(
            campaign=campaign, source=Judgment.Source.HUMAN
        ).values_list("id", "pair_id", "rater_id", "choice", "aspects", "judge_shown", "revises_id")
    ]


def _verdict_rows(campaign: Campaign) -> list[stats.VerdictRow]:
    """The latest finished verdict per pair, with response lengths computed in the database."""
    rows: dict[int, stats.VerdictRow] = {}
    for pair_id, choice, o1, o2, aspects, model, len_a, len_b, model_a, model_b in (
        _latest_done(campaign)
        .filter(pair__isnull=False)
        .annotate(len_a=Length("candidate_a__text"), len_b=Length("candidate_b__text"))
        .values_list(
            "pair_id",
            "choice",
            "order1",
            "order2",
            "aspects",
            "model",
            "len_a",
            "len_b",
            "candidate_a__generator__model",
            "candidate_b__generator__model",
        )
    ):
        rows[pair_id] = stats.VerdictRow(
            pair_id=pair_id,
            choice=choice,
            order1_choice=(o1 or {}).get("choice", ""),
            order2_choice=(o2 or {}).get("choice", ""),
            aspects=aspects or {},
            judge_model=model,
            len_a=len_a or 0,
            len_b=len_b or 0,
            model_a=model_a,
            model_b=model_b,
        )
    return list(rows.values())


def judge_analytics(*, campaign: Campaign) -> dict:
    votes = _vote_rows(campaign)
    verdicts = _verdict_rows(campaign)
    human = stats.human_labels(votes)
    judge = {v.pair_id: v.choice for v in verdicts}
    all_done = JudgeVerdict.objects.filter(campaign=campaign, status=JudgeVerdict.Status.DONE)
    swap_rows = [
        stats.VerdictRow(
            pair_id=0,
            choice=c,
            order1_choice=(o1 or {}).get("choice", ""),
            order2_choice=(o2 or {}).get("choice", ""),
        )
        for c, o1, o2 in all_done.values_list("choice", "order1", "order2")
    ]
    return {
        "kappa": stats.kappa(judge, human),
        "aspects": stats.aspect_kappas(verdicts, votes),
        "swap": stats.swap_consistency(swap_rows),
        "length": stats.length_bias(verdicts, human),
        "self_preference": stats.self_preference(verdicts, human),
        "anchoring": stats.anchoring(votes, judge),
        "judged_pairs": len(verdicts),
        "human_pairs": len(human),
        "failed": JudgeVerdict.objects.filter(
            Q(campaign=campaign) & Q(status=JudgeVerdict.Status.FAILED)
        ).count(),
    }
