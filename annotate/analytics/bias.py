"""Rater biases and effort. Pure: vote dicts in, numbers out.

Each test is a two-sided exact binomial test against 0.5 (scipy.stats.binomtest) with a Wilson
95% interval for the share — small per-rater counts make a normal approximation misleading.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from statistics import median

from scipy.stats import binomtest

from annotate.sides import to_shown


def share_with_ci(successes: int, trials: int, *, level: float = 0.95) -> dict:
    """Share, Wilson interval and the exact binomial p-value against 0.5."""
    if trials == 0:
        return {"k": 0, "n": 0, "share": None, "low": None, "high": None, "p_value": None}
    test = binomtest(successes, trials, 0.5)
    ci = test.proportion_ci(confidence_level=level, method="wilson")
    return {
        "k": successes,
        "n": trials,
        "share": successes / trials,
        "low": float(ci.low),
        "high": float(ci.high),
        "p_value": float(test.pvalue),
    }


def _decisive(rows: Iterable[dict]) -> list[dict]:
    """First (blind) human votes that pick a side; ties and both-bad carry no position or length."""
    return [r for r in rows if r["choice"] in ("a", "b") and not r.get("revises_id")]


def position_bias(rows: Iterable[dict]) -> dict:
    """Per rater and overall: share of decisive votes that picked the response shown on the LEFT."""
    per_rater: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for r in _decisive(rows):
        if r.get("left_is_a") is None:
            continue
        picked_left = to_shown(r["choice"], left_is_a=r["left_is_a"]) == "left"
        per_rater[r["rater_id"]][0] += picked_left
        per_rater[r["rater_id"]][1] += 1
    total_k = sum(k for k, _ in per_rater.values())
    total_n = sum(n for _, n in per_rater.values())
    return {
        "overall": share_with_ci(total_k, total_n),
        "raters": {r: share_with_ci(k, n) for r, (k, n) in sorted(per_rater.items())},
    }


def length_bias(rows: Iterable[dict]) -> dict:
    """Share of decisive votes that picked the LONGER response (pairs of equal length skipped)."""
    per_rater: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for r in _decisive(rows):
        a_len, b_len = r.get("a_len"), r.get("b_len")
        if a_len is None or b_len is None or a_len == b_len:
            continue
        picked_longer = (r["choice"] == "a") == (a_len > b_len)
        per_rater[r["rater_id"]][0] += picked_longer
        per_rater[r["rater_id"]][1] += 1
    total_k = sum(k for k, _ in per_rater.values())
    total_n = sum(n for _, n in per_rater.values())
    return {
        "overall": share_with_ci(total_k, total_n),
        "raters": {r: share_with_ci(k, n) for r, (k, n) in sorted(per_rater.items())},
    }


def time_on_task(rows: Iterable[dict]) -> dict:
    """Median and 10th/90th percentile seconds per vote, per rater and overall (first votes)."""

    def summary(values: list[float]) -> dict:
        if not values:
            return {"n": 0, "median": None, "p10": None, "p90": None}
        values = sorted(values)

        def pct(q: float) -> float:
            return values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))]

        return {"n": len(values), "median": median(values), "p10": pct(0.1), "p90": pct(0.9)}

    per_rater: dict[int, list[float]] = defaultdict(list)
    for r in rows:
        if r.get("time_on_task_ms") is not None and not r.get("revises_id"):
            per_rater[r["rater_id"]].append(r["time_on_task_ms"] / 1000)
    everyone = [v for values in per_rater.values() for v in values]
    return {
        "overall": summary(everyone),
        "raters": {r: summary(v) for r, v in sorted(per_rater.items())},
    }
