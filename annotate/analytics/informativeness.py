"""How much one more human vote on a pair is worth: the score behind the "active" ordering. Pure.

A vote carries the most information where the answer is least settled (uncertainty sampling, as
active learning for reward models and the public arena's pair sampling do). Three signals:

* the judge disagreed with itself when the two responses were swapped (position-sensitive, so
  the pair is hard to call): ``JUDGE_WEIGHT``;
* the judge's verdict and the first human vote on the pair disagree (one of them is wrong, and a
  second human says which): ``JUDGE_WEIGHT``;
* the two generators' leaderboard intervals overlap (their order is not known yet): the shared
  length over the shorter interval (1 when either generator has no interval yet, 0 for two
  samples of one generator, from which the leaderboard learns nothing), divided by
  sqrt(1 + the votes between the two generators so far), so that two generators that stay level
  do not absorb every vote between two rescorings.

The weights come from bench/active_ordering.py (simulated campaigns with known strengths, Kendall's
tau of the leaderboard against the truth after 200 / 400 / 800 votes, 8 campaigns): random order
0.72 / 0.78 / 0.86; the overlap alone 0.72 / 0.82 / 0.89; the overlap decayed by the votes so far
with the judge at 0.3 and rescoring every 25 votes 0.79 / 0.85 / 0.90. A judge signal at full weight
pulled every vote onto the closest pairs and did worse early.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

JUDGE_WEIGHT = 0.3


def interval_overlap(board: Iterable[dict]) -> dict[tuple[str, str], float]:
    """(generator, generator) -> overlap of their leaderboard intervals in [0, 1], both orders."""
    rows = [r for r in board if r.get("low") is not None and r.get("high") is not None]
    out: dict[tuple[str, str], float] = {}
    for i, a in enumerate(rows):
        for b in rows[i + 1 :]:
            shared = min(a["high"], b["high"]) - max(a["low"], b["low"])
            shorter = min(a["high"] - a["low"], b["high"] - b["low"])
            if shorter <= 0:
                value = 1.0 if shared >= 0 else 0.0
            else:
                value = min(max(shared / shorter, 0.0), 1.0)
            out[(a["name"], b["name"])] = out[(b["name"], a["name"])] = value
    return out


def generator_overlap(overlap: dict[tuple[str, str], float], a: str, b: str) -> float:
    if a == b:
        return 0.0
    return overlap.get((a, b), 1.0)


def pair_priority(
    *,
    judge_unsure: bool,
    judge_human_disagree: bool,
    generators_overlap: float,
    comparisons: int = 0,
) -> float:
    """The score of one open pair (module docstring); ``comparisons``: votes so far between its
    two generators."""
    judge = JUDGE_WEIGHT * (float(judge_unsure) + float(judge_human_disagree))
    return judge + generators_overlap / math.sqrt(1 + max(comparisons, 0))


def comparisons_by_generators(counts) -> dict[tuple[str, str], int]:
    """(a, b) -> votes between generators a and b (both orders), from (winner, loser, weight)
    counts; a tie counted once."""
    out: dict[tuple[str, str], float] = {}
    for (winner, loser, weight), n in counts.items():
        out[(winner, loser)] = out.get((winner, loser), 0) + n * weight
        out[(loser, winner)] = out.get((loser, winner), 0) + n * weight
    return {k: round(v) for k, v in out.items()}
