"""Reads of the ranking protocol: its votes as export rows, and the rows its analytics read.

**Pairs from rankings.** Every pairwise export format is built from vote rows (one per judgment
on a pair; annotate/selectors/exports.py). A ranking campaign gives the same rows, derived: each
ranking becomes the comparisons ``derived_pairs`` makes (``all``: K(K-1)/2; ``best_vs_rest``),
each one a row with choice a / b / tie (``both_bad`` when the rater marked all bad) and strength
= the rank distance, so the margin grows with it. A derived pair is numbered from its set and the
two members' slots (``set id × 100 + slot_a × 10 + slot_b``; a = the lower slot), and a derived
vote from its ranking likewise (``vote id × 100 + the same two digits``), so rows sort and count
as judgments on pairs do. Rows come sorted by prompt, pair, vote; memory holds one set's votes.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import groupby

from django.db.models import Count, Max

from annotate.models import Candidate, CandidateSet, CandidateSetMember, RankingVote
from annotate.models.sets import counted_votes
from annotate.protocols.ranking import derived_pairs
from annotate.selectors.exports import generator_names

_VOTE_FIELDS = (
    "id",
    "candidate_set_id",
    "candidate_set__prompt_id",
    "rater_id",
    "source",
    "ranking",
    "shown_order",
    "all_bad",
    "aspects",
    "rationale",
    "rewrite",
    "time_on_task_ms",
    "revises_id",
    "created_at",
)


def ranking_votes(*, campaign_id: int, chunk_size: int = 2000) -> Iterator[dict]:
    """Every counted ranking vote of the campaign (a rater's latest row per set:
    ``counted_votes``), ordered by prompt, set, vote id."""
    rows = (
        counted_votes(RankingVote.objects.filter(campaign_id=campaign_id))
        .order_by("candidate_set__prompt_id", "candidate_set_id", "id")
        .values_list(*_VOTE_FIELDS)
        .iterator(chunk_size=chunk_size)
    )
    for values in rows:
        yield dict(zip(_VOTE_FIELDS, values, strict=True))


def _members(set_id: int, *, reasoning: bool) -> list[dict]:
    fields = ["slot", "candidate_id", "candidate__text", "candidate__generator_id"]
    if reasoning:
        fields.append("candidate__reasoning")
    return list(
        CandidateSetMember.objects.filter(candidate_set_id=set_id).order_by("slot").values(*fields)
    )


def _set_facts(set_id: int) -> dict:
    return (
        CandidateSet.objects.filter(pk=set_id)
        .values(
            "prompt_id",
            "gold_ranking",
            "prompt__content_hash",
            "prompt__external_id",
            "prompt__messages",
            "prompt__system",
        )
        .get()
    )


def ranking_sets(*, campaign_id: int, reasoning: bool = False) -> Iterator[tuple[dict, list, list]]:
    """(set facts, members in slot order, votes) per set that has votes, by prompt then set."""
    for set_id, votes in groupby(
        ranking_votes(campaign_id=campaign_id), key=lambda v: v["candidate_set_id"]
    ):
        yield (
            {"id": set_id, **_set_facts(set_id)},
            _members(set_id, reasoning=reasoning),
            list(votes),
        )


def ranking_export_rows(
    *,
    campaign_id: int,
    mode: str = "all",
    lean: bool = False,
    chunk_size: int = 5000,
    reasoning: bool = False,
) -> Iterator[dict]:
    """The campaign's rankings as pairwise vote rows (the keys of export_vote_rows), sorted by
    prompt, derived pair, derived vote. ``lean`` is accepted for the same call shape (the rows
    are the same either way)."""
    names = generator_names(campaign_id=campaign_id)
    for facts, members, votes in ranking_sets(campaign_id=campaign_id, reasoning=reasoning):
        slot = {m["candidate_id"]: m for m in members}
        gold = (
            {(p.a, p.b): p.choice for p in derived_pairs(facts["gold_ranking"], mode="all")}
            if facts["gold_ranking"]
            else {}
        )
        rows = []
        for vote in votes:
            shown = {cid: i for i, cid in enumerate(vote["shown_order"])}
            for pair in derived_pairs(vote["ranking"], mode=mode):
                ma, mb = slot[pair.a], slot[pair.b]
                if ma["slot"] > mb["slot"]:  # a = the lower slot, as the numbering says
                    ma, mb = mb, ma
                    choice = {"a": "b", "b": "a"}.get(pair.choice, pair.choice)
                else:
                    choice = pair.choice
                code = ma["slot"] * 10 + mb["slot"]
                key = tuple(sorted((ma["candidate_id"], mb["candidate_id"])))
                gold_choice = gold.get(key, "")
                if gold_choice and key[0] != ma["candidate_id"]:
                    gold_choice = {"a": "b", "b": "a"}.get(gold_choice, gold_choice)
                row = {
                    "judgment_id": vote["id"] * 100 + code,
                    "pair_id": facts["id"] * 100 + code,
                    "prompt_id": facts["prompt_id"],
                    "prompt_hash": facts["prompt__content_hash"],
                    "prompt_external_id": facts["prompt__external_id"],
                    "messages": facts["prompt__messages"],
                    "system": facts["prompt__system"],
                    "a_text": ma["candidate__text"],
                    "b_text": mb["candidate__text"],
                    "a_generator": names.get(ma["candidate__generator_id"], ""),
                    "b_generator": names.get(mb["candidate__generator_id"], ""),
                    "gold_answer": gold_choice,
                    "rater_id": vote["rater_id"],
                    "source": vote["source"],
                    "choice": "both_bad" if vote["all_bad"] else choice,
                    "strength": None if vote["all_bad"] or choice == "tie" else pair.distance,
                    "aspects": {},
                    "rationale": vote["rationale"],
                    "rewrite": vote["rewrite"],
                    "left_is_a": shown[ma["candidate_id"]] < shown[mb["candidate_id"]],
                    "time_on_task_ms": vote["time_on_task_ms"],
                    "judge_shown": False,
                    "revises_id": vote["revises_id"],
                    "created_at": vote["created_at"],
                    "judge_verdict": None,
                }
                if reasoning:
                    row["a_reasoning"] = ma.get("candidate__reasoning", "")
                    row["b_reasoning"] = mb.get("candidate__reasoning", "")
                rows.append(row)
        rows.sort(key=lambda r: (r["pair_id"], r["judgment_id"]))
        yield from rows


def ranking_rows_for_raw(*, campaign_id: int) -> Iterator[dict]:
    """One row per ranking for the raw ``ranking`` format (annotate/exports/rankings.py)."""
    names = generator_names(campaign_id=campaign_id)
    for facts, members, votes in ranking_sets(campaign_id=campaign_id):
        for vote in votes:
            yield {
                "vote": vote,
                "set": facts,
                "members": [
                    {
                        "candidate_id": m["candidate_id"],
                        "text": m["candidate__text"],
                        "generator": names.get(m["candidate__generator_id"], ""),
                    }
                    for m in members
                ],
            }


def ranking_voters(*, campaign_id: int) -> list[dict]:
    """Raters who ranked in the campaign, with their counts (as campaign_voters for pairs)."""
    return list(
        counted_votes(
            RankingVote.objects.filter(campaign_id=campaign_id, source=RankingVote.Source.HUMAN)
        )
        .values("rater_id", "rater__username")
        .annotate(votes=Count("id"), last_vote=Max("created_at"))
        .order_by("rater__username")
    )


def ranking_analytics(*, campaign, n_boot: int = 200) -> dict:
    """Kendall's W, ordinal α, the Plackett–Luce leaderboard and position bias of a ranking
    campaign's human rankings (annotate/analytics/rankings.py), and its progress."""
    from annotate.analytics import rankings as stats
    from annotate.services.sets import set_progress

    names = generator_names(campaign_id=campaign.id)
    by_set: dict[int, list] = {}
    with_raters: dict[int, list] = {}
    generator_of: dict[int, str] = {}
    shown = []
    for facts, members, votes in ranking_sets(campaign_id=campaign.id):
        for m in members:
            generator_of[m["candidate_id"]] = names.get(m["candidate__generator_id"], "")
        human = [v for v in votes if v["source"] == "human"]
        by_set[facts["id"]] = [v["ranking"] for v in human]
        with_raters[facts["id"]] = [(v["rater_id"], v["ranking"]) for v in human]
        shown += [(v["ranking"], v["shown_order"]) for v in human]
    all_rankings = [r for rankings in by_set.values() for r in rankings]
    return {
        "ranking_progress": set_progress(campaign=campaign),
        "rankings": len(all_rankings),
        "concordance": stats.mean_w(by_set),
        "ordinal_alpha": stats.ordinal_alpha(with_raters),
        "pl_board": stats.plackett_luce(all_rankings, generator_of, n_boot=n_boot),
        "ranking_position": stats.position_bias(shown),
    }


def lease_responses(lease) -> dict[int, tuple[str, str]]:
    """{candidate id: (text, html)} of the lease's responses: read with the lease by the claim
    (annotate/sql/set_leases.py), else here."""
    found = getattr(lease, "responses", None)
    if found is not None:
        return found
    rows = Candidate.objects.filter(pk__in=lease.shown_order).values_list("pk", "text", "html")
    return {pk: (text, html) for pk, text, html in rows}
