"""The rating rules, pure: a rating's shape (every response once, every aspect, whole numbers on
the scale, no unknown key), and the pairs and labels scores give."""

from __future__ import annotations

import random

import pytest

from annotate.protocols.rating import (
    RatingInvalid,
    Scale,
    normalised,
    rating_clean,
    rating_pairs,
)

SCALE = Scale(low=1, high=5, aspects=("helpful", "honest"))
SHOWN = [30, 10, 20]  # candidate ids as shown: number 1 is candidate 30


def _entry(n, overall=3, **extra):
    return {"number": n, "overall": overall, "aspects": {"helpful": 4, "honest": 2}, **extra}


def test_it_maps_shown_numbers_to_candidates_in_shown_order():
    rated = rating_clean([_entry(3, 5), _entry(1, 1), _entry(2, 2)], shown_order=SHOWN, scale=SCALE)
    assert [(r["candidate_id"], r["overall"]) for r in rated] == [(30, 1), (10, 2), (20, 5)]
    assert rated[0]["aspects"] == {"helpful": 4, "honest": 2} and rated[0]["rationale"] == ""


@pytest.mark.parametrize(
    "entries, message",
    [
        ([], "one entry per response"),
        ("4", "one entry per response"),
        ([_entry(1), _entry(2)], "not rated yet"),
        ([_entry(1), _entry(1), _entry(2)], "rated twice"),
        ([_entry(1), _entry(2), _entry(4)], "numbered 1 to 3"),
        ([_entry(1), _entry(2), _entry(True)], "numbered 1 to 3"),
        ([_entry(1, 6), _entry(2), _entry(3)], "from 1 to 5"),
        ([_entry(1, 0), _entry(2), _entry(3)], "from 1 to 5"),
        ([_entry(1, 2.5), _entry(2), _entry(3)], "from 1 to 5"),
        ([_entry(1, True), _entry(2), _entry(3)], "from 1 to 5"),
        ([{"number": 1}, _entry(2), _entry(3)], "Response 1: give the overall score"),
        ([_entry(1, extra=1), _entry(2), _entry(3)], "Unknown field: extra"),
        ([{**_entry(1), "aspects": {"helpful": 4}}, _entry(2), _entry(3)], "missing: honest"),
        (
            [{**_entry(1), "aspects": {"helpful": 4, "honest": 2, "fun": 1}}, _entry(2), _entry(3)],
            "Unknown aspect: fun",
        ),
        ([{**_entry(1), "aspects": {"helpful": 9, "honest": 2}}, _entry(2), _entry(3)], "helpful"),
        ([{**_entry(1), "aspects": [4, 2]}, _entry(2), _entry(3)], "map each aspect"),
        ([_entry(1, rationale=5), _entry(2), _entry(3)], "A rationale is text"),
        (["x", _entry(2), _entry(3)], "an object"),
    ],
)
def test_it_refuses_what_is_not_a_rating(entries, message):
    with pytest.raises(RatingInvalid, match=message):
        rating_clean(entries, shown_order=SHOWN, scale=SCALE)


def test_a_required_rationale_is_asked_of_every_response():
    scale = SCALE._replace(rationale="required", rationale_min=5)
    entries = [_entry(1, rationale="clear and right"), _entry(2, rationale="ok"), _entry(3)]
    with pytest.raises(RatingInvalid, match="Response 2: explain"):
        rating_clean(entries, shown_order=SHOWN, scale=scale)
    off = SCALE._replace(rationale="off")
    rated = rating_clean(entries, shown_order=SHOWN, scale=off)
    assert {r["rationale"] for r in rated} == {""}


def test_overall_only_when_the_campaign_names_no_aspect():
    scale = Scale(low=0, high=9, aspects=())
    rated = rating_clean([{"number": 1, "overall": 0}], shown_order=[7], scale=scale)
    assert rated == [{"candidate_id": 7, "overall": 0, "aspects": {}, "rationale": ""}]


def test_best_vs_each_pairs_the_best_with_every_response_at_least_the_gap_lower():
    means = {1: 4.5, 2: 4.0, 3: 2.0, 4: 3.5}
    assert rating_pairs(means, min_gap=1.0) == [(1, 4, 1.0), (1, 3, 2.5)]
    assert rating_pairs(means, min_gap=0.5) == [(1, 2, 0.5), (1, 4, 1.0), (1, 3, 2.5)]
    assert rating_pairs(means, min_gap=3.0) == []
    assert rating_pairs({1: 5.0}, min_gap=0) == []


def test_a_tie_for_best_goes_to_the_lower_candidate_id():
    assert rating_pairs({9: 5.0, 4: 5.0, 6: 1.0}, min_gap=1) == [(4, 6, 4.0)]


def test_best_vs_random_draws_one_lower_response_with_the_seed():
    means = {1: 5.0, 2: 3.0, 3: 2.0, 4: 1.0}
    drawn = {rating_pairs(means, mode="best_vs_random", rng=random.Random(s))[0] for s in range(40)}
    assert {p.rejected for p in drawn} == {2, 3, 4} and {p.chosen for p in drawn} == {1}
    again = [rating_pairs(means, mode="best_vs_random", rng=random.Random("7:3")) for _ in range(3)]
    assert again[0] == again[1] == again[2] and len(again[0]) == 1
    with pytest.raises(ValueError):
        rating_pairs(means, mode="all")


def test_normalised_puts_the_scale_on_zero_to_one():
    assert normalised(1, low=1, high=5) == 0 and normalised(5, low=1, high=5) == 1
    assert normalised(4, low=1, high=5) == 0.75
