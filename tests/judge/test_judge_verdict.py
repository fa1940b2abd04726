"""Pure verdict logic: schema validation, mapping presented order to canonical, the two-order rule."""

from __future__ import annotations

import pytest

from annotate.judge.calls import VerdictSpec, tool_schema, user_text
from annotate.judge.verdict import (
    MalformedVerdict,
    combine,
    parse_verdict,
    rationale_for_view,
    to_canonical,
)

BINARY = VerdictSpec(graded=False, allow_both_bad=True, aspects=("helpful", "honest"))
GRADED = VerdictSpec(graded=True, allow_both_bad=False, aspects=())


def answer(choice="1", **extra):
    base = {
        "rationale": "Response 1 is right; Response 2 is wrong.",
        "choice": choice,
        "confidence": 0.9,
        "aspects": {"helpful": "1", "honest": "tie"},
    }
    base.update(extra)
    return base


def test_it_accepts_a_valid_verdict_and_keeps_positions():
    parsed = parse_verdict(answer(), spec=BINARY)
    assert parsed["choice"] == "1"
    assert parsed["aspects"] == {"helpful": "1", "honest": "tie"}
    assert parsed["strength"] is None
    assert parsed["confidence"] == 0.9


@pytest.mark.parametrize(
    "bad",
    [
        None,
        "Response 1",
        answer(choice="A"),
        answer(choice="both_bad") | {"aspects": {"helpful": "1"}},
        answer(rationale=""),
        answer(confidence=1.5),
        answer(confidence="high"),
        answer(confidence=True),
        answer(aspects={"helpful": "1", "honest": "3"}),
        answer(aspects="1"),
    ],
)
def test_it_rejects_malformed_verdicts(bad):
    with pytest.raises(MalformedVerdict):
        parse_verdict(bad, spec=BINARY)


def test_it_requires_a_strength_on_the_graded_scale_and_refuses_both_bad_when_not_allowed():
    with pytest.raises(MalformedVerdict):
        parse_verdict({"rationale": "x", "choice": "2", "confidence": 0.5}, spec=GRADED)
    with pytest.raises(MalformedVerdict):
        parse_verdict({"rationale": "x", "choice": "both_bad", "confidence": 0.5}, spec=GRADED)
    parsed = parse_verdict(
        {"rationale": "x", "choice": "2", "strength": 3, "confidence": 0.5}, spec=GRADED
    )
    assert parsed["strength"] == 3
    tie = parse_verdict({"rationale": "x", "choice": "tie", "confidence": 0.5}, spec=GRADED)
    assert tie["strength"] == 0


def test_it_maps_positions_back_to_canonical_a_and_b():
    parsed = parse_verdict(
        answer(choice="1", aspects={"helpful": "2", "honest": "tie"}), spec=BINARY
    )
    a_first = to_canonical(parsed, a_first=True)
    b_first = to_canonical(parsed, a_first=False)
    assert (a_first["choice"], a_first["aspects"]) == ("a", {"helpful": "b", "honest": "tie"})
    assert (b_first["choice"], b_first["aspects"]) == ("b", {"helpful": "a", "honest": "tie"})


def test_it_keeps_a_verdict_only_when_both_orders_agree():
    # Order 1 (a first) says "1" = a; order 2 (b first) says "2" = a: the same verdict.
    o1 = to_canonical(parse_verdict(answer(choice="1", confidence=0.8), spec=BINARY), a_first=True)
    o2 = to_canonical(
        parse_verdict(
            answer(choice="2", confidence=0.6, aspects={"helpful": "2", "honest": "1"}), spec=BINARY
        ),
        a_first=False,
    )
    both = combine(o1, o2)
    assert both.consistent and both.choice == "a"
    assert both.aspects == {"helpful": "a", "honest": "inconsistent"}
    assert both.confidence == pytest.approx(0.7)
    # Position bias: "1" both times means a then b: inconsistent.
    o2_biased = to_canonical(parse_verdict(answer(choice="1"), spec=BINARY), a_first=False)
    biased = combine(o1, o2_biased)
    assert not biased.consistent and biased.choice == "inconsistent"


def test_it_keeps_the_smaller_strength_when_the_sides_agree():
    o1 = to_canonical(
        parse_verdict(
            {"rationale": "x", "choice": "2", "strength": 3, "confidence": 1}, spec=GRADED
        ),
        a_first=True,
    )
    o2 = to_canonical(
        parse_verdict(
            {"rationale": "y", "choice": "1", "strength": 1, "confidence": 1}, spec=GRADED
        ),
        a_first=False,
    )
    both = combine(o1, o2)
    assert (both.choice, both.strength) == ("b", 1)


def test_it_shows_the_rationale_in_the_raters_labels():
    o1 = {"rationale": "Response 1 beats Response 2.", "choice": "a"}
    o2 = {"rationale": "Response 2 beats Response 1.", "choice": "a"}
    # a on the left: order 1 matches the screen, Response 1 is the rater's A.
    assert (
        rationale_for_view(order1=o1, order2=o2, left_is_a=True) == "Response A beats Response B."
    )
    # b on the left: order 2 matches; its Response 2 is a, shown on the right as B.
    assert (
        rationale_for_view(order1=o1, order2=o2, left_is_a=False) == "Response B beats Response A."
    )
    assert (
        rationale_for_view(order1=o1, order2=None, left_is_a=False)
        == "Response B beats Response A."
    )


def test_the_tool_schema_follows_the_campaign_scale_and_aspects():
    schema = tool_schema(BINARY)["input_schema"]
    assert schema["properties"]["choice"]["enum"] == ["1", "2", "tie", "both_bad"]
    assert "strength" not in schema["properties"]
    assert schema["properties"]["aspects"]["required"] == ["helpful", "honest"]
    graded = tool_schema(GRADED)["input_schema"]
    assert (
        "strength" in graded["required"]
        and "both_bad" not in graded["properties"]["choice"]["enum"]
    )
    text = user_text(
        messages=[{"role": "user", "content": "Hi?"}], system="", first="AAA", second="BBB"
    )
    assert text.index("AAA") < text.index("BBB")
