"""Test-time compute: best-of-N selection and the accuracy-versus-N curve. Pure (numpy).

A *group* is the N samples one generator wrote for one prompt, in sample order. Each method picks
one sample of a group (or of any subset of it):

* ``majority`` (self-consistency): the most common final answer. **Tie rule:** among the answers
  with the top count, the one whose first sample comes first in sample order; the sample chosen is
  that first one. Samples without an answer cast no vote; a group where none has one picks none.
* ``judge`` (listwise, from the judge's pairwise verdicts, as annotate/judge/ranking.py ranks):
  1 point per win, ½ per tie, both-bad or inconsistent verdict, counted only between samples of the
  subset; most points, then most wins, then the earlier sample.
* ``verifier``: the highest verifier score (the judge scoring each sample on its own); ties go to
  the earlier sample. Unscored samples are left out of the method's pool.
* ``human``: as ``judge``, from the campaign's votes (each pair's majority of its latest votes).
* ``pass_at_n`` (not a method, the ceiling): is any sample of the subset correct.

The curve: for each N in 1, 2, 4, … and the largest pool, a method's accuracy is the mean over
groups of the mean over subsets of N samples of its pool (every subset when there are at most
``subsets`` of them, else ``subsets`` random ones, seeded) of "the pick is correct". Intervals are
percentile bootstraps over groups (prompts). Cost per prompt at N is what N samples cost on average
(N × the group's mean sample cost), plus what the method itself spends: the judge N(N−1)/2
verdicts, the verifier N scores, each at the group's mean price; majority and human votes cost no
model call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

METHODS = ("majority", "judge", "verifier", "human")
CURVES = (*METHODS, "pass_at_n")
LABELS = {
    "majority": "Majority vote (self-consistency)",
    "judge": "Judge (listwise)",
    "verifier": "Verifier score",
    "human": "Human preference",
    "pass_at_n": "Any sample correct (pass@N, the ceiling)",
}


@dataclass
class Tournament:
    """Pairwise evidence among a group's samples: ``points[i, j]`` what i earned against j (1 a
    win, ½ a tie-like verdict), ``wins[i, j]`` 1 when i beat j. ``seen[i]``: i was compared."""

    points: np.ndarray
    wins: np.ndarray

    @classmethod
    def from_outcomes(cls, n: int, outcomes: Sequence[tuple[int, int, str]]) -> Tournament:
        """``outcomes``: (index a, index b, choice) with choice a|b|tie|both_bad|inconsistent; any
        other choice (failed, empty) is no evidence."""
        points = np.zeros((n, n))
        wins = np.zeros((n, n))
        for a, b, choice in outcomes:
            if choice == "a":
                points[a, b] += 1
                wins[a, b] += 1
            elif choice == "b":
                points[b, a] += 1
                wins[b, a] += 1
            elif choice in ("tie", "both_bad", "inconsistent"):
                points[a, b] += 0.5
                points[b, a] += 0.5
        return cls(points=points, wins=wins)

    @property
    def seen(self) -> np.ndarray:
        return (self.points + self.points.T).sum(axis=1) > 0


@dataclass
class Group:
    """One prompt's samples from one generator, in sample order."""

    correct: np.ndarray  # bool per sample: its answer matches the reference
    answers: Sequence[str | None]  # the answer keys (annotate.answers.answer_key), None: no answer
    cost: np.ndarray  # USD per sample
    verifier: np.ndarray | None = None  # score per sample, NaN where unscored
    judge: Tournament | None = None
    human: Tournament | None = None
    verdict_cost: float = 0.0  # mean USD per judge verdict (both orders) in this group
    score_cost: float = 0.0  # mean USD per verifier score
    _codes: np.ndarray | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return len(self.correct)

    @property
    def codes(self) -> np.ndarray:
        """The answers as small integers (-1: no answer)."""
        if self._codes is None:
            index: dict[str, int] = {}
            self._codes = np.array(
                [-1 if a is None else index.setdefault(a, len(index)) for a in self.answers],
                dtype=np.int64,
            )
        return self._codes

    def pool(self, method: str) -> np.ndarray | None:
        """Indices of the samples a method chooses among; None when it has no evidence here."""
        everyone = np.arange(self.n)
        if method in ("majority", "pass_at_n"):
            return everyone if self.n else None
        if method == "verifier":
            if self.verifier is None:
                return None
            scored = np.flatnonzero(~np.isnan(self.verifier))
            return scored if len(scored) else None
        tournament = self.judge if method == "judge" else self.human
        if tournament is None:
            return None
        seen = np.flatnonzero(tournament.seen)
        if not len(seen):
            return None
        # The judge ranks the samples it was shown; human votes are sparse, so every sample
        # stays in (one never compared earns nothing).
        return seen if method == "judge" else everyone


