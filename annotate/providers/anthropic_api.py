"""Anthropic Messages, streaming and Message Batches through the official SDK (the only module
importing it), for generation and for the judge.

Extended thinking (``params["thinking"] = {"type": "enabled", "budget_tokens": N}``, passed as is)
comes back as thinking blocks before the text: their text is the Completion's ``reasoning``, kept
apart from the reply, with ``usage.output_tokens_details.thinking_tokens`` as its tokens.

The client is built with ``max_retries=0``: the services own retries (with backoff that honours
``retry-after``), so SDK and Celery retries never multiply. Every SDK error becomes a
``ProviderError`` (providers/base.py ``error_from_sdk``). The client gets its key and base URL
explicitly, so the SDK never falls back to ANTHROPIC_* variables of its own accord.

The judge's calls force the ``record_verdict`` tool; the rubric is the system block with the cache
breakpoint, so tools + system form the shared prefix that prompt caching serves to every pair of a
campaign and only the pair's message differs.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import anthropic
import msgspec
from anthropic.types import Message

from annotate.judge.calls import TOOL_NAME, JudgeBatchItem, JudgeCall, JudgeReply
from annotate.providers.base import (
    RETRYABLE_ERROR_TYPES,
    BaseProvider,
    BatchRequest,
    BatchResult,
    BatchStatus,
    Completion,
    ProviderError,
    StreamItem,
    error_from_sdk,
    loop_client,
    reasoning_share,
    unreadable,
)

SERVICE = "Anthropic API"
# Parameters the Messages API accepts as they are; anything else in Generator.params is ours.
_API_PARAMS = ("stop_sequences", "metadata", "thinking", "service_tier", "output_config")
# Sampling parameters: this SDK version no longer lists them as keyword arguments (newer models
# reject some of them), but the API still takes them for the models that do, so they travel in the
# JSON body as given.
_SAMPLING_PARAMS = ("temperature", "top_p", "top_k")
DEFAULT_MAX_TOKENS = 1024


@contextmanager
def _sdk_errors() -> Iterator[None]:
    try:
        yield
    except anthropic.AnthropicError as exc:
        raise error_from_sdk(exc, sdk=anthropic, service=SERVICE) from None
    except ValueError as exc:  # e.g. a 200 whose body is not JSON
        raise unreadable(SERVICE, exc) from None


def _request_params(
    *, messages: list[dict[str, str]], system: str, model: str, params: dict[str, Any]
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": int(params.get("max_tokens", DEFAULT_MAX_TOKENS)),
        "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
    }
    if system:
        body["system"] = system
    for name in _API_PARAMS:
        if params.get(name) is not None:
            body[name] = params[name]
    if params.get("stop") and "stop_sequences" not in body:  # accept the OpenAI spelling too
        stop = params["stop"]
        body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    sampling = {name: params[name] for name in _SAMPLING_PARAMS if params.get(name) is not None}
    if sampling:
        body["extra_body"] = sampling
    return body


def _usage(message: Any) -> dict[str, int]:
    usage = message.usage
    return {
        "input_tokens": usage.input_tokens or 0,
        "output_tokens": usage.output_tokens or 0,
        "cache_read_tokens": getattr(usage, "cache_read_input_tokens", None) or 0,
        "cache_write_tokens": getattr(usage, "cache_creation_input_tokens", None) or 0,
    }


REDACTED = "[Part of the reasoning was redacted by the provider.]"


def _reasoning(message: Any) -> str:
    """The text of the thinking blocks (extended thinking), in order; redacted blocks are opaque
    and only noted."""
    parts = []
    for block in message.content:
        kind = getattr(block, "type", "")
        if kind == "thinking" and block.thinking:
            parts.append(block.thinking)
        elif kind == "redacted_thinking" and REDACTED not in parts:
            parts.append(REDACTED)
    return "\n\n".join(parts)


def _thinking_tokens(message: Any, *, reasoning: str, text: str, output_tokens: int) -> int:
    """``usage.output_tokens_details.thinking_tokens`` when the API gives it, else an estimate."""
    details = getattr(message.usage, "output_tokens_details", None)
    counted = getattr(details, "thinking_tokens", None) if details is not None else None
    if counted is not None:
        return min(int(counted), output_tokens)
    return reasoning_share(output_tokens=output_tokens, reasoning=reasoning, text=text)


def _completion_from_message(message: Any, *, latency_ms: int, request_id: str) -> Completion:
    text = "".join(block.text for block in message.content if getattr(block, "type", "") == "text")
    usage = _usage(message)
    reasoning = _reasoning(message)
    return Completion(
        text=text,
        stop_reason=message.stop_reason or "",
        request_id=request_id,
        latency_ms=latency_ms,
        model=message.model or "",
        reasoning=reasoning,
        reasoning_tokens=_thinking_tokens(
            message, reasoning=reasoning, text=text, output_tokens=usage["output_tokens"]
        ),
        **usage,
    )


def _judge_params(call: JudgeCall) -> dict[str, Any]:
    return {
        "model": call.model,
        "max_tokens": call.max_tokens,
        # No sampling parameters: this SDK's Messages.create takes none (models decide).
        "system": [{"type": "text", "text": call.rubric, "cache_control": {"type": "ephemeral"}}],
        "tools": [call.tool_def],
        "tool_choice": {"type": "tool", "name": call.tool_name},
        "messages": [{"role": "user", "content": call.user_text}],
    }


def _judge_reply(
    message: Any, *, custom_id: str, request_id: str, batch: bool, tool: str = TOOL_NAME
) -> JudgeReply:
    tool_input = None
    texts = []
    for block in message.content:
        kind = getattr(block, "type", "")
        if kind == "tool_use" and block.name == tool and tool_input is None:
            tool_input = block.input if isinstance(block.input, dict) else None
        elif kind == "text":
            texts.append(block.text)
    return JudgeReply(
        custom_id=custom_id,
        tool_input=tool_input,
        raw_text="".join(texts)[:2000],
        request_id=request_id,
        model=message.model or "",
        batch=batch,
        **_usage(message),
    )


def _batch_error(result: Any) -> ProviderError:
    """Why a batch line holds no message: errored (retryable by its type), expired, cancelled."""
    if result.type == "errored":
        error = result.error.error
        kind = getattr(error, "type", "error")
        return ProviderError(
            f"Anthropic batch item {kind}: {getattr(error, 'message', '')}",
            retryable=kind in RETRYABLE_ERROR_TYPES,
        )
    if result.type == "expired":
        return ProviderError("Anthropic batch expired before this request ran.", retryable=True)
    return ProviderError("Anthropic batch request was cancelled.", retryable=False)


def _json(text: str) -> Any:
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return text


class _StreamedMessage:
    """The message a stream of Messages API events builds: text and thinking blocks as their
    deltas come (other blocks, tool use, are not live replies' and are left out), the usage of
    ``message_start`` updated by ``message_delta``, the stop reason."""

    _KEEP = {"text": "text", "thinking": "thinking", "redacted_thinking": None}

    def __init__(self) -> None:
        self.message: dict[str, Any] = {}
        self.blocks: dict[int, dict[str, Any]] = {}
        self.stopped = False  # message_stop came: the message is whole

    def add(self, event: dict[str, Any]) -> str:
        """Take one event; returns the reply's text it adds ("" for any other event)."""
        kind = event.get("type")
        if kind == "content_block_delta":
            block = self.blocks.get(event["index"])
            delta = event["delta"]
            if block is None:
                return ""
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
                return delta["text"]
            if delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] = block.get("signature", "") + delta["signature"]
        elif kind == "content_block_start":
            block = dict(event["content_block"])
            if block.get("type") in self._KEEP:
                field = self._KEEP[block["type"]]
                if field is not None:
                    block[field] = block.get(field) or ""
                if block["type"] == "thinking":
                    block["signature"] = block.get("signature") or ""
                self.blocks[event["index"]] = block
        elif kind == "message_start":
            self.message = dict(event["message"])
        elif kind == "message_stop":
            self.stopped = True
        elif kind == "message_delta":
            self.message.update(
                {k: v for k, v in event.get("delta", {}).items() if k.startswith("stop_")}
            )
            usage = dict(self.message.get("usage") or {})
            usage.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
            self.message["usage"] = usage
        return ""

    def final(self) -> Message:
        """The whole message, validated as the SDK's own (a stream cut short raises: a half reply
        is never a finished one)."""
        if not self.stopped:
            raise ValueError("the stream ended before the message did")
        whole = {**self.message, "content": [self.blocks[i] for i in sorted(self.blocks)]}
        return Message.model_validate(whole)


