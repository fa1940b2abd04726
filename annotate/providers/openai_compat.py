"""OpenAI-compatible chat completions (vLLM, Ollama, llama.cpp server, OpenAI) through the `openai` SDK.

Same contract as the Anthropic transport: ``max_retries=0`` (the services own retries), errors mapped
to ``ProviderError`` by providers/base.py. ``complete_n`` asks for several samples in one request with
``n`` (vLLM, OpenAI); servers that refuse ``n > 1`` (llama.cpp, older Ollama) raise ``Unsupported`` so
the caller can fall back to one request per sample. ``stream`` uses ``stream=True`` with
``stream_options.include_usage``, so the last chunk carries the usage. The judge is a chat completion
forced to call the ``record_verdict`` function.

Reasoning comes back three ways, and each ends in the Completion's ``reasoning``, apart from the
reply: the message's ``reasoning_content`` (vLLM with a reasoning parser; ``reasoning`` on Ollama
and newer vLLM), a ``<think>…</think>`` block opening the content (reasoning models served without
a parser), or, with ``params["reasoning"] = "cot"``, a chain of thought the system prompt asks for
inside ``<think>…</think>`` (for models that do not reason on their own). Its tokens are
``usage.completion_tokens_details.reasoning_tokens`` when the server counts them.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai

from annotate.judge.calls import JudgeCall, JudgeReply
from annotate.providers.base import (
    BaseProvider,
    Completion,
    ProviderError,
    StreamItem,
    Unsupported,
    error_from_sdk,
    loop_client,
    reasoning_share,
    unreadable,
)

SERVICE = "OpenAI-compatible server"
# params["reasoning"] = "cot": what the system prompt asks of a model that does not reason itself.
COT_INSTRUCTION = (
    "Think the problem through step by step before answering. Write your reasoning inside "
    "<think> and </think>, then give the reply after </think>, ending with a line "
    '"Answer: <final answer>".'
)
_THINK = re.compile(r"^\s*<think>(.*?)</think>\s*", re.DOTALL)
_API_PARAMS = (
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "presence_penalty",
    "frequency_penalty",
    "stop",
    "logit_bias",
    "reasoning_effort",
)


def split_reasoning(content: str, given: str = "") -> tuple[str, str]:
    """(reply, reasoning): the server's own reasoning field when it sent one, else a
    ``<think>…</think>`` block opening the content (taken off the reply)."""
    found = _THINK.match(content)
    if found:
        content = content[found.end() :]
        given = given or found.group(1).strip()
    return content, given.strip()


class _ThinkFilter:
    """Streamed content without a ``<think>…</think>`` block that opens it: the trace's deltas
    are held back (the Completion carries the trace), the reply's are passed on."""

    OPEN, CLOSE = "<think>", "</think>"

    def __init__(self) -> None:
        self.state = "start"  # start (undecided) | thinking | reply
        self.buffer = ""

    def feed(self, delta: str) -> str:
        if self.state == "reply":
            return delta
        self.buffer += delta
        if self.state == "start":
            head = self.buffer.lstrip()
            if len(head) < len(self.OPEN) and self.OPEN.startswith(head):
                return ""
            if not head.startswith(self.OPEN):
                self.state, shown, self.buffer = "reply", self.buffer, ""
                return shown
            self.state = "thinking"
        end = self.buffer.find(self.CLOSE)
        if end < 0:
            return ""
        self.state, shown, self.buffer = "reply", self.buffer[end + len(self.CLOSE) :], ""
        return shown.lstrip()


def _reasoning_field(message: Any) -> str:
    """vLLM's ``reasoning_content``, or ``reasoning`` (Ollama, newer vLLM): extra fields the SDK
    keeps on the message."""
    for name in ("reasoning_content", "reasoning"):
        value = getattr(message, name, None)
        if isinstance(value, str) and value:
            return value
    return ""


def _reasoning_tokens(usage: Any) -> int | None:
    details = getattr(usage, "completion_tokens_details", None) if usage is not None else None
    value = getattr(details, "reasoning_tokens", None) if details is not None else None
    return int(value) if value else None


def _usage(usage: Any) -> tuple[int, int, int]:
    """(prompt tokens not read from a cache, completion tokens, cached prompt tokens)."""
    if usage is None:
        return 0, 0, 0
    details = getattr(usage, "prompt_tokens_details", None)
    cached = (getattr(details, "cached_tokens", 0) or 0) if details else 0
    return (usage.prompt_tokens or 0) - cached, usage.completion_tokens or 0, cached


_STREAMED = {"stream": True, "stream_options": {"include_usage": True}}


