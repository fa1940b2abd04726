"""The researcher dashboard in one call: vote rows in, every statistic and SVG figure out. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from annotate.analytics import agreement, bias, plots, ranking
from annotate.analytics.crowd_models import fit_labels

PLOT_RATERS = 40  # the position-bias figure shows at most this many raters
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


def parts_from_rows(rows: Sequence[dict], *, n_boot: int) -> dict:
    """The dashboard's statistics straight from vote rows: the reference that
    annotate/selectors/analytics.py's counts (``dashboard_parts``) must equal."""
    first = [r for r in rows if not r.get("revises_id")]
    return {
        "vote_rows": len(rows),
        "votes": dict(Counter(r["rater_id"] for r in first)),
        "majority": agreement.rater_agreement_with_majority(rows),
        "reliability": rater_reliability(rows),
        "reliability_computed": len(rows) <= RELIABILITY_MAX_VOTES,
        "gold": agreement.gold_accuracy(rows),
        "position": bias.position_bias(rows),
        "length": bias.length_bias(rows),
        "time": bias.time_on_task(rows),
        "outcomes": ranking.outcomes(rows),
        "alpha": agreement.alpha_with_ci(rows, n_boot=n_boot),
        "seconds": dict(
            Counter(r["time_on_task_ms"] for r in first if r.get("time_on_task_ms") is not None)
        ),
    }


def dashboard(
    rows: Sequence[dict], *, days: Sequence[tuple], usernames: dict, n_boot: int | None = None
) -> dict:
    """``rows``: human votes (selectors.analytics.analytics_vote_rows); ``days``: (date, votes) pairs.

    ``n_boot`` bootstrap resamples for the CIs: 200 by default, 50 past 20,000 votes (this path
    holds every row; the cached figures come from counts and always use 200).
    """
    if n_boot is None:
        n_boot = 200 if len(rows) <= 20_000 else 50
    return dashboard_from_parts(
        parts_from_rows(rows, n_boot=n_boot), days=days, usernames=usernames, n_boot=n_boot
    )


def dashboard_from_parts(
    parts: dict, *, days: Sequence[tuple], usernames: dict, n_boot: int = 200
) -> dict:
    """Every statistic and SVG figure of the page from its parts (``parts_from_rows``, or the
    counts of selectors.analytics.dashboard_parts)."""
    votes = parts["votes"]
    majority, reliability, gold = parts["majority"], parts["reliability"], parts["gold"]
    position, length, timing = parts["position"], parts["length"], parts["time"]
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
    board = ranking.bradley_terry_counts(parts["outcomes"], n_boot=n_boot)
    wins = ranking.win_rates_counts(parts["outcomes"], order=[row["name"] for row in board])

    figures = {}
    if days:
        figures["progress"] = plots.votes_over_time([d for d, _ in days], [n for _, n in days])
    with_left = [r for r in raters if r["left"] and r["left"]["n"]]
    if len(with_left) > PLOT_RATERS:
        # A figure of 500 rows says nothing: the raters most clearly off 50 %, by name (the table
        # lists everyone).
        ranked = sorted(with_left, key=lambda r: (r["left"]["p_value"], r["name"]))
        keep = {id(r) for r in ranked[:PLOT_RATERS]}
        with_left = [r for r in with_left if id(r) in keep]
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
    seconds = sorted(parts["seconds"].items())
    if seconds:
        figures["time"] = plots.histogram(
            [ms / 1000 for ms, _ in seconds],
            weights=[n for _, n in seconds],
            xlabel="seconds per vote",
        )

    return {
        "vote_rows": parts["vote_rows"],
        "reliability_computed": parts["reliability_computed"],
        "alpha": parts["alpha"],
        "raters": raters,
        "position": position["overall"],
        "length": length["overall"],
        "time": timing["overall"],
        "leaderboard": board,
        "wins": wins,
        "figures": figures,
    }
