"""Verdicts: validate the judge's structured answer, map it to canonical a/b, combine both orders.

Every pair is judged twice: order 1 shows candidate a first, order 2 shows b first. Each answer
speaks of "1" and "2" (positions); ``to_canonical`` maps it back to a/b. ``combine`` keeps the
verdict only when both orders agree on the overall choice; otherwise the result is "inconsistent"
(shown to people as "uncertain"). This is the FastChat swap rule, except that a disagreement is
recorded as such rather than silently turned into a tie.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from annotate.judge.calls import VerdictSpec
from annotate.sides import left_and_right, to_stored

INCONSISTENT = "inconsistent"
_POSITIONS = {"1": "left", "2": "right"}
MAX_RATIONALE = 2000


class MalformedVerdict(ValueError):
    """The judge's answer does not fit the schema (it is retried, then the verdict fails)."""


@dataclass(frozen=True)
class Combined:
    choice: str  # a | b | tie | both_bad | inconsistent
    strength: int | None
    consistent: bool
    aspects: dict[str, str]
    confidence: float | None
    rationale: str


def parse_verdict(tool_input: Any, *, spec: VerdictSpec) -> dict[str, Any]:
    """Validate a record_verdict tool input; return it normalised (positions "1"/"2" kept)."""
    if not isinstance(tool_input, dict):
        raise MalformedVerdict("the judge did not record a verdict (no tool call)")
    choice = tool_input.get("choice")
    if isinstance(choice, int) and not isinstance(choice, bool):
        choice = str(choice)
    if choice not in spec.choices:
        raise MalformedVerdict(f"choice {choice!r} is not one of {spec.choices}")
    rationale = tool_input.get("rationale")
    if not isinstance(rationale, str) or not rationale.strip():
        raise MalformedVerdict("rationale is missing or empty")
    confidence = tool_input.get("confidence")
    if isinstance(confidence, str):
        try:
            confidence = float(confidence)
        except ValueError:
            raise MalformedVerdict(f"confidence {confidence!r} is not a number") from None
    if (
        not isinstance(confidence, int | float)
        or isinstance(confidence, bool)
        or not math.isfinite(confidence)
        or not 0 <= confidence <= 1
    ):
        raise MalformedVerdict(f"confidence {confidence!r} is not a number between 0 and 1")
    strength: int | None = None
    if spec.graded:
        if choice in ("1", "2"):
            raw = tool_input.get("strength")
            if isinstance(raw, float) and raw.is_integer():
                raw = int(raw)
            if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= 3:
                raise MalformedVerdict(f"strength {raw!r} is not 1, 2 or 3")
            strength = raw
        else:
            strength = 0
    aspects: dict[str, str] = {}
    if spec.aspects:
        given = tool_input.get("aspects")
        if not isinstance(given, dict):
            raise MalformedVerdict("aspects are missing")
        for name in spec.aspects:
            value = given.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            if value not in ("1", "2", "tie"):
                raise MalformedVerdict(f"aspect {name!r}: {value!r} is not 1, 2 or tie")
            aspects[name] = value
    return {
        "choice": choice,
        "strength": strength,
        "aspects": aspects,
        "confidence": float(confidence),
        "rationale": rationale.strip()[:MAX_RATIONALE],
    }


def _position_to_side(value: str, *, a_first: bool) -> str:
    # Position 1 is the response shown first, as the left one is on a rater's page.
    return to_stored(_POSITIONS.get(value, value), left_is_a=a_first)


def to_canonical(parsed: dict[str, Any], *, a_first: bool) -> dict[str, Any]:
    """A parsed verdict in presented order → the same verdict about canonical a/b."""
    return {
        "choice": _position_to_side(parsed["choice"], a_first=a_first),
        "strength": parsed["strength"],
        "aspects": {k: _position_to_side(v, a_first=a_first) for k, v in parsed["aspects"].items()},
        "confidence": parsed["confidence"],
        "rationale": parsed["rationale"],
        "a_first": a_first,
    }


def combine(order1: dict[str, Any], order2: dict[str, Any]) -> Combined:
    """Keep the verdict only when both orders agree; per aspect likewise.

    On the graded scale the two strengths may differ while the side agrees: we keep the smaller one
    (the claim both orders support).
    """
    consistent = order1["choice"] == order2["choice"]
    aspects = {
        name: (value if order2["aspects"].get(name) == value else INCONSISTENT)
        for name, value in order1["aspects"].items()
    }
    confidences = [o["confidence"] for o in (order1, order2) if o.get("confidence") is not None]
    confidence = sum(confidences) / len(confidences) if confidences else None
    strength: int | None = None
    if consistent and order1["strength"] is not None and order2["strength"] is not None:
        strength = min(order1["strength"], order2["strength"])
    return Combined(
        choice=order1["choice"] if consistent else INCONSISTENT,
        strength=strength,
        consistent=consistent,
        aspects=aspects,
        confidence=confidence,
        rationale=order1["rationale"],
    )


_POSITION = re.compile(r"\bResponse ([12])\b")


def rationale_for_view(
    *, order1: dict[str, Any] | None, order2: dict[str, Any] | None, left_is_a: bool
) -> str:
    """The rationale written for the order that matches what the rater saw, in the rater's labels.

    The rater sees "A" on the left and "B" on the right. With a on the left the judge's order 1
    (a shown first) matches, so its "Response 1" is the rater's A; otherwise order 2 matches.
    """
    matching = left_and_right(order1, order2, left_is_a=left_is_a)[0]
    source = matching or order1 or order2
    if not source:
        return ""
    text = source.get("rationale", "")
    if source is not matching:
        # Only the other order is available: its positions are swapped relative to the rater's.
        return _POSITION.sub(lambda m: "Response " + ("B" if m.group(1) == "1" else "A"), text)
    return _POSITION.sub(lambda m: "Response " + ("A" if m.group(1) == "1" else "B"), text)
