"""Best-of-N ranking from pairwise verdicts, and the default rubric."""

from __future__ import annotations

from annotate.judge.ranking import contested, rank_candidates
from annotate.judge.rubric import rubric_build


def test_it_ranks_by_wins_with_half_points_for_ties_and_inconsistent():
    verdicts = [
        (1, 2, "b"),  # 2 beats 1
        (1, 3, "a"),  # 1 beats 3
        (2, 3, "a"),  # 2 beats 3
        (1, 4, "inconsistent"),  # ½ each
        (2, 4, "b"),  # 4 beats 2
        (3, 4, "tie"),  # ½ each
    ]
    # scores: 1 → 1.5, 2 → 2, 3 → 0.5, 4 → 2 (ties broken by wins: 2 has 2 wins, 4 has 1)
    assert rank_candidates([1, 2, 3, 4], verdicts) == [2, 4, 1, 3]
    assert contested(verdicts) == [(1, 4), (3, 4)]


def test_it_ignores_unknown_candidates_and_is_stable():
    assert rank_candidates([5, 6], [(5, 9, "a")]) == [5, 6]
    assert rank_candidates([7, 5], []) == [5, 7]


def test_the_rubric_carries_guidelines_aspects_and_scale():
    text = rubric_build(
        guidelines="Prefer **short** answers.",
        aspects=["helpful", "honest"],
        scale="graded7",
        allow_both_bad=False,
    )
    assert "Prefer **short** answers." in text
    assert "- helpful" in text and "- honest" in text
    assert "7 points" in text and "not offered" in text
    # Long enough for prompt caching to apply (about 1,024 tokens at ~4 characters a token).
    assert len(text) > 4000
