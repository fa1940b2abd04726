"""Judge analytics against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from annotate.analytics.judge import (
    VerdictRow,
    VoteRow,
    _kappa_from_counts,
    anchoring,
    aspect_kappas,
    human_labels,
    kappa,
    length_bias,
    rate,
    self_preference,
    swap_consistency,
)

JUDGE = {1: "a", 2: "a", 3: "b", 4: "b", 5: "a", 6: "tie", 7: "inconsistent"}
HUMAN = {1: "a", 2: "b", 3: "b", 4: "b", 5: "a", 6: "a", 7: "a"}


def test_it_computes_cohens_kappa_by_hand():
    # Pair 7 is an abstention (inconsistent). On pairs 1-6: po = 4/6; judge marginals a3 b2 tie1,
    # human a3 b3 tie0: pe = (9 + 6 + 0) / 36 = 15/36; κ = (24/36 - 15/36) / (21/36) = 9/21.
    result = kappa(JUDGE, HUMAN, n_boot=2000, seed=1)
    assert result.n == 6
    assert result.kappa == pytest.approx(9 / 21)
    assert result.agreement == pytest.approx(4 / 6)
    assert result.low < result.kappa < result.high
    assert -1 <= result.low and result.high <= 1
    # Same seed, same interval.
    assert kappa(JUDGE, HUMAN, n_boot=2000, seed=1).low == result.low


def test_the_vectorised_bootstrap_kappa_matches_sklearn():
    rng = np.random.default_rng(3)
    y1 = rng.choice(["a", "b", "tie"], size=40)
    y2 = np.where(rng.random(40) < 0.7, y1, rng.choice(["a", "b", "tie"], size=40))
    labels = ["a", "b", "tie"]
    counts = np.zeros((1, 3, 3))
    for u, v in zip(y1, y2, strict=True):
        counts[0, labels.index(u), labels.index(v)] += 1
    assert _kappa_from_counts(counts)[0] == pytest.approx(cohen_kappa_score(y1, y2))


def test_kappa_is_undefined_without_variation_or_overlap():
    assert kappa({1: "a", 2: "a"}, {1: "a", 2: "a"}).kappa is None
    assert kappa({1: "a", 2: "a"}, {1: "a", 2: "a"}).agreement == 1.0
    assert kappa({1: "a"}, {2: "b"}).n == 0


def test_human_labels_are_the_majority_of_blind_first_votes():
    votes = [
        VoteRow(1, pair_id=10, rater_id=1, choice="a"),
        VoteRow(2, pair_id=10, rater_id=2, choice="a"),
        VoteRow(3, pair_id=10, rater_id=3, choice="b"),
        VoteRow(4, pair_id=11, rater_id=1, choice="a"),
        VoteRow(5, pair_id=11, rater_id=2, choice="b"),  # no majority
        VoteRow(6, pair_id=12, rater_id=1, choice="b", judge_shown=True),  # anchored
        VoteRow(7, pair_id=13, rater_id=1, choice="a"),
        VoteRow(8, pair_id=13, rater_id=1, choice="b", judge_shown=True, revises_id=7),
    ]
    assert human_labels(votes) == {10: "a", 13: "a"}
    assert human_labels(votes, blind_only=False) == {10: "a", 12: "b", 13: "a"}


def test_per_aspect_kappa():
    verdicts = [
        VerdictRow(pair_id=p, choice="a", aspects={"helpful": v})
        for p, v in [(1, "a"), (2, "b"), (3, "a"), (4, "b")]
    ]
    votes = [
        VoteRow(p, pair_id=p, rater_id=1, choice="a", aspects={"helpful": v})
        for p, v in [(1, "a"), (2, "b"), (3, "b"), (4, "b")]
    ]
    # po = 3/4; judge a2 b2, human a1 b3: pe = (2 + 6) / 16 = 1/2; κ = (3/4 - 1/2) / (1/2) = 1/2.
    assert aspect_kappas(verdicts, votes, n_boot=200)["helpful"].kappa == pytest.approx(0.5)


def test_swap_consistency_rate_and_wilson_interval():
    rows = [
        VerdictRow(pair_id=1, choice="a", order1_choice="a", order2_choice="a"),
        VerdictRow(pair_id=2, choice="inconsistent", order1_choice="a", order2_choice="b"),
        VerdictRow(pair_id=3, choice="b", order1_choice="b", order2_choice="b"),
        VerdictRow(pair_id=4, choice="tie", order1_choice="tie", order2_choice="tie"),
    ]
    result = swap_consistency(rows)
    assert (result.k, result.n, result.rate) == (3, 4, 0.75)
    # Wilson 95 % for 1 of 2, by hand: centre 0.5, half-width 0.405464.
    half = rate(1, 2)
    assert half.low == pytest.approx(0.5 - 0.405464, abs=1e-5)
    assert half.high == pytest.approx(0.5 + 0.405464, abs=1e-5)


def test_length_bias_for_judge_and_humans():
    verdicts = [
        VerdictRow(pair_id=1, choice="a", len_a=100, len_b=50),  # judge: longer
        VerdictRow(pair_id=2, choice="b", len_a=100, len_b=50),  # judge: shorter
        VerdictRow(pair_id=3, choice="a", len_a=70, len_b=70),  # equal: not counted
        VerdictRow(pair_id=4, choice="tie", len_a=10, len_b=90),  # not decisive
    ]
    human = {1: "a", 2: "a", 4: "b"}  # longer, longer, longer
    result = length_bias(verdicts, human)
    assert (result["judge"].k, result["judge"].n) == (1, 2)
    assert (result["human"].k, result["human"].n) == (3, 3)


def test_self_preference_counts_only_pairs_with_one_own_candidate():
    rows = [
        VerdictRow(
            pair_id=1, choice="a", judge_model="claude-x", model_a="claude-x", model_b="gpt"
        ),  # own wins
        VerdictRow(
            pair_id=2, choice="a", judge_model="claude-x", model_a="gpt", model_b="claude-x"
        ),  # own loses
        VerdictRow(
            pair_id=3, choice="a", judge_model="claude-x", model_a="claude-x", model_b="claude-x"
        ),  # skip
        VerdictRow(
            pair_id=4, choice="tie", judge_model="claude-x", model_a="claude-x", model_b="gpt"
        ),  # not decisive
        VerdictRow(
            pair_id=5, choice="b", judge_model="claude-x", model_a="gpt", model_b="claude-x"
        ),  # own wins
    ]
    result = self_preference(rows, {1: "b", 2: "b", 5: "a"})
    assert (result["judge"].k, result["judge"].n) == (2, 3)
    assert (result["human"].k, result["human"].n) == (1, 3)


def test_anchoring_revision_rate_and_agreement_before_vs_after():
    votes = [
        VoteRow(1, pair_id=1, rater_id=1, choice="a"),  # blind, disagrees with judge (b)
        VoteRow(
            2, pair_id=1, rater_id=1, choice="b", judge_shown=True, revises_id=1
        ),  # moved to judge
        VoteRow(3, pair_id=2, rater_id=1, choice="b"),  # blind, agrees
        VoteRow(4, pair_id=3, rater_id=2, choice="a", judge_shown=True),  # shown, agrees
        VoteRow(5, pair_id=4, rater_id=2, choice="a", judge_shown=True),  # shown, agrees
        VoteRow(6, pair_id=5, rater_id=2, choice="a"),  # judge inconsistent: not counted
    ]
    judge = {1: "b", 2: "b", 3: "a", 4: "a", 5: "inconsistent"}
    result = anchoring(votes, judge)
    assert (result["revised"].k, result["revised"].n) == (1, 2)
    assert (result["revised_to_judge"].k, result["revised_to_judge"].n) == (1, 1)
    assert (result["agree_blind"].k, result["agree_blind"].n) == (1, 2)
    assert (result["agree_shown"].k, result["agree_shown"].n) == (2, 2)
