"""Anthropic Messages and Message Batches through the official SDK (the only module importing it).

The client is built with ``max_retries=0``: the generation service owns retries (with backoff that
honours ``retry-after``), so SDK and Celery retries never multiply. Every SDK error becomes a
``ProviderError`` whose ``retryable`` flag follows the API's contract: 408/409/429/5xx/529, timeouts and
dropped connections may succeed later; 400/401/403/404/413/422 will not.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import anthropic

from annotate.providers.base import (
    BatchRequest,
    BatchResult,
    BatchStatus,
    Completion,
    ProviderError,
)

# Parameters the Messages API accepts as they are; anything else in Generator.params is ours.
_API_PARAMS = ("stop_sequences", "metadata", "thinking", "service_tier", "output_config")
# Sampling parameters: this SDK version no longer lists them as keyword arguments (newer models
# reject some of them), but the API still takes them for the models that do, so they travel in the
# JSON body as given.
_SAMPLING_PARAMS = ("temperature", "top_p", "top_k")
DEFAULT_MAX_TOKENS = 1024
_RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504, 529}
_RETRYABLE_BATCH_ERRORS = {"overloaded_error", "api_error", "rate_limit_error", "timeout_error"}


def _retry_after(headers: Any) -> float | None:
    """``retry-after-ms`` first, then ``retry-after`` as seconds or an HTTP date (as the SDK does)."""
    if headers is None:
        return None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(float(raw_ms) / 1000.0, 0.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(raw) if raw else None
        return max(parsed.timestamp() - time.time(), 0.0) if parsed else None


def _error_from_sdk(exc: anthropic.AnthropicError) -> ProviderError:
    if isinstance(exc, anthropic.APITimeoutError):
        return ProviderError("Anthropic API request timed out.", retryable=True)
    if isinstance(exc, anthropic.APIConnectionError):
        return ProviderError(f"Could not reach the Anthropic API: {exc.message}", retryable=True)
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        api_message = exc.api_message or exc.message
        kind = exc.type or "error"
        retryable = status in _RETRYABLE_STATUS or status >= 500
        message = f"Anthropic API {status} {kind}: {api_message}"
        return ProviderError(
            message,
            retryable=retryable,
            retry_after=_retry_after(exc.response.headers) if retryable else None,
            status=status,
            request_id=exc.request_id or "",
        )
    if isinstance(exc, anthropic.APIResponseValidationError):
        return ProviderError(
            f"Anthropic API returned a response we could not read ({exc.message}).", retryable=True
        )
    # A body that is not JSON at all, or any other SDK-side failure: worth one more try.
    return ProviderError(f"Anthropic API call failed: {exc}", retryable=True)


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


def _completion_from_message(message: Any, *, latency_ms: int, request_id: str) -> Completion:
    text = "".join(block.text for block in message.content if getattr(block, "type", "") == "text")
    usage = message.usage
    return Completion(
        text=text,
        stop_reason=message.stop_reason or "",
        input_tokens=usage.input_tokens or 0,
        output_tokens=usage.output_tokens or 0,
        cache_read_tokens=getattr(usage, "cache_read_input_tokens", None) or 0,
        cache_write_tokens=getattr(usage, "cache_creation_input_tokens", None) or 0,
        request_id=request_id,
        latency_ms=latency_ms,
        model=message.model or "",
    )


class AnthropicProvider:
    def __init__(self, *, api_key: str, base_url: str | None, timeout: float) -> None:
        self.client = anthropic.Anthropic(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0
        )

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
        started = time.monotonic()
        try:
            raw = self.client.messages.with_raw_response.create(**body)
            message = raw.parse()
        except anthropic.AnthropicError as exc:
            raise _error_from_sdk(exc) from None
        except ValueError as exc:  # e.g. a 200 whose body is not JSON
            raise ProviderError(
                f"Anthropic API returned an unreadable response: {exc}", retryable=True
            ) from None
        latency_ms = int((time.monotonic() - started) * 1000)
        return _completion_from_message(
            message, latency_ms=latency_ms, request_id=raw.headers.get("request-id", "")
        )

    # --- Message Batches (half price; results within 24 h) ---

    def batch_submit(self, requests: list[BatchRequest]) -> str:
        payload = [{"custom_id": r.custom_id, "params": _batch_params(r)} for r in requests]
        try:
            return self.client.messages.batches.create(requests=payload).id
        except anthropic.AnthropicError as exc:
            raise _error_from_sdk(exc) from None

    def batch_status(self, batch_id: str) -> BatchStatus:
        try:
            batch = self.client.messages.batches.retrieve(batch_id)
        except anthropic.AnthropicError as exc:
            raise _error_from_sdk(exc) from None
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
        try:
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
        except anthropic.AnthropicError as exc:
            raise _error_from_sdk(exc) from None
        return found

    def batch_cancel(self, batch_id: str) -> None:
        try:
            self.client.messages.batches.cancel(batch_id)
        except anthropic.AnthropicError as exc:
            raise _error_from_sdk(exc) from None

    def batch_results(self, batch_id: str) -> Iterator[BatchResult]:
        try:
            lines = self.client.messages.batches.results(batch_id)
            for line in lines:
                yield _batch_result(line)
        except anthropic.AnthropicError as exc:
            raise _error_from_sdk(exc) from None


def _batch_params(request: BatchRequest) -> dict[str, Any]:
    """A batch item's params are plain JSON, so sampling parameters go in directly."""
    body = _request_params(
        messages=request.messages, system=request.system, model=request.model, params=request.params
    )
    body.update(body.pop("extra_body", {}))
    return body


