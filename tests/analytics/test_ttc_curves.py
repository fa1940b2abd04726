"""Best-of-N picks and the accuracy-versus-N curve against a hand-worked example.

Prompt A (reference 5): samples answer 5, 5, 7. Prompt B (reference 4): samples answer 3, 4 and
nothing. Every subset of 3 samples is enumerated (at most 3 subsets per size), so the figures are
exact and worked out by hand in the comments.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from annotate.analytics import ttc


def _groups() -> tuple[ttc.Group, ttc.Group]:
    a = ttc.Group(
        correct=np.array([True, True, False]),
        answers=["5", "5", "7"],
        cost=np.array([0.01, 0.01, 0.01]),
        verifier=np.array([0.2, 0.9, 0.9]),
        judge=ttc.Tournament.from_outcomes(3, [(0, 1, "a"), (0, 2, "b"), (1, 2, "tie")]),
        score_cost=0.001,
        verdict_cost=0.005,
    )
    b = ttc.Group(
        correct=np.array([False, True, False]),
        answers=["3", "4", None],
        cost=np.array([0.02, 0.02, 0.02]),
        verifier=np.array([0.8, 0.6, np.nan]),
        score_cost=0.002,
    )
    return a, b


def _curve(points) -> dict[int, float]:
    return {p.n: round(p.accuracy, 6) for p in points}


def test_it_computes_the_majority_curve_of_the_worked_example():
    curves = ttc.accuracy_curves(_groups(), methods=["majority"], n_boot=0)
    # N=1: A 2/3, B 1/3 (the answerless sample is wrong) -> 1/2.
    # N=2: A: {5,5} 5; {5,7} tie -> the first sample's 5; {5,7} again 5 -> 1. B: {3,4} tie -> 3
    #      (first); {3,-} 3; {4,-} 4 -> 1/3. Mean 2/3.
    # N=3: A 5 (two votes) -> 1; B 3 vs 4 tie -> 3 -> 0. Mean 1/2.
    assert _curve(curves["majority"]) == {1: 0.5, 2: round(2 / 3, 6), 3: 0.5}
    assert [p.prompts for p in curves["majority"]] == [2, 2, 2]
    # Cost per prompt at N=2: mean(2 x 0.01, 2 x 0.02); majority calls no model.
    assert curves["majority"][1].cost_per_prompt == pytest.approx(0.03)


def test_it_computes_pass_at_n_as_the_ceiling():
    curves = ttc.accuracy_curves(_groups(), methods=["pass_at_n"], n_boot=0)
    # N=2: A always holds a 5 -> 1; B holds the 4 in 2 of 3 subsets -> mean 5/6.
    assert _curve(curves["pass_at_n"]) == {1: 0.5, 2: round(5 / 6, 6), 3: 1.0}


def test_it_computes_the_verifier_curve_over_scored_samples_only():
    curves = ttc.accuracy_curves(_groups(), methods=["verifier"], n_boot=0)
    # B's third sample is unscored, so B's pool is 2 samples: it has no N=3 point.
    # N=1: A 2/3, B 1/2 -> 7/12. N=2: A {0.2,0.9} T, {0.2,0.9(wrong)} F, {0.9,0.9} first -> T = 2/3;
    #      B {0.8 wrong, 0.6 right} -> 0. Mean 1/3. N=3: A only -> 0.9 tie -> sample 1 -> 1.
    points = curves["verifier"]
    assert _curve(points) == {1: round(7 / 12, 6), 2: round(1 / 3, 6), 3: 1.0}
    assert [p.prompts for p in points] == [2, 2, 1]
    # N=2 costs two samples and two scores: mean(0.02 + 0.002, 0.04 + 0.004).
    assert points[1].cost_per_prompt == pytest.approx(0.033)


def test_it_computes_the_judge_curve_from_pairwise_points():
    curves = ttc.accuracy_curves(_groups(), methods=["judge"], n_boot=0)
    # Only A was judged. Verdicts: 0 beats 1, 2 beats 0, 1 ties 2.
    # N=2: {0,1} 0 -> T; {0,2} 2 -> F; {1,2} ½ each, no wins, earlier -> 1 -> T: 2/3.
    # N=3: points 0:1, 1:½, 2:1½ -> 2 (answer 7) -> 0.
    assert _curve(curves["judge"]) == {1: round(2 / 3, 6), 2: round(2 / 3, 6), 3: 0.0}
    # Three samples, three verdicts at 0.005: 0.03 + 0.015.
    assert curves["judge"][2].cost_per_prompt == pytest.approx(0.045)
    assert "human" not in ttc.accuracy_curves(_groups(), methods=["human"], n_boot=0)


def test_it_picks_and_finds_the_worst_over_the_whole_pool():
    a, b = _groups()
    assert ttc.pick(a, "majority") == 0
    assert ttc.pick(b, "majority") == 0  # 3 and 4 tie: the first sample's answer
    assert ttc.worst(a, "majority", 0) == 2  # the only other answer
    assert ttc.worst(b, "majority", 0) == 2  # no answer counts least
    assert ttc.pick(a, "verifier") == 1  # 0.9 twice: the earlier
    assert ttc.worst(a, "verifier", 1) == 0
    assert ttc.pick(b, "verifier") == 0 and ttc.worst(b, "verifier", 0) == 1
    assert ttc.pick(a, "judge") == 2 and ttc.worst(a, "judge", 2) == 1
    assert ttc.pick(b, "judge") is None


def test_it_breaks_majority_ties_by_first_appearance():
    group = ttc.Group(
        correct=np.array([False, True, True, False]),
        answers=["9", "4", "4", "9"],
        cost=np.zeros(4),
    )
    assert ttc.pick(group, "majority") == 0  # 9 and 4 twice each; 9 came first
    group = ttc.Group(correct=np.zeros(3, bool), answers=[None, None, None], cost=np.zeros(3))
    assert ttc.pick(group, "majority") is None
    one = ttc.Group(correct=np.array([False, True]), answers=[None, "4"], cost=np.zeros(2))
    assert ttc.pick(one, "majority") == 1  # an answerless sample casts no vote


def test_it_uses_random_subsets_when_there_are_too_many_and_agrees_with_the_full_pick():
    rng = np.random.default_rng(3)
    n = 16
    answers = [str(x) for x in rng.integers(0, 3, n)]
    group = ttc.Group(
        correct=np.array([a == "1" for a in answers]), answers=answers, cost=np.ones(n)
    )
    curves = ttc.accuracy_curves([group], methods=["majority"], subsets=32, n_boot=0)
    assert [p.n for p in curves["majority"]] == [1, 2, 4, 8, 16]
    full = ttc.pick(group, "majority")
    assert curves["majority"][-1].accuracy == float(group.correct[full])
    assert curves["majority"][0].accuracy == pytest.approx(group.correct.mean())


def test_it_gives_bootstrap_intervals_around_the_mean():
    rng = np.random.default_rng(0)
    values = np.array([0.0, 1.0] * 50)
    low, high = ttc.bootstrap_mean(values, n_boot=2000, rng=rng)
    # The mean of 100 fair coin flips: standard error 0.05, so about 0.4 .. 0.6.
    assert 0.38 < low < 0.45 and 0.55 < high < 0.62
    assert ttc.bootstrap_mean(np.array([0.7]), n_boot=100, rng=rng) == (0.7, 0.7)
    assert all(math.isnan(x) for x in ttc.bootstrap_mean(np.array([]), n_boot=10, rng=rng))
    curves = ttc.accuracy_curves(_groups(), methods=["majority"], n_boot=500, seed=1)
    for point in curves["majority"]:
        assert point.low <= point.accuracy <= point.high


def test_it_lists_sizes_up_to_the_largest_pool():
    assert ttc.sizes(1) == [1]
    assert ttc.sizes(5) == [1, 2, 4, 5]
    assert ttc.sizes(16) == [1, 2, 4, 8, 16]
    assert ttc.sizes(0) == []
