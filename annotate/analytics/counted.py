"""The dashboard's statistics from counts, not rows. Pure: counts in (annotate/selectors/analytics.py
reads them with GROUP BY), numbers out — memory grows with pairs, raters and distinct values, never
with votes.

Each function gives exactly what its row-based twin gives on the same votes (the twins stay, as the
reference the tests compare against):

* ``alpha_from_units`` — agreement.alpha_with_ci: ordinal α from the coincidence matrix, with the
  same bootstrap over pairs (same seed, same draws), each resample a weighted sum of per-pattern
  coincidence matrices (pairs with the same votes share one pattern).
* ``shares`` — bias.position_bias / length_bias from (rater → [hits, trials]).
* ``time_summary`` — bias.time_on_task from (rater → {milliseconds: votes}).
* ``outcome_counts`` — ranking.outcomes from (generator a, generator b, choice, votes).
* ``majority_agreement`` — agreement.rater_agreement_with_majority, one pair's votes at a time.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

import numpy as np

from annotate.analytics.bias import share_with_ci


def _ordinal_alpha(o: np.ndarray) -> float | None:
    """Krippendorff's α (ordinal) of a V×V coincidence matrix over values in ascending order."""
    n_v = o.sum(axis=0)
    keep = n_v > 0
    if keep.sum() < 2:
        return None  # one value only: no variation to explain
    o = o[np.ix_(keep, keep)]
    n_v = n_v[keep]
    n = n_v.sum()
    cum = np.concatenate([[0.0], np.cumsum(n_v)])
    i = np.arange(len(n_v))
    lo, hi = np.minimum.outer(i, i), np.maximum.outer(i, i)
    # δ²(c, k) = (Σ_{g=c..k} n_g − (n_c + n_k) / 2)², as the krippendorff package's ordinal metric.
    delta = (cum[hi + 1] - cum[lo] - (n_v[lo] + n_v[hi]) / 2) ** 2
    expected = (np.outer(n_v, n_v) - np.diag(n_v)) / (n - 1)
    d_e = float((expected * delta).sum())
    if d_e == 0:
        return None
    return 1.0 - float((o * delta).sum()) / d_e