# --- one pick per subset (the rows of a membership mask) ----------------------------------------


def _order_key(n: int) -> np.ndarray:
    """Larger for earlier samples: the last tie-break everywhere."""
    return (n - np.arange(n)).astype(np.float64)


def picks(group: Group, method: str, members: np.ndarray) -> np.ndarray:
    """For each row of ``members`` (bool, subsets × n), the index of the sample ``method`` picks,
    or -1 when it picks none (majority with no answer in the subset)."""
    n = group.n
    order = _order_key(n)
    if method == "majority":
        codes = group.codes
        k = int(codes.max()) + 1 if len(codes) else 0
        if k == 0:
            return np.full(len(members), -1)
        onehot = np.zeros((n, k))
        answered = codes >= 0
        onehot[np.flatnonzero(answered), codes[answered]] = 1.0
        counts = members.astype(np.float64) @ onehot  # subsets × answers
        mine = np.where(answered, counts[:, np.maximum(codes, 0)], 0.0)  # subsets × n
        key = np.where(members & answered, mine * (n + 1) + order, -1.0)
    elif method == "verifier":
        scores = np.where(np.isnan(group.verifier), -1.0, group.verifier)
        # Scores compare first; among equal scores the earlier sample (argmax takes the first).
        key = np.where(members, scores, -2.0)
        return np.argmax(key, axis=1)
    elif method in ("judge", "human"):
        tournament = group.judge if method == "judge" else group.human
        m = members.astype(np.float64)
        points = m @ tournament.points.T  # subsets × n: points earned against members
        wins = m @ tournament.wins.T
        key = np.where(members, (2 * points) * (n + 1) ** 2 + wins * (n + 1) + order, -1.0)
    else:
        raise ValueError(f"Unknown method {method!r}")
    chosen = np.argmax(key, axis=1)
    return np.where(key[np.arange(len(members)), chosen] >= 0, chosen, -1)


def pick(group: Group, method: str) -> int | None:
    """The sample ``method`` picks among its whole pool, or None."""
    pool = group.pool(method)
    if pool is None:
        return None
    members = np.zeros((1, group.n), dtype=bool)
    members[0, pool] = True
    chosen = int(picks(group, method, members)[0])
    return None if chosen < 0 else chosen


def worst(group: Group, method: str, best: int | None) -> int | None:
    """The sample a method likes least, for best-vs-worst preference pairs; None when there is no
    sample worse than ``best`` by the method's own evidence. Majority: a sample whose answer is the
    least common (no answer counts least; later samples first among equals), never one sharing the
    best's answer. Verifier: the lowest score below the best's. Judge / human: the fewest points
    (then wins), later samples first, when fewer than the best's."""
    pool = group.pool(method)
    if pool is None or best is None:
        return None
    n = group.n
    later = np.arange(n, dtype=np.float64)
    if method == "majority":
        codes = group.codes
        counts = np.array([0 if c < 0 else int((codes == c).sum()) for c in codes])
        candidates = [i for i in pool if codes[i] < 0 or codes[i] != codes[best]]
        if not candidates:
            return None
        return min(candidates, key=lambda i: (counts[i], -i))
    if method == "verifier":
        scores = group.verifier
        below = [i for i in pool if scores[i] < scores[best]]
        return min(below, key=lambda i: (scores[i], -later[i])) if below else None
    tournament = group.judge if method == "judge" else group.human
    members = np.zeros(n)
    members[pool] = 1.0
    points = tournament.points @ members
    wins = tournament.wins @ members
    below = [i for i in pool if (points[i], wins[i]) < (points[best], wins[best])]
    return min(below, key=lambda i: (points[i], wins[i], -i)) if below else None


