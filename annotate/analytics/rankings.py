"""Statistics of ranking campaigns. Pure: rankings in, numbers out.

A ranking is a list of groups of item ids, best first (ties share a group), as the ranking
protocol stores them (annotate/protocols/ranking.py).

* **Kendall's W** (coefficient of concordance) per set over its m >= 2 raters, with the tie
  correction: W = 12 S / (m² (n³ − n) − m Σ T), S the squared deviations of the items' rank sums
  from their mean, ranks as mid-ranks, T = Σ (t³ − t) over each rater's tie groups. 1 = every
  rater gave the same order, 0 = no agreement. The campaign figure is the mean over sets.
* **Krippendorff's α (ordinal)** over all (set, item) units, each rater's mid-rank as the value.
* **Plackett–Luce leaderboard** of the generators (choix ``ilsr_rankings``): each ranking becomes
  a ranking of generators (a generator's best sample stands for it); a tie group is entered in both
  orders, each at half weight (two rankings). Strengths are shown as shares (they sum to 1), with a
  bootstrap 95% interval (rankings resampled with replacement).
* **Position bias over K positions**: per shown position, the share of rankings whose best group
  holds the response shown there (a tie at the top shares the credit), against 1/K.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from scipy.stats import binomtest


def mid_ranks(groups: Sequence[Sequence[int]]) -> dict[int, float]:
    """Item -> mid-rank (1 = best; tied items share the mean of the places they occupy)."""
    out, place = {}, 1
    for group in groups:
        mean = place + (len(group) - 1) / 2
        for item in group:
            out[item] = mean
        place += len(group)
    return out


def kendalls_w(rankings: Sequence[Sequence[Sequence[int]]]) -> float | None:
    """W of one set's rankings (all of the same items); None below two raters or two items."""
    m = len(rankings)
    if m < 2:
        return None
    items = sorted(mid_ranks(rankings[0]))
    n = len(items)
    if n < 2:
        return None
    sums = np.zeros(n)
    ties = 0.0
    for ranking in rankings:
        ranks = mid_ranks(ranking)
        sums += [ranks[i] for i in items]
        ties += sum(len(g) ** 3 - len(g) for g in ranking)
    s = float(((sums - sums.mean()) ** 2).sum())
    denominator = m * m * (n**3 - n) - m * ties
    if denominator <= 0:
        return None
    return 12 * s / denominator


def mean_w(by_set: dict[object, list]) -> dict:
    """Mean W over the sets with two or more rankings."""
    values = [w for rankings in by_set.values() if (w := kendalls_w(rankings)) is not None]
    return {"w": float(np.mean(values)) if values else None, "sets": len(values)}


def ordinal_alpha(by_set: dict[object, list[tuple[object, list]]]) -> float | None:
    """Krippendorff's ordinal α; ``by_set``: set -> [(rater, ranking), ...]."""
    import krippendorff

    raters = sorted({r for votes in by_set.values() for r, _ in votes}, key=str)
    if len(raters) < 2:
        return None
    index = {r: i for i, r in enumerate(raters)}
    columns = []
    for votes in by_set.values():
        if len(votes) < 2:
            continue
        items = sorted(mid_ranks(votes[0][1]))
        for item in items:
            column = [np.nan] * len(raters)
            for rater, ranking in votes:
                column[index[rater]] = mid_ranks(ranking).get(item, np.nan)
            columns.append(column)
    if not columns:
        return None
    data = np.array(columns, dtype=float).T
    values = data[~np.isnan(data)]
    if len(np.unique(values)) < 2:
        return None
    try:
        alpha = float(krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal"))
    except (ValueError, ZeroDivisionError):
        return None
    return alpha if np.isfinite(alpha) else None


def _generator_rankings(rankings, generator_of) -> list[list[list[int]]]:
    """Per ranking, its orders of generator indices: one, or two (a tie group entered in both
    orders, each counting half) when it has a tie. A generator's best sample stands for it."""
    out = []
    for groups in rankings:
        seen: set[int] = set()
        layers = []
        for group in groups:
            layer = sorted({generator_of[item] for item in group} - seen)
            seen.update(layer)
            if layer:
                layers.append(layer)
        forward = [g for layer in layers for g in layer]
        if len(forward) < 2:
            continue
        if any(len(layer) > 1 for layer in layers):
            out.append([forward, [g for layer in layers for g in reversed(layer)]])
        else:
            out.append([forward, forward])  # twice: the same weight as a tie's two halves
    return out


def _pl_shares(n: int, units: list[list[list[int]]]) -> np.ndarray:
    import choix

    params = choix.ilsr_rankings(n, [r for unit in units for r in unit], alpha=0.01)
    shares = np.exp(params - params.max())
    return shares / shares.sum()


def plackett_luce(
    rankings: Sequence[Sequence[Sequence[int]]],
    generator_of: dict[int, str],
    *,
    n_boot: int = 200,
    seed: int = 0,
) -> list[dict]:
    """Generators by Plackett–Luce share, best first: {name, share, low, high, rankings}."""
    names = sorted(set(generator_of.values()))
    if len(names) < 2:
        return []
    index = {name: i for i, name in enumerate(names)}
    by_index = {item: index[name] for item, name in generator_of.items()}
    units = _generator_rankings(rankings, by_index)
    if not units:
        return []
    shares = _pl_shares(len(names), units)
    rng = np.random.default_rng(seed)
    boots = [
        _pl_shares(len(names), [units[k] for k in rng.integers(0, len(units), len(units))])
        for _ in range(n_boot)
    ]
    boots = np.array(boots) if boots else np.array([shares])
    appears = defaultdict(int)
    for unit in units:
        for g in set(unit[0]):
            appears[g] += 1
    board = [
        {
            "name": name,
            "share": float(shares[i]),
            "low": float(np.percentile(boots[:, i], 2.5)),
            "high": float(np.percentile(boots[:, i], 97.5)),
            "rankings": appears[i],
        }
        for name, i in index.items()
    ]
    return sorted(board, key=lambda b: -b["share"])


def position_bias(votes: Sequence[tuple[Sequence[Sequence[int]], Sequence[int]]]) -> dict:
    """Per shown position, the share of rankings whose best group holds the response shown there.

    ``votes``: (ranking, shown order). Returns {"positions": [{position, best, n, share, low,
    high, expected}], "k": K} over rankings of the most common K."""
    if not votes:
        return {"positions": [], "k": 0}
    ks = defaultdict(int)
    for _, shown in votes:
        ks[len(shown)] += 1
    k = max(ks, key=lambda n: (ks[n], n))
    best = np.zeros(k)
    n = 0
    for ranking, shown in votes:
        if len(shown) != k:
            continue
        n += 1
        top = set(ranking[0])
        for p, item in enumerate(shown):
            if item in top:
                best[p] += 1 / len(top)
    positions = []
    for p in range(k):
        hits = round(float(best[p]))
        ci = binomtest(hits, n, 1 / k).proportion_ci(confidence_level=0.95, method="wilson")
        positions.append(
            {
                "position": p + 1,
                "best": round(float(best[p]), 2),
                "n": n,
                "share": float(best[p]) / n if n else None,
                "low": float(ci.low),
                "high": float(ci.high),
                "expected": 1 / k,
            }
        )
    return {"positions": positions, "k": k}
