"""Shown left/right ↔ stored a/b: the one place that maps what a rater saw to what is stored.

A pair stores its candidates as ``a`` and ``b``; each lease shows one of them on the left (the
lease's, and then the vote's, ``left_is_a``). The rater's page only ever says A (left) and B
(right). Every translation between the two goes through here: votes and revisions on the way in,
labels, the reveal, the diff and the exports on the way out. Pure: no Django.
"""

from __future__ import annotations


def to_stored(shown: str, *, left_is_a: bool) -> str:
    """What the rater chose on the page ("left"/"right") as the pair's "a"/"b"; tie and both_bad
    (and anything else) pass through unchanged."""
    if shown == "left":
        return "a" if left_is_a else "b"
    if shown == "right":
        return "b" if left_is_a else "a"
    return shown


def to_shown(stored: str, *, left_is_a: bool) -> str:
    """A stored "a"/"b" as the side the rater saw it on ("left"/"right"); others pass through."""
    if stored == "a":
        return "left" if left_is_a else "right"
    if stored == "b":
        return "right" if left_is_a else "left"
    return stored


def left_and_right[T](a: T, b: T, *, left_is_a: bool) -> tuple[T, T]:
    """The pair's (a, b) things (candidates, texts, names) in the order the rater saw them."""
    return (a, b) if left_is_a else (b, a)
