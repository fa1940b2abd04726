"""Offline demo candidates: deterministic, no network, no key.

Answers for the shipped demo prompts live in ``annotate/demo_data/candidates.jsonl`` (one line per
answer: ``prompt_id``, ``model``, ``text``), keyed to ``annotate/demo_data/prompts.jsonl``. A demo model
with several shipped answers for a prompt hands out a different one per sample index (from a stable
per-prompt starting point). Any other
prompt gets a composed, plausible answer that depends only on (model, prompt, sample index), so a
re-run produces the same text. ``params["latency_ms"]`` adds an artificial delay (default none), which
makes the progress bar visible in a live demo. ``stream`` yields the same answer a few words at a
time at a model's pace (``params["tokens_per_second"]``, default 40), for live conversations
without a network. The demo judge prefers the longer, more structured answer.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from annotate.judge.calls import JudgeCall, JudgeReply
from annotate.providers.base import BaseProvider, Completion, StreamItem

DEMO_DATA = Path(__file__).resolve().parent.parent / "demo_data"


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


@functools.cache
def _shipped() -> dict[tuple[str, str], list[str]]:
    """(normalised prompt text, model) -> answers, from the files shipped with the project."""
    prompts: dict[str, str] = {}
    prompts_file = DEMO_DATA / "prompts.jsonl"
    if prompts_file.exists():
        for line in prompts_file.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                prompts[row["id"]] = _norm(row["prompt"])
    answers: dict[tuple[str, str], list[str]] = {}
    cand_file = DEMO_DATA / "candidates.jsonl"
    if cand_file.exists():
        for line in cand_file.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                key = (prompts.get(row["prompt_id"], ""), row["model"])
                answers.setdefault(key, []).append(row["text"])
    return answers


_OPENINGS = [
    "Good question.",
    "Here is a short answer.",
    "Let me break this down.",
    "In brief:",
]
_CLOSINGS = [
    "If you share more detail, I can be more specific.",
    "The right choice depends on your constraints, so weigh these points against them.",
    "Start with the first point; it usually matters most.",
]


def _composed(model: str, prompt: str, sample_index: int) -> str:
    """A deterministic answer for prompts the demo does not ship: varied in shape, plainly a demo."""
    seed = int(hashlib.sha256(f"{model}|{prompt}|{sample_index}".encode()).hexdigest(), 16)
    topic = " ".join(prompt.split()[:12]).rstrip("?.!") or "your question"
    thorough = "thorough" in model or seed % 3 == 0
    points = [
        f"Clarify what you need from **{topic}**: the goal decides the approach.",
        "List the constraints (time, budget, risk) before comparing options.",
        "Prefer the simplest option that meets the goal; add complexity only when it pays.",
        "Check the result against a small, concrete example before relying on it.",
        "Write down what you decided and why, so you can revisit it later.",
    ]
    rotate = seed % len(points)
    chosen = (points[rotate:] + points[:rotate])[: 4 if thorough else 2]
    lines = [_OPENINGS[seed % len(_OPENINGS)], ""]
    if thorough:
        lines += [f"## Thinking about {topic}", ""]
        lines += [f"{i}. {p}" for i, p in enumerate(chosen, 1)]
    else:
        lines += [f"- {p}" for p in chosen]
    lines += ["", _CLOSINGS[(seed // 7) % len(_CLOSINGS)]]
    return "\n".join(lines)


DEFAULT_TOKENS_PER_SECOND = 40.0
WORDS_PER_CHUNK = 3


class DemoProvider(BaseProvider):
    name = "The offline demo provider"

    def __init__(self, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._sleep = sleep  # tests pass a recorder: the pace is checked without a clock

    def complete(
        self,
        *,
        messages: list[dict[str, str]],
        system: str,
        model: str,
        params: dict[str, Any],
        sample_index: int = 0,
    ) -> Completion:
        started = time.monotonic()
        delay_ms = float(params.get("latency_ms", 0) or 0)
        if delay_ms > 0:
            self._sleep(delay_ms / 1000.0)
        prompt = messages[-1]["content"] if messages else ""
        shipped = _shipped().get((_norm(prompt), model))
        if shipped:
            # A stable per-(model, prompt) offset: with one sample per prompt, each model still
            # gives its better answer on some prompts and its weaker one on others.
            offset = int(hashlib.sha256(f"{model}|{prompt}".encode()).hexdigest()[:8], 16)
            text = shipped[(sample_index + offset) % len(shipped)]
        else:
            text = _composed(model, prompt, sample_index)
        digest = hashlib.sha256(f"{model}|{prompt}|{sample_index}".encode()).hexdigest()
        return Completion(
            text=text,
            stop_reason="end_turn",
            input_tokens=len((system + " " + prompt).split()),
            output_tokens=len(text.split()),
            request_id=f"demo_{digest[:16]}",
            latency_ms=int((time.monotonic() - started) * 1000),
            model=model,
        )

    def stream(
        self,
        *,
        messages: list[dict[str, str]],
        system: str,
        model: str,
        params: dict[str, Any],
        sample_index: int = 0,
    ) -> Iterator[StreamItem]:
        """The answer ``complete`` gives, in chunks of a few words (whitespace kept, so the chunks
        join to the same text), each after the time a model would take to produce it."""
        started = time.monotonic()
        completion = self.complete(
            messages=messages, system=system, model=model, params=params, sample_index=sample_index
        )
        rate = float(params.get("tokens_per_second") or DEFAULT_TOKENS_PER_SECOND)
        pieces = re.findall(r"\S+\s*|\s+", completion.text)
        for i in range(0, len(pieces), WORDS_PER_CHUNK):
            chunk = "".join(pieces[i : i + WORDS_PER_CHUNK])
            self._sleep(len(chunk.split()) / rate)
            yield chunk
        yield dataclasses.replace(completion, latency_ms=int((time.monotonic() - started) * 1000))

    def judge(self, call: JudgeCall) -> JudgeReply:
        return _demo_judge(call)


# --- AI judge (offline demo): deterministic verdicts, no network (services/judging.py) ---
# Rule: prefer the longer, more structured answer. On a near-tie it leans to the response shown
# first, like a real judge's position bias, so the two orders disagree and the demo shows
# "uncertain" verdicts too.


def _demo_judge_score(text: str) -> float:
    lines = [line.strip() for line in text.splitlines()]
    structured = sum(
        1 for line in lines if line[:1] in ("-", "*", "#", "|") or line[:2].rstrip(".").isdigit()
    )
    return min(len(text.split()), 300) + 25 * min(structured, 8)


def _demo_judge(call: JudgeCall) -> JudgeReply:
    first, second = _demo_judge_score(call.first_text), _demo_judge_score(call.second_text)
    high, low = max(first, second), min(first, second)
    close = high == 0 or (high - low) <= 0.08 * high
    if close:
        pick = "1"  # position bias on a near-tie
    else:
        pick = "1" if first > second else "2"
    ratio = high / low if low else 3.0
    strength = 3 if ratio > 1.6 else 2 if ratio > 1.25 else 1
    winner, loser = ("Response 1", "Response 2") if pick == "1" else ("Response 2", "Response 1")
    if close:
        rationale = (
            f"The two responses are very close in coverage and organisation; {winner} reads "
            f"slightly better, but {loser} is nearly as good."
        )
    else:
        rationale = (
            f"{winner} covers the request more completely and is better organised; "
            f"{loser} is thinner and leaves more of the question unanswered."
        )
    spec = call.spec
    tool_input: dict[str, Any] = {
        "rationale": rationale,
        "choice": pick,
        "confidence": round(0.55 if close else min(0.95, 0.55 + (high - low) / high), 2),
    }
    if spec.graded:
        tool_input["strength"] = 1 if close else strength
    if spec.aspects:
        tool_input["aspects"] = {
            a: ("tie" if close and i else pick) for i, a in enumerate(spec.aspects)
        }
    digest = hashlib.sha256(f"{call.custom_id}|{call.user_text}".encode()).hexdigest()
    return JudgeReply(
        custom_id=call.custom_id,
        tool_input=tool_input,
        input_tokens=len((call.rubric + " " + call.user_text).split()),
        output_tokens=len(rationale.split()) + 20,
        request_id=f"demo_judge_{digest[:16]}",
        model=call.model,
    )
