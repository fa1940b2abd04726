"""What "the same text" means, and the checks that run on every text of every row."""

from __future__ import annotations

import pytest

from annotate.exports.texts import (
    SeenOnce,
    clean,
    same_text,
    text_key,
    text_problem,
    texts_key,
    usable_text,
)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Paris.", "Paris.", True),
        ("Paris.", "  Paris.\n", True),
        ("The capital\n\nis Paris.", "The capital is\tParis.", True),
        ("The capital is Paris.", "The capital is Lyon.", False),  # same first word, then differs
        ("Paris.", "Lyon.", False),  # first words differ: decided without folding
        ("caf\u00e9 ok", "cafe\u0301 ok", True),  # NFC: composed and decomposed é
        ("e\u0301", "\u00e9", True),  # the combining mark is in the first word: folded
        ("\u00e9 x", "e x", False),
        ("", "   ", True),
        ("a", "", False),
    ],
)
def test_same_text_is_equality_after_nfc_and_folding_white_space(a, b, same):
    assert same_text(a, b) is same
    assert (text_key(a) == text_key(b)) is same  # the fast path never disagrees with the key


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("fine", None),
        ("", "empty"),
        (" \n\t", "empty"),
        ("a\x00b", "holds a NUL character"),
        ("\ufeffhi", "starts with a byte-order mark"),
        (["not", "text"], "not a string (list)"),
        (None, "not a string (NoneType)"),
    ],
)
def test_text_problem_names_what_is_wrong(text, problem):
    assert text_problem(text) == problem
    assert usable_text(text) is (problem is None)


def test_clean_removes_only_a_leading_byte_order_mark():
    assert clean("\ufeffHello \ufeff") == "Hello \ufeff"
    assert clean("Hello") == "Hello"


@pytest.mark.parametrize("entries", [2, 4, 5, 9])
def test_seen_once_finds_a_repeat_however_many_entries_came_first(entries):
    seen = SeenOnce()
    texts = [(f"answer {i}", "other") for i in range(entries)]
    for parts in texts:
        assert seen.add(parts)
    assert not seen.add((" answer 0 ", "other\n"))  # the first entry, white space aside
    assert not seen.add(texts[-1])
    assert ("answer 0", "other") in seen and ("new", "other") not in seen
    seen.clear()
    assert seen.add(texts[0])


def test_seen_once_folds_texts_only_when_it_must():
    folded = []

    def key(parts):
        folded.append(parts)
        return texts_key(parts)

    seen = SeenOnce(key=key)
    for i in range(SeenOnce.FEW):  # few entries: compared with same_text, nothing folded
        assert seen.add((f"entry {i}",))
    assert folded == []
    assert seen.add(("one more",))  # past FEW entries, keys go in a set: each folded once
    assert len(folded) == SeenOnce.FEW + 1
    assert not seen.add(("entry  0",))
    assert len(folded) == SeenOnce.FEW + 2
