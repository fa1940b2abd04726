"""The fake Anthropic server, taught to judge: answers record_verdict tool-use requests.

It extends tests/fakes/provider_server.py (same HTTP faults, Message Batches, request log) and answers
any request that forces the ``record_verdict`` tool with a ``tool_use`` content block:

* default rule: the longer response wins (so both orders agree: consistent verdicts);
* a response containing ``[[first]]`` makes the judge pick whatever is shown first (position bias,
  so the two orders disagree: an inconsistent verdict); ``[[tie]]`` makes it answer tie;
* one-shot verdict faults, queued with ``add_verdict_faults``: ``malformed`` (a tool call whose input
  breaks the schema), ``no_tool`` (plain text, no tool call);
* ``record_ratings`` (a rating unit, annotate/judge/ratings.py): a response containing
  ``[[score=N]]`` scores N overall and on every aspect, the others the scale's middle; the one-shot
  ``malformed`` fault answers one response short with a score off the scale;
* usage like the real API's prompt caching: the tools + system prefix (the rubric, marked
  ``cache_control``) is written to the cache the first time (``cache_creation_input_tokens``) and read
  from it afterwards (``cache_read_input_tokens``), only when it reaches ``min_cache_tokens``; tokens
  are counted as characters / 4.
"""

from __future__ import annotations

import collections
import json
import re
import uuid
from typing import Any

from tests.fakes.provider_server import FakeProviderServer

_RESPONSE = re.compile(r"\[The Start of Response ([12])\]\n(.*?)\n\[The End of Response \1\]", re.S)


