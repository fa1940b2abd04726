"""The researcher dashboard in one call: vote rows in, every statistic and SVG figure out. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from annotate.analytics import agreement, bias, plots, ranking
from annotate.analytics.crowd_models import fit_labels

RELIABILITY_MAX_VOTES = 20_000  # Dawid–Skene in the page request up to here (a few seconds)


def rater_reliability(rows: Sequence[dict]) -> dict[int, float]:
    """Each rater's reliability by Dawid–Skene (annotate/analytics/crowd_models.py) over the
    counted votes of pairs with two or more raters; empty past RELIABILITY_MAX_VOTES votes."""
    if len(rows) > RELIABILITY_MAX_VOTES:
        return {}
    counted = [
        v
        for votes in agreement.latest_votes_by_pair(rows).values()
        if len(votes) > 1
        for v in votes
    ]
    if not counted:
        return {}
    return fit_labels(counted, method="dawid_skene").reliability


def dashboard(
    rows: Sequence[dict], *, days: Sequence[tuple], usernames: dict, n_boot: int | None = None
) -> dict:
    """``rows``: human votes (selectors.analytics.analytics_vote_rows); ``days``: (date, votes) pairs.

    ``n_boot`` bootstrap resamples for the CIs: 200 by default, 50 past 20,000 votes so the page
    stays quick on big campaigns (the intervals are then a little rougher).
    """
    if n_boot is None:
        n_boot = 200 if len(rows) <= 20_000 else 50
    votes = Counter(r["rater_id"] for r in rows if not r.get("revises_id"))
    majority = agreement.rater_agreement_with_majority(rows)
    reliability = rater_reliability(rows)
    gold = agreement.gold_accuracy(rows)
    position = bias.position_bias(rows)
    length = bias.length_bias(rows)
    timing = bias.time_on_task(rows)
    raters = [
        {
            "name": usernames.get(rater_id) or f"rater {rater_id}",
            "votes": votes[rater_id],
            "majority": majority.get(rater_id),
            "gold": gold.get(rater_id),
            "reliability": reliability.get(rater_id),
            "left": position["raters"].get(rater_id),
            "longer": length["raters"].get(rater_id),
            "time": timing["raters"].get(rater_id),
        }
        for rater_id in sorted(votes, key=lambda r: (usernames.get(r) or "", r))
    ]
    board = ranking.bradley_terry(rows, n_boot=n_boot)
    wins = ranking.win_rates(rows, order=[row["name"] for row in board])

    figures = {}
    if days:
        figures["progress"] = plots.votes_over_time([d for d, _ in days], [n for _, n in days])
    with_left = [r for r in raters if r["left"] and r["left"]["n"]]
    if with_left:
        figures["position"] = plots.share_intervals(
            [r["name"] for r in with_left],
            [r["left"]["share"] for r in with_left],
            [r["left"]["low"] for r in with_left],
            [r["left"]["high"] for r in with_left],
            xlabel="share of decisive votes for the LEFT response (95% Wilson CI; 0.5 = no bias)",
        )
    if board:
        figures["leaderboard"] = plots.leaderboard(board)
        figures["wins"] = plots.win_matrix(wins["names"], wins["rate"], wins["n"])
    seconds = [r["time_on_task_ms"] / 1000 for r in rows if r.get("time_on_task_ms") is not None]
    if seconds:
        figures["time"] = plots.histogram(seconds, xlabel="seconds per vote")

    return {
        "vote_rows": len(rows),
        "reliability_computed": len(rows) <= RELIABILITY_MAX_VOTES,
        "alpha": agreement.alpha_with_ci(rows, n_boot=n_boot),
        "raters": raters,
        "position": position["overall"],
        "length": length["overall"],
        "time": timing["overall"],
        "leaderboard": board,
        "wins": wins,
        "figures": figures,
    }
