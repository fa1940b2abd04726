"""Judge analytics, pure: rows in, numbers out (no database, no HTTP).

- Human–judge agreement: Cohen's κ (scikit-learn) with a percentile bootstrap CI over pairs; per aspect.
- Swap consistency: share of verdicts whose two presentation orders agree.
- Length bias: how often the judge and the humans pick the longer response.
- Self-preference: win rate of the candidate written by the judge's own model.
- Anchoring: revision rate after the reveal, and agreement with the judge for votes cast before the
  judge was shown (blind, after-vote mode) vs with the judge shown up front (before-vote mode).

Human labels are the majority of *blind first votes* per pair (revisions and votes cast with the judge
visible are not independent of the judge, so they would inflate κ).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

INCONSISTENT = "inconsistent"
DECISIVE = ("a", "b")


@dataclass(frozen=True)
class VoteRow:
    id: int
    pair_id: int
    rater_id: int | None
    choice: str
    aspects: Mapping[str, str] = field(default_factory=dict)
    judge_shown: bool = False
    revises_id: int | None = None


@dataclass(frozen=True)
class VerdictRow:
    pair_id: int
    choice: str  # a | b | tie | both_bad | inconsistent
    order1_choice: str = ""
    order2_choice: str = ""
    aspects: Mapping[str, str] = field(default_factory=dict)
    judge_model: str = ""
    len_a: int = 0
    len_b: int = 0
    model_a: str = ""
    model_b: str = ""


@dataclass(frozen=True)
class KappaResult:
    kappa: float | None  # None when undefined (fewer than 2 pairs, or one shared label only)
    low: float | None
    high: float | None
    n: int
    agreement: float | None  # raw share of pairs where judge and humans agree


@dataclass(frozen=True)
class Rate:
    k: int
    n: int
    low: float | None = None
    high: float | None = None

    @property
    def rate(self) -> float | None:
        return self.k / self.n if self.n else None


def rate(k: int, n: int) -> Rate:
    """A proportion with its Wilson 95 % interval."""
    if n == 0:
        return Rate(0, 0)
    from scipy.stats import binomtest  # heavy imports stay off web and worker start-up

    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return Rate(k, n, float(ci.low), float(ci.high))


# --- labels ---------------------------------------------------------------------------------


def human_labels(votes: Iterable[VoteRow], *, blind_only: bool = True) -> dict[int, str]:
    """Per pair, the majority choice of the first votes (no revisions). A pair whose top choices tie
    has no majority and is left out. ``blind_only`` drops votes cast with the judge visible."""
    by_pair: dict[int, Counter[str]] = defaultdict(Counter)
    for v in votes:
        if v.revises_id is not None or (blind_only and v.judge_shown):
            continue
        by_pair[v.pair_id][v.choice] += 1
    return _majorities(by_pair)


def human_aspect_labels(votes: Iterable[VoteRow]) -> dict[str, dict[int, str]]:
    """Per aspect, per pair, the majority of blind first votes' aspect choices."""
    counts: dict[str, dict[int, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for v in votes:
        if v.revises_id is not None or v.judge_shown:
            continue
        for name, value in (v.aspects or {}).items():
            if value:
                counts[name][v.pair_id][value] += 1
    return {name: _majorities(pairs) for name, pairs in counts.items()}


def _majorities(by_pair: Mapping[int, Counter[str]]) -> dict[int, str]:
    out: dict[int, str] = {}
    for pair_id, counter in by_pair.items():
        ranked = counter.most_common(2)
        if len(ranked) == 1 or ranked[0][1] > ranked[1][1]:
            out[pair_id] = ranked[0][0]
    return out


# --- agreement ------------------------------------------------------------------------------


def kappa(
    judge: Mapping[int, str],
    human: Mapping[int, str],
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> KappaResult:
    """Cohen's κ between the judge and the human label over the pairs both labelled.

    Inconsistent judge verdicts are abstentions and are left out (their share is the swap rate).
    The CI is the 2.5–97.5 percentile of κ over ``n_boot`` resamples of the pairs.
    """
    pairs = sorted(p for p in judge.keys() & human.keys() if judge[p] != INCONSISTENT)
    y_judge = [judge[p] for p in pairs]
    y_human = [human[p] for p in pairs]
    n = len(pairs)
    if n == 0:
        return KappaResult(None, None, None, 0, None)
    agreement = sum(a == b for a, b in zip(y_judge, y_human, strict=True)) / n
    if n < 2 or len(set(y_judge) | set(y_human)) < 2:
        # κ is undefined when both sides use one and the same label (expected agreement is 1).
        return KappaResult(None, None, None, n, agreement)
    from sklearn.metrics import cohen_kappa_score  # imported on use: keeps start-up fast

    point = float(cohen_kappa_score(y_judge, y_human))
    low, high = _bootstrap_ci(y_judge, y_human, n_boot=n_boot, seed=seed)
    return KappaResult(point, low, high, n, agreement)


def _kappa_from_counts(counts: np.ndarray) -> np.ndarray:
    """κ for a stack of K×K confusion matrices (same formula as sklearn's cohen_kappa_score)."""
    n = counts.sum(axis=(1, 2))
    po = np.trace(counts, axis1=1, axis2=2) / n
    pe = (counts.sum(axis=2) * counts.sum(axis=1)).sum(axis=1) / (n * n)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = (po - pe) / (1 - pe)
    return np.where(pe < 1, k, np.nan)


def _bootstrap_ci(
    y1: Sequence[str], y2: Sequence[str], *, n_boot: int, seed: int
) -> tuple[float | None, float | None]:
    labels = sorted(set(y1) | set(y2))
    index = {label: i for i, label in enumerate(labels)}
    size = len(labels)
    codes = np.array([index[a] * size + index[b] for a, b in zip(y1, y2, strict=True)])
    rng = np.random.default_rng(seed)
    # Resample in chunks so memory stays bounded (~2M draws at a time) however many pairs there are.
    per_chunk = max(1, 2_000_000 // len(codes))
    parts = []
    for start in range(0, n_boot, per_chunk):
        size_b = min(per_chunk, n_boot - start)
        draws = codes[rng.integers(0, len(codes), size=(size_b, len(codes)))]
        offsets = (np.arange(size_b) * size * size)[:, None]
        counts = np.bincount((draws + offsets).ravel(), minlength=size_b * size * size)
        parts.append(_kappa_from_counts(counts.reshape(size_b, size, size)))
    kappas = np.concatenate(parts)
    kappas = kappas[~np.isnan(kappas)]
    if kappas.size == 0:
        return None, None
    return float(np.percentile(kappas, 2.5)), float(np.percentile(kappas, 97.5))


def aspect_kappas(
    verdicts: Iterable[VerdictRow], votes: Sequence[VoteRow], *, n_boot: int = 1000, seed: int = 0
) -> dict[str, KappaResult]:
    human = human_aspect_labels(votes)
    judge: dict[str, dict[int, str]] = defaultdict(dict)
    for v in verdicts:
        for name, value in (v.aspects or {}).items():
            judge[name][v.pair_id] = value
    return {
        name: kappa(judge[name], human.get(name, {}), n_boot=n_boot, seed=seed)
        for name in sorted(judge)
    }


# --- judge behaviour ------------------------------------------------------------------------


def swap_consistency(verdicts: Iterable[VerdictRow]) -> Rate:
    rows = [v for v in verdicts if v.order1_choice and v.order2_choice]
    return rate(sum(v.order1_choice == v.order2_choice for v in rows), len(rows))


def _longer(choice: str, len_a: int, len_b: int) -> bool | None:
    """Did this decisive choice pick the longer response? None when not decisive or equal length."""
    if choice not in DECISIVE or len_a == len_b:
        return None
    return (choice == "a") == (len_a > len_b)


def length_bias(verdicts: Iterable[VerdictRow], human: Mapping[int, str]) -> dict[str, Rate]:
    """Share of decisive picks that chose the longer response, for the judge and for the humans,
    over the same set of judged pairs."""
    judge_hits = judge_n = human_hits = human_n = 0
    for v in verdicts:
        picked = _longer(v.choice, v.len_a, v.len_b)
        if picked is not None:
            judge_n += 1
            judge_hits += picked
        if v.pair_id in human:
            picked = _longer(human[v.pair_id], v.len_a, v.len_b)
            if picked is not None:
                human_n += 1
                human_hits += picked
    return {"judge": rate(judge_hits, judge_n), "human": rate(human_hits, human_n)}


def self_preference(verdicts: Iterable[VerdictRow], human: Mapping[int, str]) -> dict[str, Rate]:
    """On pairs where exactly one candidate comes from the judge's own model: how often the judge
    picks that one, beside how often the humans do on the same pairs (decisive picks only)."""
    judge_hits = judge_n = human_hits = human_n = 0
    for v in verdicts:
        own_a = v.model_a == v.judge_model
        own_b = v.model_b == v.judge_model
        if own_a == own_b:
            continue
        own = "a" if own_a else "b"
        if v.choice in DECISIVE:
            judge_n += 1
            judge_hits += v.choice == own
        if human.get(v.pair_id) in DECISIVE:
            human_n += 1
            human_hits += human[v.pair_id] == own
    return {"judge": rate(judge_hits, judge_n), "human": rate(human_hits, human_n)}


def anchoring(votes: Sequence[VoteRow], judge: Mapping[int, str]) -> dict[str, Rate]:
    """How much the judge moves people.

    - ``revised``: of blind first votes on pairs with a consistent verdict (the ones that saw a
      reveal), the share later revised; ``revised_to_judge``: of those revisions, the share that
      moved to the judge's choice.
    - ``agree_blind`` vs ``agree_shown``: agreement with the judge of first votes cast blind
      (after-vote mode) vs cast with the judge shown (before-vote mode). A large gap is anchoring.
    """
    revised_ids = {v.revises_id: v for v in votes if v.revises_id is not None}
    blind_first = [
        v
        for v in votes
        if v.revises_id is None
        and not v.judge_shown
        and judge.get(v.pair_id, INCONSISTENT) != INCONSISTENT
    ]
    shown_first = [
        v
        for v in votes
        if v.revises_id is None
        and v.judge_shown
        and judge.get(v.pair_id, INCONSISTENT) != INCONSISTENT
    ]
    revisions = [revised_ids[v.id] for v in blind_first if v.id in revised_ids]
    return {
        "revised": rate(len(revisions), len(blind_first)),
        "revised_to_judge": rate(
            sum(r.choice == judge[r.pair_id] for r in revisions), len(revisions)
        ),
        "agree_blind": rate(
            sum(v.choice == judge[v.pair_id] for v in blind_first), len(blind_first)
        ),
        "agree_shown": rate(
            sum(v.choice == judge[v.pair_id] for v in shown_first), len(shown_first)
        ),
    }


def finite_or_none(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None