def _batch_result(line: Any) -> BatchResult:
    result = line.result
    if result.type == "succeeded":
        completion = _completion_from_message(
            result.message, latency_ms=0, request_id=result.message.id
        )
        return BatchResult(custom_id=line.custom_id, completion=completion)
    if result.type == "errored":
        error = result.error.error
        kind = getattr(error, "type", "error")
        return BatchResult(
            custom_id=line.custom_id,
            kind="errored",
            error=ProviderError(
                f"Anthropic batch item {kind}: {getattr(error, 'message', '')}",
                retryable=kind in _RETRYABLE_BATCH_ERRORS,
            ),
        )
    if result.type == "expired":
        return BatchResult(
            custom_id=line.custom_id,
            kind="expired",
            error=ProviderError("Anthropic batch expired before this request ran.", retryable=True),
        )
    return BatchResult(
        custom_id=line.custom_id,
        kind="canceled",
        error=ProviderError("Anthropic batch request was cancelled.", retryable=False),
    )


# --- AI judge (annotate/judge, services/judging.py): structured verdicts by forced tool use ---
# The rubric is the system block with the cache breakpoint: tools + system form the shared prefix
# that prompt caching serves to every pair of a campaign; only the pair's message differs.


def _judge_params(call: Any) -> dict[str, Any]:
    from annotate.judge.calls import TOOL_NAME, tool_schema

    return {
        "model": call.model,
        "max_tokens": call.max_tokens,
        # No sampling parameters: this SDK's Messages.create takes none (models decide).
        "system": [{"type": "text", "text": call.rubric, "cache_control": {"type": "ephemeral"}}],
        "tools": [tool_schema(call.spec)],
        "tool_choice": {"type": "tool", "name": TOOL_NAME},
        "messages": [{"role": "user", "content": call.user_text}],
    }


def _judge_reply(message: Any, *, custom_id: str, request_id: str, batch: bool) -> Any:
    from annotate.judge.calls import TOOL_NAME, JudgeReply

    tool_input = None
    texts = []
    for block in message.content:
        kind = getattr(block, "type", "")
        if kind == "tool_use" and block.name == TOOL_NAME and tool_input is None:
            tool_input = block.input if isinstance(block.input, dict) else None
        elif kind == "text":
            texts.append(block.text)
    usage = message.usage
    return JudgeReply(
        custom_id=custom_id,
        tool_input=tool_input,
        raw_text="".join(texts)[:2000],
        input_tokens=usage.input_tokens or 0,
        output_tokens=usage.output_tokens or 0,
        cache_read_tokens=getattr(usage, "cache_read_input_tokens", None) or 0,
        cache_write_tokens=getattr(usage, "cache_creation_input_tokens", None) or 0,
        request_id=request_id,
        model=message.model or "",
        batch=batch,
    )


def judge_complete(provider: AnthropicProvider, call: Any) -> Any:
    """One judge call (Messages API): a JudgeReply, or ProviderError."""
    try:
        raw = provider.client.messages.with_raw_response.create(**_judge_params(call))
        message = raw.parse()
    except anthropic.AnthropicError as exc:
        raise _error_from_sdk(exc) from None
    except ValueError as exc:
        raise ProviderError(
            f"Anthropic API returned an unreadable response: {exc}", retryable=True
        ) from None
    return _judge_reply(
        message, custom_id=call.custom_id, request_id=raw.headers.get("request-id", ""), batch=False
    )


def judge_batch_submit(provider: AnthropicProvider, calls: list[Any]) -> str:
    payload = [{"custom_id": c.custom_id, "params": _judge_params(c)} for c in calls]
    try:
        return provider.client.messages.batches.create(requests=payload).id
    except anthropic.AnthropicError as exc:
        raise _error_from_sdk(exc) from None


def judge_batch_results(provider: AnthropicProvider, batch_id: str) -> Iterator[Any]:
    """JudgeBatchItem per line of a finished batch (status: provider.batch_status)."""
    from annotate.judge.calls import JudgeBatchItem

    try:
        for line in provider.client.messages.batches.results(batch_id):
            result = line.result
            if result.type == "succeeded":
                reply = _judge_reply(
                    result.message,
                    custom_id=line.custom_id,
                    request_id=result.message.id,
                    batch=True,
                )
                yield JudgeBatchItem(custom_id=line.custom_id, reply=reply)
            elif result.type == "errored":
                error = result.error.error
                kind = getattr(error, "type", "error")
                yield JudgeBatchItem(
                    custom_id=line.custom_id,
                    error=f"Anthropic batch item {kind}: {getattr(error, 'message', '')}",
                    retryable=kind in _RETRYABLE_BATCH_ERRORS,
                )
            else:
                yield JudgeBatchItem(
                    custom_id=line.custom_id,
                    error=f"Anthropic batch request {result.type}.",
                    retryable=result.type == "expired",
                )
    except anthropic.AnthropicError as exc:
        raise _error_from_sdk(exc) from None
