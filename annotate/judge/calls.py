"""What a judge call is, independent of the provider: the request and the reply.

Providers (anthropic_api.py, demo.py) turn a ``JudgeCall`` into a real request and give back a
``JudgeReply`` holding the raw tool input (still unvalidated: verdict.py checks it) and the usage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

TOOL_NAME = "record_verdict"


@dataclass(frozen=True)
class VerdictSpec:
    """What a valid verdict looks like for a campaign."""

    graded: bool = False
    allow_both_bad: bool = True
    aspects: tuple[str, ...] = ()

    @property
    def choices(self) -> list[str]:
        return ["1", "2", "tie"] + (["both_bad"] if self.allow_both_bad else [])


@dataclass(frozen=True)
class JudgeCall:
    """One judge request: the pair shown in one order. ``custom_id`` maps batch results back."""

    custom_id: str
    rubric: str  # the system prompt, shared by all calls of a campaign (cached)
    user_text: str  # conversation + the two responses in the presented order
    model: str
    spec: VerdictSpec
    max_tokens: int = 1024
    # For the offline demo judge only (it decides without a model): the two responses as shown.
    first_text: str = ""
    second_text: str = ""
    # Another tool to force instead of record_verdict (a verifier score, a final answer:
    # annotate/judge/samples.py); None: the verdict tool built from ``spec``.
    tool: dict[str, Any] | None = None

    @property
    def tool_def(self) -> dict[str, Any]:
        return self.tool if self.tool is not None else tool_schema(self.spec)

    @property
    def tool_name(self) -> str:
        return self.tool_def["name"]


@dataclass(frozen=True)
class JudgeReply:
    custom_id: str
    tool_input: dict[str, Any] | None  # None when the model did not call the tool
    raw_text: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    request_id: str = ""
    model: str = ""
    batch: bool = False  # priced at the batch discount


@dataclass(frozen=True)
class JudgeBatchItem:
    """One line of a finished judge batch: a reply, or an error message (retryable or not)."""

    custom_id: str
    reply: JudgeReply | None = None
    error: str = ""
    retryable: bool = False


def tool_schema(spec: VerdictSpec) -> dict[str, Any]:
    """The record_verdict tool. Rationale comes first so the model explains before it chooses."""
    side = {"type": "string", "enum": ["1", "2", "tie"]}
    properties: dict[str, Any] = {
        "rationale": {
            "type": "string",
            "description": "2-4 sentences naming the decisive difference; say Response 1 / Response 2.",
        },
        "choice": {"type": "string", "enum": spec.choices},
    }
    required = ["rationale", "choice"]
    if spec.graded:
        properties["strength"] = {
            "type": "integer",
            "minimum": 1,
            "maximum": 3,
            "description": "1 slightly, 2 clearly, 3 much better (ignored for tie / both_bad).",
        }
        required.append("strength")
    if spec.aspects:
        properties["aspects"] = {
            "type": "object",
            "properties": {a: side for a in spec.aspects},
            "required": list(spec.aspects),
        }
        required.append("aspects")
    properties["confidence"] = {"type": "number", "minimum": 0, "maximum": 1}
    required.append("confidence")
    return {
        "name": TOOL_NAME,
        "description": "Record your verdict on the two responses.",
        "input_schema": {"type": "object", "properties": properties, "required": required},
    }


def user_text(*, messages: Sequence[dict[str, str]], system: str, first: str, second: str) -> str:
    """The per-pair message: the conversation, then the two responses in the order presented."""
    lines: list[str] = []
    if system:
        lines += ["[System prompt given to the assistants]", system, ""]
    lines.append("[Conversation]")
    for turn in messages:
        lines.append(f"{turn['role'].upper()}: {turn['content']}")
    lines += [
        "",
        "[The Start of Response 1]",
        first,
        "[The End of Response 1]",
        "",
        "[The Start of Response 2]",
        second,
        "[The End of Response 2]",
        "",
        f"Compare the two responses and record your verdict with the {TOOL_NAME} tool.",
    ]
    return "\n".join(lines)
