"""Aggregation of k votes per pair, checked on hand-computed cases."""

from __future__ import annotations

import itertools

import pytest

from annotate.exports.aggregate import aggregate_pair, counted_votes
from tests.exports.rows import vote


def _votes(*specs):
    return [vote(i + 1, rater_id=i + 1, choice=c, strength=s) for i, (c, s) in enumerate(specs)]


def test_it_takes_the_plurality_label_with_margin_and_agreement():
    # a, a, b on the binary scale: label a; margin = strength 1 of the a votes x agreement 2/3.
    d = aggregate_pair(_votes(("a", None), ("a", None), ("b", None)))
    assert d.label == "a"
    assert d.margin == pytest.approx(2 / 3, abs=1e-6)
    assert d.agreement == pytest.approx(2 / 3, abs=1e-6)
    assert d.counts == {"a": 2, "b": 1}


def test_it_drops_a_pair_whose_top_count_is_shared():
    assert aggregate_pair(_votes(("a", None), ("b", None))).label is None
    assert aggregate_pair(_votes(("a", 1), ("b", 3), ("tie", 0))).label is None


def test_a_majority_preference_always_has_a_margin_above_zero():
    # a(1), a(1), b(3): majority a. The signed mean (1 + 1 - 3) / 3 is below 0 and used to give a
    # margin of 0.0 for a row labelled a preference; the margin now measures the winning side:
    # mean strength of the a votes (1) x the share that chose a (2/3).
    d = aggregate_pair(_votes(("a", 1), ("a", 1), ("b", 3)))
    assert d.label == "a"
    assert d.margin == pytest.approx(2 / 3, abs=1e-6)
    # b(2), b(3): unanimous, margin (2 + 3) / 2 = 2.5.
    d = aggregate_pair(_votes(("b", 2), ("b", 3)))
    assert (d.label, d.margin, d.agreement) == ("b", 2.5, 1.0)
    # a(3), b(1), b(1), b(1), tie: b wins 3 of 5 with strength 1 -> 0.6.
    d = aggregate_pair(_votes(("a", 3), ("b", 1), ("b", 1), ("b", 1), ("tie", 0)))
    assert (d.label, d.margin) == ("b", 0.6)


@pytest.mark.parametrize("method", ["majority", "mean_strength"])
def test_every_preference_margin_is_above_zero_and_every_tie_margin_is_zero(method):
    choices = [("a", 1), ("a", 3), ("b", 1), ("b", 3), ("tie", 0), ("both_bad", 0)]
    for n in range(1, 4):
        for votes in itertools.product(choices, repeat=n):
            d = aggregate_pair(_votes(*votes), method=method)
            if d.label in ("a", "b"):
                assert d.margin > 0, votes
            else:
                assert d.margin == 0, votes


def test_it_decides_by_mean_strength_when_asked():
    # a(1), a(1), b(3): mean (1 + 1 - 3) / 3 = -1/3 -> b, though a has more votes.
    d = aggregate_pair(_votes(("a", 1), ("a", 1), ("b", 3)), method="mean_strength")
    assert d.label == "b"
    assert d.margin == pytest.approx(1 / 3, abs=1e-6)
    assert aggregate_pair(_votes(("a", 2), ("b", 2)), method="mean_strength").label == "tie"
    # both-bad wins only with a strict majority; otherwise the scored votes decide.
    votes = _votes(("both_bad", 0), ("both_bad", 0), ("a", 1))
    assert aggregate_pair(votes, method="mean_strength").label == "both_bad"
    votes = _votes(("both_bad", 0), ("a", 1))
    assert aggregate_pair(votes, method="mean_strength").label == "a"


def test_it_counts_each_raters_latest_vote_and_one_source():
    votes = [
        vote(1, rater_id=1, choice="a"),
        vote(2, rater_id=2, choice="b"),
        vote(
            3, rater_id=1, choice="b", revises_id=1
        ),  # rater 1 changed their mind after the reveal
        vote(4, rater_id=None, choice="a", source="judge"),
    ]
    counted = counted_votes(votes)
    assert [v["judgment_id"] for v in counted] == [2, 3]
    assert aggregate_pair(counted).label == "b"
    assert [v["judgment_id"] for v in counted_votes(votes, source="judge")] == [4]
    assert [v["judgment_id"] for v in counted_votes(votes, excluded_raters=frozenset({2}))] == [3]
