"""The judge on one sample alone (test-time compute): a verifier score, or the final answer read
out of the response. Provider-neutral, like calls.py: the tools, the fixed instructions, the
message, and the checks of what comes back."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

SCORE_TOOL = "record_score"
ANSWER_TOOL = "record_answer"
MAX_ANSWER = 500

VERIFIER_RUBRIC = """\
You are a careful verifier. You see a conversation and ONE response to its last user message.
Check the response's reasoning and its final answer step by step: recompute numbers, test claims,
and look for the first mistake. Then record, with the record_score tool, the probability (0 to 1)
that the response's final answer is correct. A response with no final answer scores 0. Judge the
answer, not the style: length, confidence and formatting are no evidence of correctness.
"""

READER_RUBRIC = """\
You read ONE response to the last user message of a conversation and report its final answer: the
short result it commits to (a number, a word, an expression, a choice), exactly as the response
gives it, without explanation. If the response gives no final answer, or several incompatible
ones, record an empty answer. Do not solve the problem yourself and do not correct the response.
"""


def score_tool() -> dict[str, Any]:
    return {
        "name": SCORE_TOOL,
        "description": "Record how likely the response's final answer is correct.",
        "input_schema": {
            "type": "object",
            "properties": {
                "rationale": {
                    "type": "string",
                    "description": "1-3 sentences: the decisive check or the first mistake.",
                },
                "score": {"type": "number", "minimum": 0, "maximum": 1},
            },
            "required": ["rationale", "score"],
        },
    }


def answer_tool() -> dict[str, Any]:
    return {
        "name": ANSWER_TOOL,
        "description": "Record the response's final answer (empty if it gives none).",
        "input_schema": {
            "type": "object",
            "properties": {"answer": {"type": "string", "maxLength": MAX_ANSWER}},
            "required": ["answer"],
        },
    }


def sample_text(
    *, messages: Sequence[dict[str, str]], system: str, response: str, task: str
) -> str:
    lines: list[str] = []
    if system:
        lines += ["[System prompt given to the assistant]", system, ""]
    lines.append("[Conversation]")
    for turn in messages:
        lines.append(f"{turn['role'].upper()}: {turn['content']}")
    tool = SCORE_TOOL if task == "score" else ANSWER_TOOL
    lines += ["", "[The Start of the Response]", response, "[The End of the Response]", ""]
    lines.append(f"Record your result with the {tool} tool.")
    return "\n".join(lines)


class Malformed(ValueError):
    """The tool input is not what the tool asks for."""


def parse_score(tool_input: dict[str, Any] | None) -> tuple[float, str]:
    if not isinstance(tool_input, dict):
        raise Malformed("the judge did not call record_score")
    score = tool_input.get("score")
    if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
        raise Malformed(f"score {score!r} is not a number")
    if not 0 <= score <= 1:
        raise Malformed(f"score {score!r} is not between 0 and 1")
    rationale = tool_input.get("rationale")
    return float(score), (rationale if isinstance(rationale, str) else "")[:2000]


def parse_answer(tool_input: dict[str, Any] | None) -> str:
    if not isinstance(tool_input, dict):
        raise Malformed("the judge did not call record_answer")
    answer = tool_input.get("answer")
    if not isinstance(answer, str):
        raise Malformed(f"answer {answer!r} is not text")
    return answer.strip().replace("\x00", "")[:MAX_ANSWER]