def alpha_from_units(
    unit_counts: Iterable[tuple[int, float, int]],
    *,
    n_boot: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """α with its bootstrap CI from ``(unit, value, votes)`` rows sorted by unit (pairs in id order,
    the signed scores of their counted votes). Units with fewer than two values are left out."""

    def tallies():
        current, counts = None, {}
        for unit, value, n in unit_counts:
            if unit != current:
                if current is not None:
                    yield counts
                current, counts = unit, {}
            counts[value] = counts.get(value, 0) + n
        if current is not None:
            yield counts

    return alpha_from_tallies(tallies(), n_boot=n_boot, seed=seed, level=level)


def alpha_from_tallies(
    tallies: Iterable[Mapping[float, int]],
    *,
    n_boot: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """``alpha_from_units`` from each unit's {value: votes}, units in order (the bootstrap draws
    units by position)."""
    patterns: dict[tuple, int] = {}
    unit_pattern: list[int] = []
    values_seen: set[float] = set()
    for counts in tallies:
        if sum(counts.values()) >= 2:
            key = tuple(sorted(counts.items()))
            unit_pattern.append(patterns.setdefault(key, len(patterns)))
            values_seen.update(counts)

    units = len(unit_pattern)
    out = {"alpha": None, "low": None, "high": None, "pairs": units}
    if not units:
        return out
    values = sorted(values_seen)
    index = {v: i for i, v in enumerate(values)}
    # One coincidence matrix per pattern: o_ck = (n_c n_k − [c = k] n_c) / (m − 1).
    per_pattern = np.zeros((len(patterns), len(values), len(values)))
    for key, p in patterns.items():
        vec = np.zeros(len(values))
        for value, n in key:
            vec[index[value]] = n
        per_pattern[p] = (np.outer(vec, vec) - np.diag(vec)) / (vec.sum() - 1)
    unit_pattern_arr = np.asarray(unit_pattern, dtype=np.int64)
    weights = np.bincount(unit_pattern_arr, minlength=len(patterns)).astype(float)
    alpha = _ordinal_alpha(np.tensordot(weights, per_pattern, axes=1))
    out["alpha"] = alpha
    if alpha is None or units < 2:
        return out
    # The same draws as agreement.alpha_with_ci: units resampled with replacement.
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(n_boot):
        drawn = np.bincount(rng.integers(0, units, units), minlength=units)
        w = np.bincount(unit_pattern_arr, weights=drawn, minlength=len(patterns))
        value = _ordinal_alpha(np.tensordot(w, per_pattern, axes=1))
        if value is not None:
            samples.append(value)
    if samples:
        tail = (1 - level) / 2 * 100
        out["low"], out["high"] = (float(x) for x in np.percentile(samples, [tail, 100 - tail]))
    return out


def shares(per_rater: Mapping[int, tuple[int, int]]) -> dict:
    """{"overall", "raters"}: share with CI overall and per rater from (rater → (hits, trials))."""
    total_k = sum(k for k, _ in per_rater.values())
    total_n = sum(n for _, n in per_rater.values())
    return {
        "overall": share_with_ci(total_k, total_n),
        "raters": {r: share_with_ci(k, n) for r, (k, n) in sorted(per_rater.items())},
    }


def summary_ranks(total: int) -> set[int]:
    """The ranks (0-based, ascending) ``_summary`` reads of ``total`` values: the middle one or
    two, and the nearest ranks of the 10th and 90th percentiles. Equal to
    ``{(total - 1) // 2, total // 2, (total + 4) // 10, (9 * total - 4) // 10}`` for every total
    ≥ 1, the integer form the database selects them with (selectors/analytics._times)."""
    if not total:
        return set()
    ranks = {total // 2} if total % 2 else {total // 2 - 1, total // 2}
    return ranks | {min(total - 1, int(q * (total - 1) + 0.5)) for q in (0.1, 0.9)}


def summary_at(total: int, at) -> dict:
    """``_summary`` from ``at(i)``: the i-th smallest value (0-based) in seconds."""
    if not total:
        return {"n": 0, "median": None, "p10": None, "p90": None}
    if total % 2:
        middle = at(total // 2)
    else:
        middle = (at(total // 2 - 1) + at(total // 2)) / 2

    def pct(q: float) -> float:
        return at(min(total - 1, int(q * (total - 1) + 0.5)))

    return {"n": total, "median": middle, "p10": pct(0.1), "p90": pct(0.9)}


def _summary(histogram: Mapping[int, int]) -> dict:
    """Median and 10th/90th percentile seconds from {milliseconds: votes} (bias.time_on_task's
    definitions: the median averages the two middle values; a percentile is the nearest rank)."""
    total = sum(histogram.values())
    if not total:
        return summary_at(0, None)
    ms = np.array(sorted(histogram), dtype=np.int64)
    cum = np.cumsum([histogram[m] for m in ms])

    def at(i: int) -> float:  # the i-th smallest (0-based), in seconds
        return int(ms[np.searchsorted(cum, i, side="right")]) / 1000

    return summary_at(total, at)


def time_summary_ranked(
    everyone: Mapping[int, int], per_rater: Mapping[int, tuple[int, Mapping[int, int]]]
) -> dict:
    """``time_summary`` from the overall {milliseconds: votes} and, per rater, (votes, {rank:
    milliseconds}) holding at least the ranks ``summary_ranks`` names: the database picks those
    few values of each rater's sorted times instead of sending every vote's."""
    return {
        "overall": _summary(everyone),
        "raters": {
            r: summary_at(n, lambda i, ranked=ranked: ranked[i] / 1000)
            for r, (n, ranked) in sorted(per_rater.items())
        },
    }


def time_summary(per_rater: Mapping[int, Mapping[int, int]]) -> dict:
    """{"overall", "raters"} from rater → {milliseconds: votes} (first votes)."""
    everyone: Counter = Counter()
    for histogram in per_rater.values():
        everyone.update(histogram)
    return {
        "overall": _summary(everyone),
        "raters": {r: _summary(h) for r, h in sorted(per_rater.items())},
    }


def outcome_counts(rows: Iterable[tuple[str, str, str, int]]) -> Counter:
    """(winner, loser, weight) counts from (generator a, generator b, choice, votes), as
    ranking.outcomes: a decisive vote is a win, a tie half a win each way."""
    counts: Counter = Counter()
    for a, b, choice, n in rows:
        if not a or not b or a == b:
            continue
        if choice == "a":
            counts[(a, b, 1.0)] += n
        elif choice == "b":
            counts[(b, a, 1.0)] += n
        elif choice == "tie":
            counts[(a, b, 0.5)] += n
            counts[(b, a, 0.5)] += n
    return counts


def _majority(counter: Mapping[str, int]) -> str | None:
    ranked = sorted(((n, c) for c, n in counter.items() if n > 0), reverse=True)
    if not ranked or (len(ranked) > 1 and ranked[1][0] == ranked[0][0]):
        return None
    return ranked[0][1]


def majority_agreement_tallies(
    rows: Iterable[tuple[int, str, Mapping[str, int], int]],
) -> dict[int, dict]:
    """``majority_agreement`` from (rater, choice, tally of the pair's votes by choice, votes):
    how many of the rater's votes have that choice on a pair with that tally. A vote's result
    depends on nothing else, so the database sends one row per (rater, choice, tally), not one
    per vote."""
    out: dict[int, dict] = defaultdict(lambda: {"agree": 0, "compared": 0})
    for rater, choice, tally, n in rows:
        if sum(tally.values()) < 2:
            continue
        others = Counter(tally)
        others[choice] -= 1
        label = _majority(others)
        if label is None:
            continue
        stats = out[rater]
        stats["compared"] += n
        stats["agree"] += n if choice == label else 0
    return {
        rater: {**s, "share": s["agree"] / s["compared"] if s["compared"] else None}
        for rater, s in sorted(out.items())
    }


def majority_agreement(pairs: Iterable[list[tuple[int, str]]]) -> dict[int, dict]:
    """rater → {"agree", "compared", "share"} from each pair's counted (rater, choice) votes:
    each vote against the majority of the other votes on its pair (leave-one-out)."""
    out: dict[int, dict] = defaultdict(lambda: {"agree": 0, "compared": 0})
    for votes in pairs:
        if len(votes) < 2:
            continue
        tally = Counter(choice for _, choice in votes)
        for rater, choice in votes:
            tally[choice] -= 1
            label = _majority(tally)
            tally[choice] += 1
            if label is None:
                continue
            stats = out[rater]
            stats["compared"] += 1
            stats["agree"] += choice == label
    return {
        rater: {**s, "share": s["agree"] / s["compared"] if s["compared"] else None}
        for rater, s in sorted(out.items())
    }
