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

Arithmetic prompts ("What is 37 × 48?", annotate/demo_data/arithmetic.jsonl) get a worked answer
with a reasoning trace and an "Answer:" line that is right or wrong by a per-prompt difficulty and
a per-sample draw, both from hashes: wrong answers fall on a few typical slips, so they sometimes
agree, and more samples help majority vote as they help real models. On those prompts the demo
judge and verifier check the arithmetic, and are right most of the time, not always.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
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
    # The rotation steps with the sample index from a per-(model, prompt) start, so samples of one
    # prompt never repeat each other (a rotation from ``seed`` alone let two of them coincide).
    start = int(hashlib.sha256(f"{model}|{prompt}".encode()).hexdigest(), 16)
    rotate = (start + sample_index) % len(points)
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


_ARITHMETIC = re.compile(r"what is (-?\d+)\s*([+\-×x*])\s*(-?\d+)\s*\?", re.IGNORECASE)


def arithmetic(prompt: str) -> tuple[int, str, int, int] | None:
    """(a, operator, b, the true result) for a demo arithmetic question, or None."""
    found = _ARITHMETIC.search(prompt)
    if not found:
        return None
    a, op, b = int(found.group(1)), found.group(2), int(found.group(3))
    result = a + b if op == "+" else a - b if op == "-" else a * b
    return a, "×" if op in "×x*" else op, b, result


def _unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from its parts."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()
    return int(digest[:12], 16) / 16**12


def _arithmetic_answer(model: str, prompt: str, sample_index: int) -> tuple[str, str]:
    """(reply, reasoning) for an arithmetic prompt: right with the prompt's own probability."""
    a, op, b, truth = arithmetic(prompt)
    skill = 0.25 if "weak" in model else 0.0
    p_right = 0.3 + 0.55 * _unit("difficulty", prompt) + skill
    right = _unit(model, prompt, sample_index) < p_right
    slips = [
        truth + 10,
        truth - 10,
        truth + 1,
        int(str(abs(truth))[::-1]) * (1 if truth >= 0 else -1),
    ]
    slips = [x for x in slips if x != truth] or [truth + 2]
    # Two slips are common, the others rare: wrong samples often repeat each other.
    weights = _unit("slip", model, prompt, sample_index)
    answer = (
        truth
        if right
        else slips[0 if weights < 0.45 else 1 if weights < 0.8 else 2 if weights < 0.9 else -1]
    )
    if op == "×":
        tens, ones = b // 10 * 10, b % 10
        steps = f"{a} × {b} = {a} × {tens} + {a} × {ones} = {a * tens} + {a * ones}"
    else:
        steps = f"{a} {op} {b}: work digit by digit from the right"
    reasoning = f"I need {a} {op} {b}.\n\n{steps} = {answer}.\n\nSo the result is {answer}."
    reply = f"{a} {op} {b} = **{answer}**.\n\nAnswer: {answer}"
    return reply, reasoning


