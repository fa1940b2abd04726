"""Best-of-N from pairwise judge verdicts.

Each prompt's N candidates are judged pairwise (every pair, in both orders). A candidate scores 1 for
a win and ½ for a tie, a both-bad or an inconsistent verdict (a disagreement between the two orders
is no evidence either way); failed or missing verdicts count nothing. Candidates are ranked by
score, then by wins, then by id (stable, so the ranking is reproducible).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence


def rank_candidates(
    candidate_ids: Sequence[int], verdicts: Iterable[tuple[int, int, str]]
) -> list[int]:
    """``verdicts``: (candidate_a_id, candidate_b_id, choice) with choice a|b|tie|both_bad|inconsistent.
    Returns the candidate ids best → worst."""
    score: dict[int, float] = defaultdict(float)
    wins: dict[int, int] = defaultdict(int)
    known = set(candidate_ids)
    for a, b, choice in verdicts:
        if a not in known or b not in known:
            continue
        if choice == "a":
            score[a] += 1
            wins[a] += 1
        elif choice == "b":
            score[b] += 1
            wins[b] += 1
        elif choice:
            score[a] += 0.5
            score[b] += 0.5
    return sorted(candidate_ids, key=lambda c: (-score[c], -wins[c], c))


def contested(verdicts: Iterable[tuple[int, int, str]]) -> list[tuple[int, int]]:
    """Candidate pairs the judge could not settle (inconsistent across orders, or tie): the pairs
    where a human vote teaches the most ("judge-contested first")."""
    return [(a, b) for a, b, choice in verdicts if choice in ("inconsistent", "tie")]