class _ChatStream:
    """A streamed chat completion, chunk by chunk: the reply's text as it may be shown (a
    reasoning model's <think> part held back), then the Completion from the finish reason and
    the usage of the last chunk."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.started = time.monotonic()
        self.parts: list[str] = []
        self.thoughts: list[str] = []
        self.reply_only = _ThinkFilter()
        self.finish = self.served_model = self.request_id = ""
        self.usage = None

    def feed(self, chunk) -> list[str]:
        self.request_id = self.request_id or chunk.id or ""
        self.served_model = chunk.model or self.served_model
        self.usage = chunk.usage or self.usage
        shown_now = []
        for choice in chunk.choices or []:
            self.finish = choice.finish_reason or self.finish
            thought = _reasoning_field(choice.delta) if choice.delta else ""
            if thought:
                self.thoughts.append(thought)
            delta = choice.delta.content if choice.delta else None
            if delta:
                self.parts.append(delta)
                shown = self.reply_only.feed(delta)
                if shown:
                    shown_now.append(shown)
        return shown_now

    def completion(self) -> Completion:
        input_tokens, output_tokens, cached = _usage(self.usage)
        text, reasoning = split_reasoning("".join(self.parts), "".join(self.thoughts))
        counted = _reasoning_tokens(self.usage)
        return Completion(
            text=text,
            stop_reason=self.finish,
            input_tokens=input_tokens + cached,
            output_tokens=output_tokens,
            request_id=self.request_id,
            latency_ms=int((time.monotonic() - self.started) * 1000),
            model=self.served_model or self.model,
            reasoning=reasoning,
            reasoning_tokens=(
                min(counted, output_tokens)
                if counted is not None
                else reasoning_share(output_tokens=output_tokens, reasoning=reasoning, text=text)
            )
            if reasoning
            else 0,
        )


class OpenAICompatProvider(BaseProvider):
    name = "An OpenAI-compatible server"

    def __init__(self, *, api_key: str, base_url: str, timeout: float) -> None:
        self._client_args = {"api_key": api_key, "base_url": base_url, "timeout": timeout}

    @functools.cached_property
    def client(self) -> openai.OpenAI:
        """The SDK's client, made on first use: ``astream`` uses the event loop's instead, and
        making one loads the TLS certificates (milliseconds a live reply would pay for nothing)."""
        return openai.OpenAI(**self._client_args, max_retries=0)

    def _body(
        self,
        *,
        messages: list[dict[str, str]],
        system: str,
        model: str,
        params: dict[str, Any],
        sample_index: int = 0,
    ) -> dict[str, Any]:
        if params.get("reasoning") == "cot":
            system = f"{system}\n\n{COT_INSTRUCTION}" if system else COT_INSTRUCTION
        turns = [{"role": "system", "content": system}] if system else []
        turns += [{"role": m["role"], "content": m["content"]} for m in messages]
        body: dict[str, Any] = {"model": model, "messages": turns}
        for name in _API_PARAMS:
            if params.get(name) is not None:
                body[name] = params[name]
        if params.get("stop_sequences") and "stop" not in body:
            body["stop"] = params["stop_sequences"]
        if isinstance(params.get("extra_body"), dict):  # e.g. vLLM's top_k
            body["extra_body"] = params["extra_body"]
        if params.get("seed") is not None:  # reproducible, yet a different seed per sample
            body["seed"] = int(params["seed"]) + sample_index
        return body

    def _call(self, body: dict[str, Any]) -> tuple[Any, str, int]:
        started = time.monotonic()
        try:
            raw = self.client.chat.completions.with_raw_response.create(**body)
            response = raw.parse()
        except openai.OpenAIError as exc:
            error = error_from_sdk(exc, sdk=openai, service=SERVICE)
            if body.get("n", 1) > 1 and error.status == 400 and "choice" in error.message.lower():
                raise Unsupported(
                    f"The server does not return several samples per request: {error.message}",
                    status=400,
                ) from None
            raise error from None
        except ValueError as exc:
            raise unreadable(SERVICE, exc) from None
        latency = int((time.monotonic() - started) * 1000)
        return response, raw.headers.get("x-request-id", "") or response.id or "", latency

    def complete(
        self,
        *,
        messages: list[dict[str, str]],
        system: str,
        model: str,
        params: dict[str, Any],
        sample_index: int = 0,
    ) -> Completion:
        body = self._body(
            messages=messages, system=system, model=model, params=params, sample_index=sample_index
        )
        response, request_id, latency = self._call(body)
        return self._completions(response, request_id, latency)[0]

    def complete_n(
        self,
        *,
        messages: list[dict[str, str]],
        system: str,
        model: str,
        params: dict[str, Any],
        n: int,
    ) -> list[Completion]:
        body = self._body(messages=messages, system=system, model=model, params=params)
        body.pop("seed", None)
        body["n"] = n
        response, request_id, latency = self._call(body)
        completions = self._completions(response, request_id, latency)
        if len(completions) < n:
            raise ProviderError(
                f"Asked for {n} samples, the server returned {len(completions)}.", retryable=True
            )
        return completions[:n]

    def _completions(self, response: Any, request_id: str, latency: int) -> list[Completion]:
        choices = sorted(response.choices or [], key=lambda c: c.index)
        if not choices:
            raise ProviderError("The server returned no choices.", retryable=True)
        usage = response.usage
        prompt_tokens = (usage.prompt_tokens or 0) if usage else 0
        completion_tokens = (usage.completion_tokens or 0) if usage else 0
        replies = [
            split_reasoning(c.message.content or "", _reasoning_field(c.message)) for c in choices
        ]
        total_chars = sum(len(t) + len(r) for t, r in replies) or 1
        counted = _reasoning_tokens(usage) if len(replies) == 1 else None
        # Usage covers the whole request: the prompt is charged once (to the first sample), the
        # output split in proportion to each sample's length (reasoning included).
        out = []
        for i, (choice, (text, reasoning)) in enumerate(zip(choices, replies, strict=True)):
            output = (
                round(completion_tokens * (len(text) + len(reasoning)) / total_chars)
                if len(replies) > 1
                else completion_tokens
            )
            thought = (
                min(counted, output)
                if counted is not None
                else reasoning_share(output_tokens=output, reasoning=reasoning, text=text)
            )
            out.append(
                Completion(
                    text=text,
                    stop_reason=choice.finish_reason or "",
                    input_tokens=prompt_tokens if i == 0 else 0,
                    output_tokens=output,
                    request_id=request_id,
                    latency_ms=latency,
                    model=response.model or "",
                    reasoning=reasoning,
                    reasoning_tokens=thought if reasoning else 0,
                )
            )
        return out

    def stream(
        self,
        *,
        messages: list[dict[str, str]],
        system: str,
        model: str,
        params: dict[str, Any],
        sample_index: int = 0,
    ) -> Iterator[StreamItem]:
        """Content deltas from ``data:`` chunks until ``data: [DONE]``, then one Completion from
        the finish reason and the usage of the last chunk."""
        body = self._body(
            messages=messages, system=system, model=model, params=params, sample_index=sample_index
        )
        chat = _ChatStream(model)
        try:
            with self.client.chat.completions.create(**body, **_STREAMED) as chunks:
                chat.request_id = chunks.response.headers.get("x-request-id", "")
                for chunk in chunks:
                    yield from chat.feed(chunk)
        except openai.OpenAIError as exc:
            raise error_from_sdk(exc, sdk=openai, service=SERVICE) from None
        except ValueError as exc:
            raise unreadable(SERVICE, exc) from None
        yield chat.completion()

    async def astream(
        self,
        *,
        messages: list[dict[str, str]],
        system: str,
        model: str,
        params: dict[str, Any],
        sample_index: int = 0,
    ) -> AsyncIterator[StreamItem]:
        """``stream`` from an event loop (live/streamer.py), through the SDK's async client."""
        body = self._body(
            messages=messages, system=system, model=model, params=params, sample_index=sample_index
        )
        chat = _ChatStream(model)
        client = loop_client(openai.AsyncOpenAI, **self._client_args, max_retries=0)
        try:
            async with await client.chat.completions.create(**body, **_STREAMED) as chunks:
                chat.request_id = chunks.response.headers.get("x-request-id", "")
                async for chunk in chunks:
                    for shown in chat.feed(chunk):
                        yield shown
        except openai.OpenAIError as exc:
            raise error_from_sdk(exc, sdk=openai, service=SERVICE) from None
        except ValueError as exc:
            raise unreadable(SERVICE, exc) from None
        yield chat.completion()

    def judge(self, call: JudgeCall) -> JudgeReply:
        """One judge call as a chat completion forced to call ``record_verdict``. Arguments that
        are not JSON come back as ``tool_input=None`` (a malformed verdict: the service asks again)."""
        tool = call.tool_def
        body = {
            "model": call.model,
            "max_tokens": call.max_tokens,
            "messages": [
                {"role": "system", "content": call.rubric},
                {"role": "user", "content": call.user_text},
            ],
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": call.tool_name,
                        "description": tool["description"],
                        "parameters": tool["input_schema"],
                    },
                }
            ],
            "tool_choice": {"type": "function", "function": {"name": call.tool_name}},
        }
        response, request_id, _ = self._call(body)
        message = response.choices[0].message if response.choices else None
        tool_input = None
        for tool_call in (message.tool_calls or []) if message else []:
            if tool_call.function.name == call.tool_name:
                try:
                    parsed = json.loads(tool_call.function.arguments or "")
                except ValueError:
                    parsed = None
                tool_input = parsed if isinstance(parsed, dict) else None
                break
        input_tokens, output_tokens, cached = _usage(response.usage)
        return JudgeReply(
            custom_id=call.custom_id,
            tool_input=tool_input,
            raw_text=((message.content or "") if message else "")[:2000],
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=cached,
            request_id=request_id,
            model=response.model or call.model,
        )
