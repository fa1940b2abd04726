"""Agreement among raters. Pure: vote dicts in (see selectors.analytics.analytics_vote_rows), numbers out.

A vote dict needs ``judgment_id, pair_id, rater_id, source, choice, strength`` (and ``gold_answer``
for gold accuracy). Each rater's latest vote on a pair counts, as in the exports.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping

import krippendorff
import numpy as np

from annotate.exports.aggregate import aggregate_pair, counted_votes, signed_score


def latest_votes_by_pair(rows: Iterable[dict]) -> dict[int, list[dict]]:
    """pair id -> the counted human votes (latest per rater), pairs in id order."""
    by_pair: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        by_pair[row["pair_id"]].append(row)
    return {pid: counted_votes(votes) for pid, votes in sorted(by_pair.items())}


def reliability_matrix(by_pair: dict[int, list[dict]]) -> np.ndarray:
    """Raters × pairs matrix of signed ordinal scores (−3 … +3), NaN where a rater did not vote.

    Both-bad votes are not on the A-vs-B ordinal scale and count as missing. Only pairs with at least
    two scored votes carry information for α, so others are left out.
    """
    raters = sorted({v["rater_id"] for votes in by_pair.values() for v in votes})
    index = {r: i for i, r in enumerate(raters)}
    columns = []
    for votes in by_pair.values():
        column = np.full(len(raters), np.nan)
        for v in votes:
            score = signed_score(v["choice"], v["strength"])
            if score is not None:
                column[index[v["rater_id"]]] = score
        if np.count_nonzero(~np.isnan(column)) >= 2:
            columns.append(column)
    if not columns:
        return np.empty((len(raters), 0))
    return np.column_stack(columns)


def _alpha(matrix: np.ndarray, level: str = "ordinal") -> float | None:
    if matrix.shape[1] == 0:
        return None
    values = np.unique(matrix[~np.isnan(matrix)])
    if len(values) < 2:
        # Every vote identical: α is undefined (no variation to explain), not "perfect".
        return None
    value = krippendorff.alpha(
        reliability_data=matrix, level_of_measurement=level, value_domain=values
    )
    return None if math.isnan(value) else float(value)


def krippendorff_alpha(rows: Iterable[dict]) -> float | None:
    """Krippendorff's α (ordinal) over the signed scores; None when it is not defined."""
    return _alpha(reliability_matrix(latest_votes_by_pair(rows)))


def units_alpha(units: Mapping[object, Mapping[int, float]], *, level: str = "ordinal") -> dict:
    """α over any units (a step of a trace, …): ``{unit: {rater id: value}}``. Units with fewer
    than two values carry no information and are left out; None when α is not defined."""
    raters = sorted({r for values in units.values() for r in values})
    index = {r: i for i, r in enumerate(raters)}
    columns = []
    for values in units.values():
        if len(values) < 2:
            continue
        column = np.full(len(raters), np.nan)
        for rater, value in values.items():
            column[index[rater]] = value
        columns.append(column)
    matrix = np.column_stack(columns) if columns else np.empty((len(raters), 0))
    return {"alpha": _alpha(matrix, level), "units": matrix.shape[1]}


def alpha_with_ci(
    rows: Iterable[dict], *, n_boot: int = 200, seed: int = 0, level: float = 0.95
) -> dict:
    """α with a percentile bootstrap CI, resampling pairs (the units) with replacement."""
    matrix = reliability_matrix(latest_votes_by_pair(rows))
    alpha = _alpha(matrix)
    out = {"alpha": alpha, "low": None, "high": None, "pairs": matrix.shape[1]}
    if alpha is None or matrix.shape[1] < 2:
        return out
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(n_boot):
        cols = rng.integers(0, matrix.shape[1], matrix.shape[1])
        value = _alpha(matrix[:, cols])
        if value is not None:
            samples.append(value)
    if samples:
        tail = (1 - level) / 2 * 100
        out["low"], out["high"] = (float(x) for x in np.percentile(samples, [tail, 100 - tail]))
    return out


def rater_agreement_with_majority(rows: Iterable[dict]) -> dict[int, dict]:
    """rater id -> {"agree", "compared", "share"}: how often the rater matches the others' majority.

    Leave-one-out: the rater's vote is compared with the majority of the *other* raters on the
    pair, so a rater cannot agree with themself. Pairs where the others have no majority are skipped.
    """
    out: dict[int, dict] = defaultdict(lambda: {"agree": 0, "compared": 0})
    for votes in latest_votes_by_pair(rows).values():
        if len(votes) < 2:
            continue
        for vote in votes:
            others = [v for v in votes if v is not vote]
            label = aggregate_pair(others, method="majority").label
            if label is None:
                continue
            stats = out[vote["rater_id"]]
            stats["compared"] += 1
            stats["agree"] += vote["choice"] == label
    return {
        rater: {**s, "share": s["agree"] / s["compared"] if s["compared"] else None}
        for rater, s in sorted(out.items())
    }


def gold_accuracy(rows: Iterable[dict]) -> dict[int, dict]:
    """rater id -> {"correct", "answered", "share"} on gold pairs, first (blind) votes only."""
    out: dict[int, dict] = defaultdict(lambda: {"correct": 0, "answered": 0})
    for row in rows:
        if not row.get("gold_answer") or row.get("revises_id"):
            continue
        stats = out[row["rater_id"]]
        stats["answered"] += 1
        stats["correct"] += row["choice"] == row["gold_answer"]
    return {rater: {**s, "share": s["correct"] / s["answered"]} for rater, s in sorted(out.items())}


def interval_alpha_by_aspect(
    scores: Iterable[tuple[object, int, dict]], *, aspects: list[str]
) -> dict[str, dict]:
    """Krippendorff's α (interval) per aspect over ratings: ``scores`` are (unit, rater id,
    {aspect: score}) with a unit per rated response. Only units scored by two raters or more
    count; α is None when it is not defined (no such unit, or every score the same).

    Returns {aspect: {"alpha", "units"}} in ``aspects`` order."""
    scores = list(scores)
    raters = sorted({r for _, r, _ in scores})
    row = {r: i for i, r in enumerate(raters)}
    out = {}
    for name in aspects:
        by_unit: dict[object, dict[int, float]] = defaultdict(dict)
        for unit, rater, values in scores:
            if name in values:
                by_unit[unit][rater] = float(values[name])
        columns = []
        for given in by_unit.values():
            if len(given) >= 2:
                column = np.full(len(raters), np.nan)
                for rater, value in given.items():
                    column[row[rater]] = value
                columns.append(column)
        matrix = np.column_stack(columns) if columns else np.empty((len(raters), 0))
        out[name] = {"alpha": _alpha(matrix, level="interval"), "units": len(columns)}
    return out
