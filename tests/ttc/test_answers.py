"""Final-answer extraction rules and answer matching (annotate/answers.py)."""

from __future__ import annotations

import pytest

from annotate.answers import (
    PatternError,
    PatternTimeout,
    answer_key,
    answers_match,
    compile_pattern,
    extract_answer,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so x = 2, hence \\boxed{4}.", "4"),
        ("first \\boxed{3} then \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("Working...\nAnswer: 42\n", "42"),
        ("Working...\n**Final answer:** 17.", "17."),
        ("answer: one\nmore text\n## Answer: two", "two"),
        ("\\boxed{7}\nAnswer: 8", "7"),  # the box wins over the line
        ("\\boxed{unbalanced\nAnswer: 9", "9"),
        ("no answer in here", None),
        ("Answer:   \n", None),
    ],
)
def test_it_extracts_by_the_convention(text, expected):
    assert extract_answer(text, rule="convention") == expected


def test_it_extracts_the_last_match_of_a_regex():
    text = "The result is 12. Then the result is 15."
    assert extract_answer(text, rule="regex", pattern=r"result is (\d+)") == "15"
    assert extract_answer(text, rule="regex", pattern=r"\d+") == "15"  # no group: whole match
    assert extract_answer(text, rule="regex", pattern=r"total (\d+)") is None
    assert extract_answer("RESULT IS 3", rule="regex", pattern=r"result is (\d+)") == "3"


def test_a_pattern_that_backtracks_stops_at_the_time_limit():
    # (a|aa)+$ on 40 a's and a b backtracks for hours under Python's re.
    with pytest.raises(PatternTimeout, match="took longer than 0.1 s"):
        extract_answer("a" * 40 + "b", rule="regex", pattern=r"(a|aa)+$", seconds=0.1)
    assert extract_answer("a" * 40, rule="regex", pattern=r"(a|aa)+$", seconds=0.1) == "a"


def test_it_extracts_the_last_line():
    assert extract_answer("Reasoning\n\n- **56**  \n\n", rule="last_line") == "56"
    assert extract_answer("### Done", rule="last_line") == "Done"
    assert extract_answer("1. 56", rule="last_line") == "56"
    assert extract_answer("   \n", rule="last_line") is None


def test_it_leaves_the_judge_rule_to_the_judge_and_refuses_unknown_rules():
    assert extract_answer("Answer: 4", rule="judge") is None
    with pytest.raises(ValueError, match="Unknown answer rule"):
        extract_answer("Answer: 4", rule="vibes")


def test_it_refuses_bad_patterns():
    for pattern, message in (
        ("", "needs a pattern"),
        ("(", "Not a regular"),
        ("a" * 301, "at most"),
    ):
        with pytest.raises(PatternError, match=message):
            compile_pattern(pattern)


@pytest.mark.parametrize(
    ("answer", "reference"),
    [
        ("12", "12.0"),
        ("24/2", "12"),
        ("1,000", "1000"),
        ("$12$", "12"),
        ("**Paris**", "paris"),
        ("42.", "42"),
        ("50%", "50 %"),
        ("  x + 1 ", "X + 1"),
    ],
)
def test_it_matches_answers_by_value(answer, reference):
    assert answers_match(answer, reference)


def test_it_tells_different_answers_apart():
    assert not answers_match("12", "13")
    assert not answers_match("50%", "50")
    assert not answers_match(None, "4")
    assert not answers_match("4", None)
    assert answer_key("  ") is None
    assert answer_key("1/0") == "1/0"  # not a number: compared as text