def tokens(text: str) -> int:
    return max(1, len(text) // 4)


class JudgeFakeServer(FakeProviderServer):
    def __init__(self, *, min_cache_tokens: int = 1024, output_pad: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.min_cache_tokens = min_cache_tokens
        self.output_pad = output_pad  # extra output tokens per verdict (longer rationales)
        self._verdict_faults: collections.deque[str] = collections.deque()
        self._cached: set[str] = set()
        self.judge_calls = 0

    def add_verdict_faults(self, *kinds: str) -> None:
        with self._lock:
            self._verdict_faults.extend(kinds)

    def _decide(self, user: str, schema: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """The verdict for a judge prompt (positions "1"/"2"), and the one-shot fault to apply."""
        with self._lock:
            self.judge_calls += 1
            fault = self._verdict_faults.popleft() if self._verdict_faults else None
        shown = dict(_RESPONSE.findall(user))
        first, second = shown.get("1", ""), shown.get("2", "")
        if "[[first]]" in first + second:
            choice = "1"
        elif "[[tie]]" in first + second or len(first) == len(second):
            choice = "tie"
        else:
            choice = "1" if len(first) > len(second) else "2"
        verdict: dict[str, Any] = {
            "rationale": f"Response {choice if choice != 'tie' else 1} is more complete and answers the "
            "question directly; the other leaves parts out." + " detail" * self.output_pad,
            "choice": choice,
            "confidence": 0.8,
        }
        if "strength" in schema:
            verdict["strength"] = 2
        if "aspects" in schema:
            verdict["aspects"] = {name: choice for name in schema["aspects"]["properties"]}
        if fault == "malformed":
            verdict = {"choice": "C", "rationale": "", "confidence": 7}
        return verdict, fault

    def _step_labels(self, user: str) -> dict[str, Any]:
        """record_step_labels: a step holding ``[[wrong]]`` is -1, the others +1; the one-shot
        ``malformed`` fault answers one label short with a label out of range."""
        with self._lock:
            self.judge_calls += 1
            fault = self._verdict_faults.popleft() if self._verdict_faults else None
        steps = re.findall(r"\[Step \d+\]\n(.*?)(?=\n\[Step \d+\]|\n\[The End of)", user, re.S)
        entries = [
            {"label": -1 if "[[wrong]]" in step else 1, "reason": f"Step {i} checked."}
            for i, step in enumerate(steps, start=1)
        ]
        if fault == "malformed":
            entries = [{"label": 5, "reason": "?"}] * max(0, len(steps) - 1)
        return {"steps": entries}

    def _ratings(self, user: str, schema: dict[str, Any]) -> dict[str, Any]:
        """record_ratings: ``[[score=N]]`` in a response scores it N, else the scale's middle."""
        with self._lock:
            self.judge_calls += 1
            fault = self._verdict_faults.popleft() if self._verdict_faults else None
        item = schema["properties"]["responses"]["items"]["properties"]
        low, high = item["overall"]["minimum"], item["overall"]["maximum"]
        aspects = list((item.get("aspects") or {}).get("properties") or {})
        texts = re.findall(
            r"\[The Start of Response (\d+)\]\n(.*?)\n\[The End of Response \1\]", user, re.S
        )
        entries = []
        for number, text in texts:
            marked = re.search(r"\[\[score=(\d)\]\]", text)
            score = int(marked.group(1)) if marked else (low + high) // 2
            entry: dict[str, Any] = {"rationale": f"Response {number} scored.", "overall": score}
            if aspects:
                entry["aspects"] = {a: score for a in aspects}
            entries.append(entry)
        if fault == "malformed":
            entries = [{"rationale": "?", "overall": high + 1}] * max(0, len(texts) - 1)
        return {"responses": entries}

    def _anthropic_message(self, body: dict[str, Any]) -> dict[str, Any]:
        tools = body.get("tools") or []
        special = {"record_step_labels", "record_ratings"}
        name = next((t.get("name") for t in tools if t.get("name") in special), None)
        if name is not None:
            user = body["messages"][-1]["content"]
            user = user if isinstance(user, str) else json.dumps(user)
            tool_input = (
                self._step_labels(user)
                if name == "record_step_labels"
                else self._ratings(user, tools[0]["input_schema"])
            )
            content = [
                {
                    "type": "tool_use",
                    "id": f"toolu_{uuid.uuid4().hex[:20]}",
                    "name": name,
                    "input": tool_input,
                }
            ]
            return {
                "id": f"msg_{uuid.uuid4().hex[:24]}",
                "type": "message",
                "role": "assistant",
                "model": body.get("model", ""),
                "content": content,
                "stop_reason": "tool_use",
                "stop_sequence": None,
                "usage": self._usage(body, user, content),
            }
        if not any(t.get("name") == "record_verdict" for t in tools):
            return super()._anthropic_message(body)
        user = body["messages"][-1]["content"]
        user = user if isinstance(user, str) else json.dumps(user)
        verdict, fault = self._decide(user, tools[0]["input_schema"]["properties"])
        content: list[dict[str, Any]]
        if fault == "no_tool":
            content = [{"type": "text", "text": "I think Response 1 is better."}]
        else:
            content = [
                {
                    "type": "tool_use",
                    "id": f"toolu_{uuid.uuid4().hex[:20]}",
                    "name": "record_verdict",
                    "input": verdict,
                }
            ]
        return {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", ""),
            "content": content,
            "stop_reason": "tool_use" if fault != "no_tool" else "end_turn",
            "stop_sequence": None,
            "usage": self._usage(body, user, content),
        }

    def _chat_judge(self, body: dict[str, Any]) -> dict[str, Any]:
        """OpenAI chat completions with a forced record_verdict (or record_ratings) call."""
        function = body["tools"][0]["function"]
        user = body["messages"][-1]["content"]
        if function["name"] == "record_ratings":
            arguments = json.dumps(self._ratings(user, function["parameters"]))
        else:
            verdict, fault = self._decide(user, function["parameters"]["properties"])
            arguments = "{not json" if fault == "malformed" else json.dumps(verdict)
        prompt_tokens = tokens(json.dumps(body["messages"]) + json.dumps(body["tools"]))
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:20]}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", ""),
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "tool_calls",
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": f"call_{uuid.uuid4().hex[:16]}",
                                "type": "function",
                                "function": {"name": function["name"], "arguments": arguments},
                            }
                        ],
                    },
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": tokens(arguments) + 5,
                "total_tokens": prompt_tokens + tokens(arguments) + 5,
            },
        }

    def _handler_class(self) -> type:
        base = super()._handler_class()
        server = self

        class JudgeHandler(base):  # type: ignore[misc, valid-type]
            def _chat(self, body: dict[str, Any]) -> None:
                tools = body.get("tools") or []
                names = {t.get("function", {}).get("name") for t in tools}
                if not names & {"record_verdict", "record_ratings"}:
                    return super()._chat(body)
                if self._apply_fault(server._next_fault(body), body):
                    return None
                self._send(200, server._chat_judge(body))
                return None

        return JudgeHandler

    def _usage(
        self, body: dict[str, Any], user: str, content: list[dict[str, Any]]
    ) -> dict[str, int]:
        system = body.get("system") or ""
        blocks = system if isinstance(system, list) else [{"type": "text", "text": system}]
        prefix = json.dumps(body.get("tools") or []) + "".join(b.get("text", "") for b in blocks)
        prefix_tokens = tokens(prefix)
        cacheable = (
            any(b.get("cache_control") for b in blocks) and prefix_tokens >= self.min_cache_tokens
        )
        read = write = 0
        if cacheable:
            key = body.get("model", "") + "\x00" + prefix
            with self._lock:
                hit = key in self._cached
                self._cached.add(key)
            read, write = (prefix_tokens, 0) if hit else (0, prefix_tokens)
            uncached = tokens(user)
        else:
            uncached = prefix_tokens + tokens(user)
        return {
            "input_tokens": uncached,
            "output_tokens": tokens(json.dumps(content)) + 10,
            "cache_creation_input_tokens": write,
            "cache_read_input_tokens": read,
        }
