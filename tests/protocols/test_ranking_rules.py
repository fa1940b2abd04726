"""The ranking protocol's pure rules: rankings, shown order, rotation balance, derived pairs."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from annotate.protocols import protocol_for, protocols
from annotate.protocols.ranking import (
    RankingInvalid,
    derived_pairs,
    ranking_clean,
    ranking_from_shown,
    rotation_choose,
    shown_order_for,
)


def test_it_registers_every_protocol_behind_one_seam():
    assert set(protocols()) == {"pairwise", "ranking", "rating", "steps", "live"}
    assert protocol_for("ranking").unit == "set"
    assert protocol_for("pairwise").rate_url == "annotate:rate"


def test_it_accepts_a_ranking_with_ties():
    assert ranking_clean([[3], [1, 2], [4]], members=[1, 2, 3, 4]) == [[3], [1, 2], [4]]


@pytest.mark.parametrize(
    "groups, why",
    [
        ([], "non-empty"),
        ([[1], [2], [3]], "not ranked"),
        ([[1], [2], [3], [4], [5]], "Not in this set"),
        ([[1], [1], [2], [3], [4]], "twice"),
        ([[1, 2], [], [3, 4]], "non-empty"),
        ([[1], ["2"], [3], [4]], "by number"),
        ([[1], [True], [3], [4]], "by number"),
        ({"1": 1}, "non-empty"),
    ],
)
def test_it_refuses_what_is_not_a_ranking_of_the_set(groups, why):
    with pytest.raises(RankingInvalid, match=why):
        ranking_clean(groups, members=[1, 2, 3, 4])


def test_it_maps_shown_numbers_to_candidates():
    assert ranking_from_shown([[2], [1, 3]], shown_order=[30, 10, 20]) == [[10], [30, 20]]
    with pytest.raises(RankingInvalid, match="1 to 3"):
        ranking_from_shown([[4]], shown_order=[30, 10, 20])
    with pytest.raises(RankingInvalid):
        ranking_from_shown([[0]], shown_order=[30, 10, 20])


def test_it_derives_all_k_k_minus_1_over_2_pairs_with_rank_distance():
    # 12 > 15 = 17 > 13
    pairs = derived_pairs([[12], [15, 17], [13]], mode="all")
    assert [tuple(p) for p in pairs] == [
        (12, 13, "a", 2),
        (12, 15, "a", 1),
        (12, 17, "a", 1),
        (13, 15, "b", 1),
        (13, 17, "b", 1),
        (15, 17, "tie", 0),
    ]


def test_it_derives_best_vs_rest():
    pairs = derived_pairs([[12], [15, 17], [13]], mode="best_vs_rest")
    assert [tuple(p) for p in pairs] == [(12, 13, "a", 2), (12, 15, "a", 1), (12, 17, "a", 1)]
    # Two tied at the top: each against the rest, never against each other.
    pairs = derived_pairs([[5, 9], [7]], mode="best_vs_rest")
    assert [tuple(p) for p in pairs] == [(5, 7, "a", 1), (7, 9, "b", 1)]
    with pytest.raises(ValueError):
        derived_pairs([[1], [2]], mode="pairs")


def test_it_rotates_the_shown_order():
    assert shown_order_for([1, 2, 3, 4], 0) == [1, 2, 3, 4]
    assert shown_order_for([1, 2, 3, 4], 1) == [2, 3, 4, 1]
    assert shown_order_for([1, 2, 3, 4], 5) == [2, 3, 4, 1]


@pytest.mark.parametrize("k", [3, 4, 9])
def test_it_shows_each_candidate_in_each_position_equally_often(k):
    """k raters of a K-set (k = K): a Latin square. 2K raters: each position exactly twice."""
    rng = random.Random(1)
    slots = list(range(100, 100 + k))
    used: list[int] = []
    seen = Counter()
    for _ in range(2 * k):
        r = rotation_choose(used, k=k, rng=rng)
        used.append(r)
        for position, candidate in enumerate(shown_order_for(slots, r)):
            seen[(candidate, position)] += 1
    assert set(seen.values()) == {2}
    assert len(seen) == k * k
