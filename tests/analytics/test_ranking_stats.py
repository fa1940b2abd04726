"""Ranking statistics on hand-computed examples."""

from __future__ import annotations

import pytest

from annotate.analytics.rankings import (
    kendalls_w,
    mean_w,
    mid_ranks,
    ordinal_alpha,
    plackett_luce,
    position_bias,
)


def test_mid_ranks_share_the_places_of_a_tie():
    assert mid_ranks([[7], [8, 9], [6]]) == {7: 1, 8: 2.5, 9: 2.5, 6: 4}


def test_kendalls_w_by_hand():
    # Rank sums a 4, b 6, c 8; S = 8; W = 12·8 / (3²·(27 − 3)) = 96 / 216.
    w = kendalls_w([[[1], [2], [3]], [[1], [3], [2]], [[2], [1], [3]]])
    assert w == pytest.approx(96 / 216)
    assert kendalls_w([[[1], [2], [3]]] * 4) == pytest.approx(1.0)
    assert kendalls_w([[[1], [2]], [[2], [1]]]) == pytest.approx(0.0)
    assert kendalls_w([[[1], [2]]]) is None  # one rater


def test_kendalls_w_corrects_for_ties():
    # Sums a 2, b 4.5, c 5.5; S = 6.5; T = 2³ − 2 = 6; W = 78 / (4·24 − 2·6) = 78 / 84.
    assert kendalls_w([[[1], [2, 3]], [[1], [2], [3]]]) == pytest.approx(78 / 84)


def test_mean_w_over_sets_with_two_raters():
    by_set = {1: [[[1], [2]], [[1], [2]]], 2: [[[3], [4]], [[4], [3]]], 3: [[[5], [6]]]}
    assert mean_w(by_set) == {"w": pytest.approx(0.5), "sets": 2}


def test_ordinal_alpha_is_one_when_raters_agree():
    votes = {
        s: [
            ("r1", [[1 + 3 * s], [2 + 3 * s], [3 + 3 * s]]),
            ("r2", [[1 + 3 * s], [2 + 3 * s], [3 + 3 * s]]),
        ]
        for s in range(3)
    }
    assert ordinal_alpha(votes) == pytest.approx(1.0)
    assert ordinal_alpha({0: [("r1", [[1], [2]])]}) is None


def test_plackett_luce_orders_generators_with_intervals():
    gen = {1: "A", 2: "B", 3: "C", 4: "A", 5: "B", 6: "C"}
    rankings = [[[1], [2], [3]]] * 6 + [[[5], [4], [6]]] * 2 + [[[4], [5, 6]]] * 2
    board = plackett_luce(rankings, gen, n_boot=50)
    assert [b["name"] for b in board] == ["A", "B", "C"]
    assert sum(b["share"] for b in board) == pytest.approx(1.0)
    for b in board:
        assert b["low"] <= b["share"] <= b["high"]
        assert b["rankings"] == 10
    assert plackett_luce(rankings, {k: "A" for k in gen}) == []  # one generator: no board


def test_position_bias_over_k_positions():
    # Four rankings of K = 3; the response shown first is ranked best three times, once it
    # ties at the top with the second one.
    votes = [
        ([[10], [11], [12]], [10, 11, 12]),
        ([[20], [21], [22]], [20, 22, 21]),
        ([[31], [30], [32]], [30, 31, 32]),
        ([[40, 41], [42]], [40, 41, 42]),
    ]
    out = position_bias(votes)
    assert out["k"] == 3
    shares = [p["best"] for p in out["positions"]]
    assert shares == [2.5, 1.5, 0.0]
    assert out["positions"][0]["expected"] == pytest.approx(1 / 3)
