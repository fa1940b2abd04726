"""Step labels' pure rules: the splits (with a hostile pattern), the labels, gold, majority."""

from __future__ import annotations

import time

import pytest

from annotate.protocols.steps import (
    LabelsInvalid,
    SplitError,
    pattern_check,
    regex_split_many,
    step_gold_correct,
    step_labels_clean,
    step_majority,
    steps_split,
    steps_split_many,
    trace_majority,
)


def test_it_registers_behind_the_seam():
    from annotate.protocols import protocol_for, protocols

    assert "steps" in protocols()
    assert protocol_for("steps").unit == "trace"
    assert protocol_for("steps").rate_url == "annotate:steps"


def test_it_splits_by_paragraph_dropping_blank_blocks():
    text = "First, add.\n\n  \n\nThen carry the one.\r\n\r\nSo 12.\n"
    assert steps_split(text, rule="paragraph") == ["First, add.", "Then carry the one.", "So 12."]


def test_it_splits_by_numbered_lines_keeping_continuations_and_a_preamble():
    text = "Let me see.\n1. Add 2 and 2.\n   That is 4.\n2) Double it.\nStep 3: So 8.\n단계 4: 끝."
    assert steps_split(text, rule="numbered") == [
        "Let me see.",
        "1. Add 2 and 2.\n   That is 4.",
        "2) Double it.",
        "Step 3: So 8.",
        "단계 4: 끝.",
    ]
    # A number that is not a line's marker ("3.5 is ...") does not start a step.
    assert steps_split("1. 3.5 is half of 7\n2. done", rule="numbered") == [
        "1. 3.5 is half of 7",
        "2. done",
    ]


def test_it_splits_by_a_pattern_in_and_out_of_the_child_the_same_way():
    texts = ["a;b;;c", "Step 1 x Step 2 y", "no separator"]
    assert regex_split_many(texts[:1], pattern=";") == [["a", "b", "c"]]
    assert regex_split_many(texts[1:2], pattern="(?=Step )") == [["Step 1 x", "Step 2 y"]]
    for pattern in (";", "(?=Step )", r"\s+(x|y)\s*"):
        assert regex_split_many(texts, pattern=pattern) == [
            steps_split(t, rule="regex", pattern=pattern) for t in texts
        ]
    assert steps_split_many(texts, rule="paragraph") == [[t] for t in texts]


@pytest.mark.parametrize(
    "pattern, why",
    [("", "needs a pattern"), ("(", "Not a regular expression"), ("x" * 201, "at most")],
)
def test_it_refuses_a_bad_pattern(pattern, why):
    with pytest.raises(SplitError, match=why):
        pattern_check(pattern)


def test_it_stops_a_catastrophic_pattern_within_its_time_limit():
    started = time.monotonic()
    with pytest.raises(SplitError, match="took longer"):
        regex_split_many(["a" * 60 + "!"], pattern=r"(a+)+$", seconds=1.0)
    assert time.monotonic() - started < 5


def test_it_takes_one_label_per_step_and_ends_the_trace_at_the_first_wrong_step():
    labels, notes = step_labels_clean(
        [1, 0, -1, 1], n=4, stop_at_wrong=True, notes=["", " ok ", "bad sum", "ignored"]
    )
    assert labels == [1, 0, -1, None] and notes == ["", "ok", "bad sum", ""]
    assert step_labels_clean([1, -1, None], n=3, stop_at_wrong=True)[0] == [1, -1, None]
    # Without the stop every step is labelled.
    with pytest.raises(LabelsInvalid, match="step 3"):
        step_labels_clean([1, -1, None], n=3, stop_at_wrong=False)
    assert step_labels_clean([1, -1, 1], n=3, stop_at_wrong=False)[0] == [1, -1, 1]


@pytest.mark.parametrize(
    "labels, notes, why",
    [
        ([1, 1], None, "one label per step"),
        ("1,1,1", None, "one label per step"),
        ([1, 2, 1], None, "1 \\(correct\\)"),
        ([1, True, 1], None, "1 \\(correct\\)"),
        ([1, "1", 1], None, "1 \\(correct\\)"),
        ([1, None, 1], None, "step 2"),
        ([1, 1, 1], ["", ""], "one note per step"),
        ([1, 1, 1], ["", 3, ""], "A note is text"),
        ([1, 1, 1], ["", "x" * 1001, ""], "at most 1000"),
    ],
)
def test_it_refuses_labels_that_do_not_fit(labels, notes, why):
    with pytest.raises(LabelsInvalid, match=why):
        step_labels_clean(labels, n=3, stop_at_wrong=True, notes=notes)


def test_gold_is_the_first_wrong_step_and_majority_breaks_ties_low():
    assert step_gold_correct([1, 1, -1, None], [0, 1, -1, None])
    assert not step_gold_correct([1, -1, None, None], [1, 1, -1, None])
    assert step_gold_correct([1, 0, 1], [1, 1, 1])
    assert step_majority([1, 1, -1]) == 1
    assert step_majority([1, -1, None]) == -1
    assert step_majority([None]) is None
    votes = [[1, -1, None], [1, 1, -1], [1, -1, None]]
    assert trace_majority(votes, n=3, stop_at_wrong=True) == [1, -1, None]
    assert trace_majority(votes, n=3, stop_at_wrong=False) == [1, -1, -1]