# --- the curve ---------------------------------------------------------------------------------


def sizes(largest: int) -> list[int]:
    """1, 2, 4, … below ``largest``, then ``largest`` itself."""
    out, n = [], 1
    while n < largest:
        out.append(n)
        n *= 2
    return [*out, largest] if largest >= 1 else []


def _subsets(n: int, size: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    """Membership masks (rows) of subsets of ``size`` among ``n``: all of them, or ``limit``
    random ones."""
    if math.comb(n, size) <= limit:
        rows = list(combinations(range(n), size))
        mask = np.zeros((len(rows), n), dtype=bool)
        mask[np.repeat(np.arange(len(rows)), size), np.array(rows).ravel()] = True
        return mask
    chosen = np.argsort(rng.random((limit, n)), axis=1)[:, :size]
    mask = np.zeros((limit, n), dtype=bool)
    np.put_along_axis(mask, chosen, True, axis=1)
    return mask


@dataclass(frozen=True)
class Point:
    n: int
    accuracy: float
    low: float
    high: float
    prompts: int
    cost_per_prompt: float


def group_accuracy(
    group: Group, method: str, size: int, *, subsets: int, rng: np.random.Generator
) -> float | None:
    """Mean correctness of the method's pick over subsets of ``size`` of its pool (None when the
    pool is smaller, or the method has no evidence for this group)."""
    pool = group.pool(method)
    if pool is None or len(pool) < size:
        return None
    local = _subsets(len(pool), size, subsets, rng)
    members = np.zeros((len(local), group.n), dtype=bool)
    members[:, pool] = local
    if method == "pass_at_n":
        return float((members & group.correct).any(axis=1).mean())
    chosen = picks(group, method, members)
    hit = np.where(chosen >= 0, group.correct[np.maximum(chosen, 0)], False)
    return float(hit.mean())


def _selection_cost(group: Group, method: str, size: int) -> float:
    if method == "judge":
        return group.verdict_cost * size * (size - 1) / 2
    if method == "verifier":
        return group.score_cost * size
    return 0.0


def bootstrap_mean(
    values: np.ndarray, *, n_boot: int, rng: np.random.Generator, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (resampled with replacement)."""
    if len(values) == 0:
        return math.nan, math.nan
    if len(values) == 1 or n_boot <= 0:
        return float(values[0]), float(values[0])
    means = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def accuracy_curves(
    groups: Sequence[Group],
    *,
    methods: Sequence[str] = CURVES,
    subsets: int = 64,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, list[Point]]:
    """method -> its points (module docstring); a method with no evidence anywhere is absent."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[Point]] = {}
    for method in methods:
        pools = [g.pool(method) for g in groups]
        largest = max((len(p) for p in pools if p is not None), default=0)
        points = []
        for size in sizes(largest):
            values, costs = [], []
            for group, pool in zip(groups, pools, strict=True):
                if pool is None or len(pool) < size:
                    continue
                accuracy = group_accuracy(group, method, size, subsets=subsets, rng=rng)
                values.append(accuracy)
                mean_cost = float(group.cost.mean()) if group.n else 0.0
                costs.append(size * mean_cost + _selection_cost(group, method, size))
            array = np.array(values, dtype=np.float64)
            low, high = bootstrap_mean(array, n_boot=n_boot, rng=rng)
            points.append(
                Point(
                    n=size,
                    accuracy=float(array.mean()),
                    low=low,
                    high=high,
                    prompts=len(array),
                    cost_per_prompt=float(np.mean(costs)),
                )
            )
        if points:
            out[method] = points
    return out
