"""The judge on the steps of one response (protocol "steps"): the tool, the fixed instructions,
the message, and the strict check of what comes back. Provider-neutral, like samples.py.

The judge labels every step +1 (correct), 0 (neutral: reasonable, but no progress) or -1 (wrong),
with a short reason each. ``parse_step_labels`` takes the answer whole or not at all: one entry
per step, each label one of 1 / 0 / -1, each reason text; anything else is ``Malformed`` (the
caller asks again, then fails the row). Where the campaign ends a trace at its first wrong step,
the steps after it are stored unlabelled, as a rater's are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from annotate.judge.samples import Malformed
from annotate.protocols.steps import LABELS, MAX_STEP_NOTE, first_wrong

STEP_TOOL = "record_step_labels"
MAX_REASON = 300

STEP_RUBRIC = """\
You are a careful grader of step-by-step solutions. You see a conversation and ONE response to
its last user message, split into numbered steps. Label every step, in order:
- 1 (correct): the step is right and moves the solution forward;
- 0 (neutral): the step is reasonable but makes no progress (a restatement, a detour);
- -1 (wrong): the step contains a mistake (a wrong calculation, a false claim, an invalid
  inference), or builds on an earlier wrong step.
Check each step yourself: recompute numbers and test claims. Judge correctness, not style:
length, confidence and formatting are no evidence. Give each step a reason of one short sentence.
Record the labels with the record_step_labels tool, one entry per step, in the steps' order.
"""


def step_tool(n: int) -> dict[str, Any]:
    return {
        "name": STEP_TOOL,
        "description": "Record one label and a short reason for each step, in order.",
        "input_schema": {
            "type": "object",
            "properties": {
                "steps": {
                    "type": "array",
                    "minItems": n,
                    "maxItems": n,
                    "items": {
                        "type": "object",
                        "properties": {
                            "label": {"type": "integer", "enum": list(LABELS)},
                            "reason": {"type": "string", "maxLength": MAX_REASON},
                        },
                        "required": ["label", "reason"],
                    },
                }
            },
            "required": ["steps"],
        },
    }


def steps_text(*, messages: Sequence[dict[str, str]], system: str, steps: Sequence[str]) -> str:
    lines: list[str] = []
    if system:
        lines += ["[System prompt given to the assistant]", system, ""]
    lines.append("[Conversation]")
    for turn in messages:
        lines.append(f"{turn['role'].upper()}: {turn['content']}")
    lines += ["", "[The Start of the Response, step by step]"]
    for i, step in enumerate(steps, start=1):
        lines += [f"[Step {i}]", step]
    lines += ["[The End of the Response]", ""]
    lines.append(f"Label all {len(steps)} steps with the {STEP_TOOL} tool.")
    return "\n".join(lines)


def parse_step_labels(
    tool_input: Any, *, n: int, stop_at_wrong: bool
) -> tuple[list[int | None], list[str]]:
    """The labels and reasons of a ``record_step_labels`` answer on ``n`` steps, or Malformed."""
    if not isinstance(tool_input, dict):
        raise Malformed(f"the judge did not call {STEP_TOOL}")
    entries = tool_input.get("steps")
    if not isinstance(entries, list) or len(entries) != n:
        got = len(entries) if isinstance(entries, list) else type(entries).__name__
        raise Malformed(f"expected {n} step labels, got {got}")
    labels: list[int | None] = []
    reasons: list[str] = []
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise Malformed(f"step {i}: not an object")
        label, reason = entry.get("label"), entry.get("reason")
        if type(label) is not int or label not in LABELS:
            raise Malformed(f"step {i}: label {label!r} is not 1, 0 or -1")
        if not isinstance(reason, str):
            raise Malformed(f"step {i}: reason is not text")
        labels.append(label)
        reasons.append(reason.replace("\x00", "").strip()[:MAX_STEP_NOTE])
    if stop_at_wrong and (wrong := first_wrong(labels)) is not None:
        labels = [label if i <= wrong else None for i, label in enumerate(labels)]
        reasons = [reason if i <= wrong else "" for i, reason in enumerate(reasons)]
    return labels, reasons