class AnthropicProvider(BaseProvider):
    name = "Anthropic"

    def __init__(self, *, api_key: str, base_url: str, timeout: float) -> None:
        self._client_args = {"api_key": api_key, "base_url": base_url, "timeout": timeout}

    @functools.cached_property
    def client(self) -> anthropic.Anthropic:
        """The SDK's client, made on first use: ``astream`` uses the event loop's instead, and
        making one loads the TLS certificates (milliseconds a live reply would pay for nothing)."""
        return anthropic.Anthropic(**self._client_args, max_retries=0)

    def _create(self, body: dict[str, Any]) -> tuple[Any, str, int]:
        started = time.monotonic()
        with _sdk_errors():
            raw = self.client.messages.with_raw_response.create(**body)
            message = raw.parse()
        latency_ms = int((time.monotonic() - started) * 1000)
        return message, raw.headers.get("request-id", ""), latency_ms

    def complete(
        self,
        *,
        messages: list[dict[str, str]],
        system: str,
        model: str,
        params: dict[str, Any],
        sample_index: int = 0,
    ) -> Completion:
        body = _request_params(messages=messages, system=system, model=model, params=params)
        message, request_id, latency_ms = self._create(body)
        return _completion_from_message(message, latency_ms=latency_ms, request_id=request_id)

    def stream(
        self,
        *,
        messages: list[dict[str, str]],
        system: str,
        model: str,
        params: dict[str, Any],
        sample_index: int = 0,
    ) -> Iterator[StreamItem]:
        """Text deltas as the server sends them (SSE ``content_block_delta``), then the Completion
        built from the final message (``message_delta`` carries the stop reason and output usage).
        With extended thinking the ``thinking_delta`` events are not yielded: the trace arrives
        whole in the Completion, apart from the reply."""
        body = _request_params(messages=messages, system=system, model=model, params=params)
        started = time.monotonic()
        with _sdk_errors(), self.client.messages.stream(**body) as stream:
            yield from stream.text_stream
            message = stream.get_final_message()
            request_id = stream.request_id or ""
        latency_ms = int((time.monotonic() - started) * 1000)
        yield _completion_from_message(message, latency_ms=latency_ms, request_id=request_id)

    async def astream(
        self,
        *,
        messages: list[dict[str, str]],
        system: str,
        model: str,
        params: dict[str, Any],
        sample_index: int = 0,
    ) -> AsyncIterator[StreamItem]:
        """``stream`` from an event loop (live/streamer.py), through the SDK's async client: its
        Server-Sent Events read raw (``AsyncStream.raw_events``) and decoded here, one JSON decode
        a delta and the final message validated once, instead of a typed model per event and the
        SDK's accumulated copy of the message (about 100 µs of the loop's time a delta)."""
        body = _request_params(messages=messages, system=system, model=model, params=params)
        started = time.monotonic()
        client = loop_client(anthropic.AsyncAnthropic, **self._client_args, max_retries=0)
        message = _StreamedMessage()
        with _sdk_errors():
            raw = client.messages.with_streaming_response.create(**body, stream=True)
            async with raw as response:
                request_id = response.headers.get("request-id", "")
                async for sse in anthropic.AsyncStream.raw_events(response.http_response):
                    if sse.event == "error":
                        raise anthropic.APIStatusError(
                            sse.data, response=response.http_response, body=_json(sse.data)
                        )
                    if not sse.data or sse.event in (None, "ping"):
                        continue
                    text = message.add(msgspec.json.decode(sse.data))
                    if text:
                        yield text
            final = message.final()
        latency_ms = int((time.monotonic() - started) * 1000)
        yield _completion_from_message(final, latency_ms=latency_ms, request_id=request_id)

    def judge(self, call: JudgeCall) -> JudgeReply:
        """One judge call (Messages API, forced tool use)."""
        message, request_id, _ = self._create(_judge_params(call))
        return _judge_reply(
            message,
            custom_id=call.custom_id,
            request_id=request_id,
            batch=False,
            tool=call.tool_name,
        )

    # --- Message Batches (half price; results within 24 h) ---

    def _batch_create(self, payload: list[dict[str, Any]]) -> str:
        with _sdk_errors():
            return self.client.messages.batches.create(requests=payload).id

    def _batch_lines(self, batch_id: str) -> Iterator[Any]:
        with _sdk_errors():
            yield from self.client.messages.batches.results(batch_id)

    def batch_submit(self, requests: list[BatchRequest]) -> str:
        return self._batch_create(
            [{"custom_id": r.custom_id, "params": _batch_params(r)} for r in requests]
        )

    def batch_status(self, batch_id: str) -> BatchStatus:
        with _sdk_errors():
            batch = self.client.messages.batches.retrieve(batch_id)
        counts = batch.request_counts
        return BatchStatus(
            id=batch.id,
            ended=batch.processing_status == "ended",
            counts={
                "processing": counts.processing,
                "succeeded": counts.succeeded,
                "errored": counts.errored,
                "canceled": counts.canceled,
                "expired": counts.expired,
            },
        )

    def batch_find(self, *, size: int, created_from: datetime, exclude: set[str]) -> str | None:
        """The id of a batch of ``size`` requests created at or after ``created_from`` (and not in
        ``exclude``), the one created first; None if the provider has none. For a submission whose
        answer was lost: the API lists batches newest first and says nothing of their custom_ids."""
        found = None
        with _sdk_errors():
            for batch in self.client.messages.batches.list(limit=100):
                if batch.created_at < created_from:
                    break
                counts = batch.request_counts
                total = (
                    counts.processing
                    + counts.succeeded
                    + counts.errored
                    + counts.canceled
                    + counts.expired
                )
                if total == size and batch.id not in exclude:
                    found = batch.id  # keep going: the oldest match is the likeliest
        return found

    def batch_cancel(self, batch_id: str) -> None:
        with _sdk_errors():
            self.client.messages.batches.cancel(batch_id)

    def batch_results(self, batch_id: str) -> Iterator[BatchResult]:
        for line in self._batch_lines(batch_id):
            result = line.result
            if result.type == "succeeded":
                completion = _completion_from_message(
                    result.message, latency_ms=0, request_id=result.message.id
                )
                yield BatchResult(custom_id=line.custom_id, completion=completion)
            else:
                yield BatchResult(
                    custom_id=line.custom_id, kind=result.type, error=_batch_error(result)
                )

    def judge_batch_submit(self, calls: list[JudgeCall]) -> str:
        return self._batch_create(
            [{"custom_id": c.custom_id, "params": _judge_params(c)} for c in calls]
        )

    def judge_batch_results(self, batch_id: str) -> Iterator[JudgeBatchItem]:
        """One item per line of a finished judge batch (its status: ``batch_status``)."""
        for line in self._batch_lines(batch_id):
            result = line.result
            if result.type == "succeeded":
                reply = _judge_reply(
                    result.message,
                    custom_id=line.custom_id,
                    request_id=result.message.id,
                    batch=True,
                )
                yield JudgeBatchItem(custom_id=line.custom_id, reply=reply)
            else:
                error = _batch_error(result)
                yield JudgeBatchItem(
                    custom_id=line.custom_id, error=error.message, retryable=error.retryable
                )


def _batch_params(request: BatchRequest) -> dict[str, Any]:
    """A batch item's params are plain JSON, so sampling parameters go in directly."""
    body = _request_params(
        messages=request.messages, system=request.system, model=request.model, params=request.params
    )
    body.update(body.pop("extra_body", {}))
    return body
