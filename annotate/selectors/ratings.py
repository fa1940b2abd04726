"""Reads of the rating protocol: its scores per prompt, as export rows and as analytics.

**Pairs from ratings.** Every pairwise export format is built from vote rows (one per judgment
on a pair; annotate/selectors/exports.py). A rating campaign gives the same rows, derived per
prompt (annotate/protocols/rating.py): each candidate's aggregated score is the mean of its human
overall scores (gold sets and raters the export leaves out do not count), and the best candidate
is paired with each one at least ``min_gap`` lower (``best_vs_each``) or with one of them drawn
with the export's seed (``best_vs_random``). A derived pair is one row: choice a or b (a = the
lower candidate id), strength = the score gap (the reward margin), ``pair_id`` = ``judgment_id``
= prompt id × 10⁶ + the pair's number among the prompt's pairs, so rows sort by prompt.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from itertools import groupby

from django.db.models import Count, Max

from annotate.models import Candidate, RatingScore, RatingVote
from annotate.models.sets import counted_votes
from annotate.protocols.rating import aggregated_scores, rating_pairs
from annotate.selectors.exports import generator_names

_SCORE_FIELDS = (
    "id",
    "vote_id",
    "vote__candidate_set_id",
    "vote__candidate_set__prompt_id",
    "vote__rater_id",
    "vote__source",
    "vote__shown_order",
    "vote__time_on_task_ms",
    "vote__created_at",
    "candidate_id",
    "overall",
    "aspects",
    "rationale",
)


def rating_scores(*, campaign_id: int, chunk_size: int = 2000) -> Iterator[dict]:
    """Every score row of the campaign's counted ratings (a rater's latest row per set:
    ``counted_votes``), ordered by prompt, vote, score."""
    rows = (
        RatingScore.objects.filter(
            vote__in=counted_votes(RatingVote.objects.filter(campaign_id=campaign_id))
        )
        .order_by("vote__candidate_set__prompt_id", "vote_id", "id")
        .values_list(*_SCORE_FIELDS)
        .iterator(chunk_size=chunk_size)
    )
    for values in rows:
        yield dict(zip(_SCORE_FIELDS, values, strict=True))


def _prompt_facts(prompt_id: int) -> dict:
    from annotate.models import Prompt

    return (
        Prompt.objects.filter(pk=prompt_id)
        .values("content_hash", "external_id", "messages", "system")
        .get()
    )


def rating_prompts(*, campaign_id: int) -> Iterator[tuple[int, dict, list[dict]]]:
    """(prompt id, prompt facts, score rows) per prompt that has ratings, by prompt."""
    for prompt_id, rows in groupby(
        rating_scores(campaign_id=campaign_id), key=lambda r: r["vote__candidate_set__prompt_id"]
    ):
        yield prompt_id, _prompt_facts(prompt_id), list(rows)


def _candidates(ids) -> dict[int, dict]:
    return {
        c["pk"]: c
        for c in Candidate.objects.filter(pk__in=list(ids)).values(
            "pk", "text", "reasoning", "generator_id"
        )
    }


def rating_export_rows(
    *,
    campaign_id: int,
    mode: str = "best_vs_each",
    min_gap: float = 1.0,
    seed: int = 0,
    source: str = "human",
    excluded_raters: frozenset = frozenset(),
    reasoning: bool = False,
    **_: object,
) -> Iterator[dict]:
    """The campaign's ratings as pairwise vote rows (the keys of export_vote_rows), sorted by
    prompt then derived pair."""
    names = generator_names(campaign_id=campaign_id)
    for prompt_id, facts, rows in rating_prompts(campaign_id=campaign_id):
        scores: dict[int, list[float]] = {}
        for row in rows:
            if row["vote__source"] != source:
                continue
            if source == "human" and row["vote__rater_id"] in excluded_raters:
                continue
            scores.setdefault(row["candidate_id"], []).append(float(row["overall"]))
        means = aggregated_scores(scores)
        rng = random.Random(f"{seed}:{prompt_id}")
        pairs = rating_pairs(means, mode=mode, min_gap=min_gap, rng=rng)
        if not pairs:
            continue
        texts = _candidates(means)
        last = max(r["vote__created_at"] for r in rows)
        for n, pair in enumerate(sorted(pairs, key=lambda p: (min(p[:2]), max(p[:2])))):
            a, b = sorted((pair.chosen, pair.rejected))
            ca, cb = texts[a], texts[b]
            number = prompt_id * 1_000_000 + n
            row = {
                "judgment_id": number,
                "pair_id": number,
                "prompt_id": prompt_id,
                "prompt_hash": facts["content_hash"],
                "prompt_external_id": facts["external_id"],
                "messages": facts["messages"],
                "system": facts["system"],
                "a_text": ca["text"],
                "b_text": cb["text"],
                "a_generator": names.get(ca["generator_id"], ""),
                "b_generator": names.get(cb["generator_id"], ""),
                "gold_answer": "",
                "rater_id": None,
                "source": source,
                "choice": "a" if pair.chosen == a else "b",
                "strength": pair.gap,
                "aspects": {},
                "rationale": "",
                "rewrite": "",
                "left_is_a": True,
                "time_on_task_ms": None,
                "judge_shown": False,
                "revises_id": None,
                "created_at": last,
                "judge_verdict": None,
            }
            if reasoning:
                row["a_reasoning"] = ca["reasoning"]
                row["b_reasoning"] = cb["reasoning"]
            yield row


def rating_rows_for_raw(*, campaign_id: int) -> Iterator[dict]:
    """One row per (rating, response) for the raw ``ratings`` format (annotate/exports/ratings.py),
    and the KTO rows' scores: score row + prompt facts + the candidate's text and generator."""
    names = generator_names(campaign_id=campaign_id)
    for prompt_id, facts, rows in rating_prompts(campaign_id=campaign_id):
        texts = _candidates({r["candidate_id"] for r in rows})
        for row in rows:
            candidate = texts[row["candidate_id"]]
            yield {
                "score": row,
                "prompt_id": prompt_id,
                "prompt": facts,
                "text": candidate["text"],
                "reasoning": candidate["reasoning"],
                "generator": names.get(candidate["generator_id"], ""),
            }


def rating_voters(*, campaign_id: int) -> list[dict]:
    """Raters who rated in the campaign, with their counts (as campaign_voters for pairs)."""
    return list(
        counted_votes(
            RatingVote.objects.filter(campaign_id=campaign_id, source=RatingVote.Source.HUMAN)
        )
        .values("rater_id", "rater__username")
        .annotate(votes=Count("id"), last_vote=Max("created_at"))
        .order_by("rater__username")
    )


def rating_analytics(*, campaign) -> dict:
    """Interval α per aspect (and overall) over the human ratings, the campaign's progress, and
    the humans' agreement with the AI judge (``rating_judge_agreement``)."""
    from annotate.analytics.agreement import interval_alpha_by_aspect
    from annotate.services.sets import set_progress

    units = []
    judge: dict[tuple[int, int], dict] = {}
    for row in rating_scores(campaign_id=campaign.id):
        unit = (row["vote__candidate_set_id"], row["candidate_id"])
        values = {"overall": row["overall"], **(row["aspects"] or {})}
        if row["vote__source"] == "judge":
            judge[unit] = values  # by vote id: the latest judge vote on a set wins
        elif row["vote__source"] == "human":
            units.append((unit, row["vote__rater_id"], values))
    names = ["overall", *(campaign.aspects or [])]
    return {
        "rating_progress": set_progress(campaign=campaign),
        "ratings": len({(u[0], r) for u, r, _ in units}),
        "rating_alpha": interval_alpha_by_aspect(units, aspects=names),
        **rating_judge_agreement(human=units, judge=judge, aspects=names),
    }


