"""Generator leaderboard: Bradley–Terry strengths (choix) with bootstrap CIs, and a win-rate matrix.

Input: human votes with ``a_generator``/``b_generator`` names; each rater's latest vote counts.
A decisive vote is one win; a tie is half a win for each side (as Chatbot Arena's BT counts a
draw); both-bad votes and pairs of one generator with itself carry no ranking information.
Scores are on an Elo-like scale, ``1000 + 400 · θ / ln 10``, so 400 points ≈ 10:1 odds.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

import choix
import numpy as np

from annotate.analytics.agreement import latest_votes_by_pair

ELO_SCALE = 400 / math.log(10)
# Light L2 regularisation keeps the fit finite when one generator wins (or loses) every vote.
ALPHA = 0.01


def outcomes(rows: Iterable[dict]) -> Counter:
    """(winner, loser, weight) counts: decisive votes weigh 1.0; a tie adds 0.5 each way."""
    counts: Counter = Counter()
    for votes in latest_votes_by_pair(rows).values():
        for v in votes:
            a, b = v.get("a_generator"), v.get("b_generator")
            if not a or not b or a == b:
                continue
            if v["choice"] == "a":
                counts[(a, b, 1.0)] += 1
            elif v["choice"] == "b":
                counts[(b, a, 1.0)] += 1
            elif v["choice"] == "tie":
                counts[(a, b, 0.5)] += 1
                counts[(b, a, 0.5)] += 1
    return counts


def _matrix(names: list[str], keys: list[tuple], counts: np.ndarray) -> np.ndarray:
    index = {n: i for i, n in enumerate(names)}
    mat = np.zeros((len(names), len(names)))
    for (winner, loser, weight), count in zip(keys, counts, strict=True):
        mat[index[winner], index[loser]] += weight * count
    return mat


def _fit(mat: np.ndarray) -> np.ndarray:
    params = choix.ilsr_pairwise_dense(mat, alpha=ALPHA)
    return params - params.mean()


def bradley_terry(
    rows: Iterable[dict], *, n_boot: int = 200, seed: int = 0, level: float = 0.95
) -> list[dict]:
    """Leaderboard rows sorted best first: name, score, low, high, comparisons."""
    return bradley_terry_counts(outcomes(rows), n_boot=n_boot, seed=seed, level=level)


def bradley_terry_counts(
    counts: Counter, *, n_boot: int = 200, seed: int = 0, level: float = 0.95
) -> list[dict]:
    """bradley_terry from (winner, loser, weight) counts (``outcomes``, or SQL's GROUP BY): the
    bootstrap resamples the win/loss counts per generator pair, never single votes."""
    names = sorted({k[0] for k in counts} | {k[1] for k in counts})
    if len(names) < 2:
        return []
    keys = sorted(counts)  # a fixed order: the same draws whichever way the counts were made
    observed = np.array([counts[k] for k in keys], dtype=float)
    params = _fit(_matrix(names, keys, observed))

    # Bootstrap: resample the observed outcomes with replacement (multinomial over outcome types).
    rng = np.random.default_rng(seed)
    total = int(observed.sum())
    probs = observed / observed.sum()
    samples = np.array(
        [_fit(_matrix(names, keys, rng.multinomial(total, probs))) for _ in range(n_boot)]
    )
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail], axis=0)
    mat = _matrix(names, keys, observed)
    board = [
        {
            "name": name,
            "score": 1000 + ELO_SCALE * params[i],
            "low": 1000 + ELO_SCALE * low[i],
            "high": 1000 + ELO_SCALE * high[i],
            "comparisons": float(mat[i].sum() + mat[:, i].sum()),
        }
        for i, name in enumerate(names)
    ]
    return sorted(board, key=lambda r: (-r["score"], r["name"]))


def win_rates(rows: Iterable[dict], *, order: list[str] | None = None) -> dict:
    """names, rate[i][j] = share of i-vs-j votes won by i (ties half), n[i][j] = votes between them.

    ``order`` lists the names in display order (e.g. the leaderboard's); others follow sorted.
    """
    return win_rates_counts(outcomes(rows), order=order)


def win_rates_counts(counts: Counter, *, order: list[str] | None = None) -> dict:
    """win_rates from (winner, loser, weight) counts."""
    present = {k[0] for k in counts} | {k[1] for k in counts}
    names = [n for n in (order or []) if n in present]
    names += sorted(present - set(names))
    keys = list(counts)
    mat = _matrix(names, keys, np.array([counts[k] for k in keys], dtype=float))
    n = mat + mat.T
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, mat / n, np.nan)
    return {"names": names, "rate": rate.tolist(), "n": n.tolist()}
