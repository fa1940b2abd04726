"""The judge on a rating unit (protocol "rating"): score each of the unit's responses on the
campaign's scale, overall and per aspect, UltraFeedback-style (one call sees the unit's responses
side by side and scores each on its own; annotate/protocols/rating.py has the raters' rules).
Provider-neutral, like steps.py: the tool, the fixed instructions, the message, and the strict
check of what comes back.

``parse_ratings`` takes the answer whole or not at all: one entry per response in the order they
were shown, every aspect of the campaign and nothing else, every score a whole number on the
scale, a rationale as text; anything else is ``Malformed`` (the caller asks again, then fails the
row with nothing stored).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from annotate.judge.samples import Malformed
from annotate.validation import MAX_RATIONALE

RATING_TOOL = "record_ratings"
MAX_GUIDELINES = 4000  # the campaign's guidelines as far as the judge reads them

RATING_RUBRIC = """\
You are a careful, impartial grader. You see a conversation and one or more responses to its
last user message. Score EACH response on its own merits, on a scale from {low} ({low_label})
to {high} ({high_label}): an overall score{aspect_words}. Use the whole scale: {high} only for
a response you could not improve, {low} for one that fails the request. Do not let the order in
which the responses are shown, their length, or their confidence sway you; compare them only to
calibrate your scores. Give each response a rationale of one to three sentences naming what
decided its score, then its scores. Record them with the record_ratings tool, one entry per
response, in the order shown.
"""


def rating_rubric(
    *,
    low: int,
    high: int,
    low_label: str = "",
    high_label: str = "",
    aspects: Sequence[str] = (),
    guidelines: str = "",
) -> str:
    """The system prompt of a rating campaign's judge: the fixed instructions on its scale and
    aspects, then the campaign's guidelines (the raters' own) when it has some."""
    aspect_words = (
        " and a score for each aspect: " + ", ".join(aspects) if aspects else " (no aspects)"
    )
    text = RATING_RUBRIC.format(
        low=low,
        high=high,
        low_label=low_label or "worst",
        high_label=high_label or "best",
        aspect_words=aspect_words,
    )
    guidelines = (guidelines or "").strip()
    if guidelines:
        text += (
            "\nThe raters' guidelines, which your scores follow too:\n"
            + guidelines[:MAX_GUIDELINES]
            + "\n"
        )
    return text


def rating_tool(*, n: int, low: int, high: int, aspects: Sequence[str]) -> dict[str, Any]:
    score = {"type": "integer", "minimum": low, "maximum": high}
    entry: dict[str, Any] = {
        "type": "object",
        "properties": {
            "rationale": {"type": "string", "maxLength": MAX_RATIONALE},
            "overall": score,
        },
        "required": ["rationale", "overall"],
    }
    if aspects:
        entry["properties"]["aspects"] = {
            "type": "object",
            "properties": {a: score for a in aspects},
            "required": list(aspects),
        }
        entry["required"].append("aspects")
    return {
        "name": RATING_TOOL,
        "description": "Record the scores of each response, in the order shown.",
        "input_schema": {
            "type": "object",
            "properties": {
                "responses": {"type": "array", "minItems": n, "maxItems": n, "items": entry}
            },
            "required": ["responses"],
        },
    }


def ratings_text(
    *, messages: Sequence[dict[str, str]], system: str, responses: Sequence[str]
) -> str:
    lines: list[str] = []
    if system:
        lines += ["[System prompt given to the assistants]", system, ""]
    lines.append("[Conversation]")
    for turn in messages:
        lines.append(f"{turn['role'].upper()}: {turn['content']}")
    for i, text in enumerate(responses, start=1):
        lines += ["", f"[The Start of Response {i}]", text, f"[The End of Response {i}]"]
    lines += ["", f"Score all {len(responses)} responses with the {RATING_TOOL} tool."]
    return "\n".join(lines)


def _whole(value: Any, *, low: int, high: int, what: str) -> int:
    if type(value) is not int or not low <= value <= high:
        raise Malformed(f"{what}: {value!r} is not a whole number from {low} to {high}")
    return value


def parse_ratings(
    tool_input: Any, *, n: int, low: int, high: int, aspects: Sequence[str]
) -> list[dict]:
    """The scores of a ``record_ratings`` answer on ``n`` responses, in the order shown:
    ``[{"overall": 4, "aspects": {...}, "rationale": "..."}]``, or Malformed."""
    if not isinstance(tool_input, dict):
        raise Malformed(f"the judge did not call {RATING_TOOL}")
    entries = tool_input.get("responses")
    if not isinstance(entries, list) or len(entries) != n:
        got = len(entries) if isinstance(entries, list) else type(entries).__name__
        raise Malformed(f"expected {n} scored responses, got {got}")
    out = []
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise Malformed(f"response {i}: not an object")
        overall = _whole(entry.get("overall"), low=low, high=high, what=f"response {i} overall")
        given = entry.get("aspects", {}) if aspects else entry.get("aspects") or {}
        if not isinstance(given, dict) or set(given) != set(aspects):
            raise Malformed(f"response {i}: aspects must be exactly {', '.join(aspects) or 'none'}")
        scores = {
            a: _whole(given[a], low=low, high=high, what=f"response {i} {a}") for a in aspects
        }
        rationale = entry.get("rationale")
        if not isinstance(rationale, str):
            raise Malformed(f"response {i}: rationale is not text")
        rationale = rationale.replace("\x00", "").strip()[:MAX_RATIONALE]
        out.append({"overall": overall, "aspects": scores, "rationale": rationale})
    return out
