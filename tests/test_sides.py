"""Shown left/right ↔ stored a/b, both ways, for both placements."""

from __future__ import annotations

import pytest

from annotate.sides import left_and_right, to_shown, to_stored


@pytest.mark.parametrize("left_is_a", [True, False])
@pytest.mark.parametrize("shown", ["left", "right", "tie", "both_bad"])
def test_to_stored_and_to_shown_undo_each_other(shown, left_is_a):
    assert to_shown(to_stored(shown, left_is_a=left_is_a), left_is_a=left_is_a) == shown


def test_the_left_response_is_a_only_when_a_was_shown_on_the_left():
    assert to_stored("left", left_is_a=True) == "a"
    assert to_stored("left", left_is_a=False) == "b"
    assert to_stored("right", left_is_a=False) == "a"
    assert to_shown("a", left_is_a=False) == "right"
    assert left_and_right("A-text", "B-text", left_is_a=False) == ("B-text", "A-text")
    assert left_and_right(1, 2, left_is_a=True) == (1, 2)