class DemoProvider(BaseProvider):
    name = "The offline demo provider"

    def __init__(
        self,
        *,
        sleep: Callable[[float], None] = time.sleep,
        asleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._sleep = sleep  # tests pass a recorder: the pace is checked without a clock
        self._asleep = asleep  # the same, in astream

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
        reasoning = ""
        if arithmetic(prompt) is not None:
            text, reasoning = _arithmetic_answer(model, prompt, sample_index)
        elif shipped:
            # A stable per-(model, prompt) offset: with one sample per prompt, each model still
            # gives its better answer on some prompts and its weaker one on others.
            offset = int(hashlib.sha256(f"{model}|{prompt}".encode()).hexdigest()[:8], 16)
            text = shipped[(sample_index + offset) % len(shipped)]
        else:
            text = _composed(model, prompt, sample_index)
        digest = hashlib.sha256(f"{model}|{prompt}|{sample_index}".encode()).hexdigest()
        return Completion(
            text=text,
            reasoning=reasoning,
            reasoning_tokens=len(reasoning.split()),
            stop_reason="end_turn",
            input_tokens=len((system + " " + prompt).split()),
            output_tokens=len(text.split()) + len(reasoning.split()),
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
        for pause, chunk in _paced(completion.text, params):
            self._sleep(pause)
            yield chunk
        yield dataclasses.replace(completion, latency_ms=int((time.monotonic() - started) * 1000))

    async def astream(
        self,
        *,
        messages: list[dict[str, str]],
        system: str,
        model: str,
        params: dict[str, Any],
        sample_index: int = 0,
    ) -> AsyncIterator[StreamItem]:
        """``stream`` from an event loop (live/streamer.py): the same chunks at the same pace."""
        started = time.monotonic()
        delay_ms = float(params.get("latency_ms", 0) or 0)
        if delay_ms > 0:
            await self._asleep(delay_ms / 1000.0)
        completion = self.complete(
            messages=messages,
            system=system,
            model=model,
            params={**params, "latency_ms": 0},  # waited above, without holding the loop
            sample_index=sample_index,
        )
        for pause, chunk in _paced(completion.text, params):
            await self._asleep(pause)
            yield chunk
        yield dataclasses.replace(completion, latency_ms=int((time.monotonic() - started) * 1000))

    def judge(self, call: JudgeCall) -> JudgeReply:
        from annotate.judge.ratings import RATING_TOOL
        from annotate.judge.steps import STEP_TOOL

        if call.tool is not None and call.tool_name == STEP_TOOL:
            return _demo_step_labels(call)
        if call.tool is not None and call.tool_name == RATING_TOOL:
            return _demo_ratings(call)
        if call.tool is not None:
            return _demo_sample_review(call)
        return _demo_judge(call)


def _paced(text: str, params: dict[str, Any]) -> Iterator[tuple[float, str]]:
    """The chunks of a streamed answer, each with the pause before it (a model's pace)."""
    rate = float(params.get("tokens_per_second") or DEFAULT_TOKENS_PER_SECOND)
    pieces = re.findall(r"\S+\s*|\s+", text)
    for i in range(0, len(pieces), WORDS_PER_CHUNK):
        chunk = "".join(pieces[i : i + WORDS_PER_CHUNK])
        yield len(chunk.split()) / rate, chunk


def _question(user_text: str) -> str:
    """The last user turn of a judge message (annotate/judge/calls.py, samples.py layout)."""
    turns = [line for line in user_text.splitlines() if line.startswith("USER: ")]
    return turns[-1][len("USER: ") :] if turns else ""


def _checks_out(question: str, text: str) -> bool | None:
    """Does the response's answer match the arithmetic? None when the question is not arithmetic."""
    from annotate.answers import answers_match, extract_answer

    found = arithmetic(question)
    if found is None:
        return None
    return answers_match(extract_answer(text, rule="convention"), str(found[3]))


def _demo_sample_review(call: JudgeCall) -> JudgeReply:
    """The demo judge on one sample: the verifier scores arithmetic it checks (right 85% of the
    time, from a hash); the reader returns the convention's answer."""
    from annotate.answers import extract_answer
    from annotate.judge.samples import SCORE_TOOL

    text = call.first_text
    if call.tool_name == SCORE_TOOL:
        right = _checks_out(_question(call.user_text), text)
        noise = _unit("verify", call.model, text)
        if right is None:
            score = round(min(0.9, 0.3 + len(text.split()) / 400), 2)
        else:
            fooled = noise > 0.85
            score = round((0.6 + 0.35 * noise) if right != fooled else (0.05 + 0.3 * noise), 2)
        tool_input: dict[str, Any] = {
            "rationale": "Checked the arithmetic step by step.",
            "score": score,
        }
    else:
        answer = extract_answer(text, rule="convention") or extract_answer(text, rule="last_line")
        tool_input = {"answer": answer or ""}
    digest = hashlib.sha256(f"{call.custom_id}|{text}".encode()).hexdigest()
    return JudgeReply(
        custom_id=call.custom_id,
        tool_input=tool_input,
        input_tokens=len((call.rubric + " " + call.user_text).split()),
        output_tokens=12,
        request_id=f"demo_review_{digest[:16]}",
        model=call.model,
    )


_EQUATION = re.compile(r"(-?\d+)\s*([-+*×x])\s*(-?\d+)\s*=\s*(-?\d+)")


def _demo_step_labels(call: JudgeCall) -> JudgeReply:
    """The demo judge on a trace's steps: a step whose arithmetic ("a op b = c") does not check
    out is wrong, and so is every step after it; the others are correct."""
    steps = re.findall(
        r"\[Step \d+\]\n(.*?)(?=\n\[Step \d+\]\n|\n\[The End of the Response\])",
        call.user_text,
        re.S,
    )
    entries, broken = [], False
    for step in steps:
        for a, op, b, c in _EQUATION.findall(step):
            x, y = int(a), int(b)
            value = x + y if op == "+" else x - y if op == "-" else x * y
            broken = broken or value != int(c)
        entries.append(
            {"label": -1, "reason": "The arithmetic does not check out."}
            if broken
            else {"label": 1, "reason": "The step checks out."}
        )
    digest = hashlib.sha256(f"{call.custom_id}|{call.user_text}".encode()).hexdigest()
    return JudgeReply(
        custom_id=call.custom_id,
        tool_input={"steps": entries},
        input_tokens=len((call.rubric + " " + call.user_text).split()),
        output_tokens=8 * len(entries),
        request_id=f"demo_steps_{digest[:16]}",
        model=call.model,
    )


def _demo_ratings(call: JudgeCall) -> JudgeReply:
    """The demo judge on a rating unit: an arithmetic answer that checks out scores the top of the
    scale and one that does not the bottom; any other response scores by its length and structure
    (the demo verdicts' rule), every aspect as its overall."""
    item = call.tool_def["input_schema"]["properties"]["responses"]["items"]
    low, high = item["properties"]["overall"]["minimum"], item["properties"]["overall"]["maximum"]
    aspects = list((item["properties"].get("aspects") or {}).get("properties") or {})
    texts = re.findall(
        r"\[The Start of Response (\d+)\]\n(.*?)\n\[The End of Response \1\]", call.user_text, re.S
    )
    question = _question(call.user_text)
    entries = []
    for _, text in texts:
        right = _checks_out(question, text)
        if right is None:
            share = min(1.0, _demo_judge_score(text) / 350)
            score = low + round(share * (high - low))
            why = "Scored by how completely and clearly it answers."
        else:
            score = high if right else low
            why = "The arithmetic checks out." if right else "The arithmetic does not check out."
        entry: dict[str, Any] = {"rationale": why, "overall": score}
        if aspects:
            entry["aspects"] = {a: score for a in aspects}
        entries.append(entry)
    digest = hashlib.sha256(f"{call.custom_id}|{call.user_text}".encode()).hexdigest()
    return JudgeReply(
        custom_id=call.custom_id,
        tool_input={"responses": entries},
        input_tokens=len((call.rubric + " " + call.user_text).split()),
        output_tokens=12 * len(entries),
        request_id=f"demo_ratings_{digest[:16]}",
        model=call.model,
    )


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
    question = _question(call.user_text)
    checks = (_checks_out(question, call.first_text), _checks_out(question, call.second_text))
    if None not in checks:
        # Arithmetic: the response that checks out wins, unless the judge slips (15%, by a hash
        # of the two texts in either order, so both orders agree).
        slip = _unit("judge", *sorted((call.first_text, call.second_text))) < 0.15
        first = float(checks[0] != slip) * 100 + 1
        second = float(checks[1] != slip) * 100 + 1
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