def rating_judge_agreement(*, human: list[tuple], judge: dict, aspects: list[str]) -> dict:
    """The AI judge against the humans, per response both scored: Krippendorff's α (interval) per
    aspect between the judge's score and the raters' mean score (two "raters": the judge, the
    humans' mean), and Pearson's r of the overall scores. Both None where not defined (fewer than
    two responses, or no spread)."""
    from annotate.analytics.agreement import interval_alpha_by_aspect

    sums: dict[tuple, dict[str, list[float]]] = {}
    for unit, _, values in human:
        if unit in judge:
            for name, value in values.items():
                sums.setdefault(unit, {}).setdefault(name, []).append(float(value))
    pairs = []
    for unit, by_name in sums.items():
        mean = {name: sum(v) / len(v) for name, v in by_name.items()}
        pairs += [(unit, 0, judge[unit]), (unit, 1, mean)]
    overall = [(float(judge[u]["overall"]), m["overall"]) for u, _, m in pairs[1::2]]
    return {
        "rating_judge_alpha": interval_alpha_by_aspect(pairs, aspects=aspects),
        "rating_judge_r": _pearson(overall),
        "rating_judge_responses": len(sums),
        "rating_judge_sets": len({unit[0] for unit in judge}),
    }


def _pearson(points: list[tuple[float, float]]) -> float | None:
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxy = sum((x - mx) * (y - my) for x, y in points)
    sxx = sum((x - mx) ** 2 for x, _ in points)
    syy = sum((y - my) ** 2 for _, y in points)
    if sxx == 0 or syy == 0:
        return None
    return sxy / (sxx * syy) ** 0.5


def rating_judge_scores(
    *, campaign, candidate_set_id: int, shown_order: list[int], voted: bool
) -> list[dict] | None:
    """The AI judge's scores of a unit in a rater's shown numbers, ``[{"number", "overall",
    "aspects", "rationale"}]``, or None: before the rater's vote only where the campaign shows
    the judge before the vote, after it only where it reveals the judge after the vote
    (``Campaign.judge_shown``), and only once the judge has scored the unit. Callers pass
    ``voted=True`` only after the rater's vote is stored."""
    if not campaign.judge_shown(voted=voted):
        return None
    vote = (
        RatingVote.objects.filter(
            campaign=campaign,
            candidate_set_id=candidate_set_id,
            source=RatingVote.Source.JUDGE,
        )
        .order_by("-id")
        .first()
    )
    if vote is None:
        return None
    scores = {s.candidate_id: s for s in vote.scores.all()}
    out = []
    for number, cid in enumerate(shown_order, start=1):
        score = scores.get(cid)
        if score is None:  # the unit changed since the judge scored it
            return None
        out.append(
            {
                "number": number,
                "overall": score.overall,
                "aspects": dict(score.aspects or {}),
                "rationale": score.rationale,
            }
        )
    return out


def rating_judge_progress(*, campaign) -> dict | None:
    """The rating judge's rows of the campaign, counted (the judge page), with the newest
    failure's error; None before the judge was started."""
    from django.db.models import Q, Sum

    from annotate.models import RatingJudgement

    rows = RatingJudgement.objects.filter(campaign=campaign)
    Status = RatingJudgement.Status
    counts = rows.aggregate(
        total=Count("id"),
        done=Count("id", filter=Q(status=Status.DONE)),
        failed=Count("id", filter=Q(status=Status.FAILED)),
        cost=Sum("cost_usd"),
    )
    if not counts["total"]:
        return None
    failed = rows.filter(status=Status.FAILED).order_by("-finished_at", "-id").first()
    return {**counts, "error": failed.error if failed else ""}
