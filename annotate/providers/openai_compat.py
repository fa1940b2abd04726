"""OpenAI-compatible chat completions (vLLM, Ollama, llama.cpp server, OpenAI) through the `openai` SDK.

Same contract as the Anthropic transport: ``max_retries=0`` (the service owns retries), errors mapped
to ``ProviderError`` with ``retryable`` by status (429/5xx/timeouts/connection yes; 4xx no).
``complete_n`` asks for several samples in one request with ``n`` (vLLM, OpenAI); servers that refuse
``n > 1`` (llama.cpp, older Ollama) raise ``NSamplesUnsupported`` so the caller can fall back to one
request per sample.
"""

from __future__ import annotations

import time
from typing import Any

import openai

from annotate.providers.base import Completion, ProviderError

_API_PARAMS = (
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "presence_penalty",
    "frequency_penalty",
    "stop",
    "logit_bias",
)
_RETRYABLE_STATUS = {408, 409, 429}


class NSamplesUnsupported(ProviderError):
    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False, status=400)


def _retry_after(headers: Any) -> float | None:
    raw = headers.get("retry-after-ms")
    if raw:
        try:
            return float(raw) / 1000.0
        except ValueError:
            pass
    raw = headers.get("retry-after")
    try:
        return float(raw) if raw else None
    except ValueError:
        return None


def _error_from_sdk(exc: openai.OpenAIError) -> ProviderError:
    if isinstance(exc, openai.APITimeoutError):
        return ProviderError("OpenAI-compatible server timed out.", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return ProviderError(
            f"Could not reach the OpenAI-compatible server: {exc.message}", retryable=True
        )
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        body = exc.body if isinstance(exc.body, dict) else {}
        detail = body.get("message") or (body.get("error") or {}).get("message") if body else None
        retryable = status in _RETRYABLE_STATUS or status >= 500
        return ProviderError(
            f"OpenAI-compatible server {status}: {detail or exc.message}",
            retryable=retryable,
            retry_after=_retry_after(exc.response.headers) if retryable else None,
            status=status,
            request_id=exc.request_id or "",
        )
    return ProviderError(f"OpenAI-compatible call failed: {exc}", retryable=True)


class OpenAICompatProvider:
    def __init__(self, *, api_key: str, base_url: str | None, timeout: float) -> None:
        self.client = openai.OpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0
        )

    def _body(
        self, *, messages: list[dict[str, str]], system: str, model: str, params: dict[str, Any]
    ) -> dict[str, Any]:
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
        return body

    def _call(self, body: dict[str, Any]) -> tuple[Any, str, int]:
        started = time.monotonic()
        try:
            raw = self.client.chat.completions.with_raw_response.create(**body)
            response = raw.parse()
        except openai.OpenAIError as exc:
            error = _error_from_sdk(exc)
            if body.get("n", 1) > 1 and error.status == 400 and "choice" in error.message.lower():
                raise NSamplesUnsupported(error.message) from None
            raise error from None
        except ValueError as exc:
            raise ProviderError(
                f"Unreadable response from the server: {exc}", retryable=True
            ) from None
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
        body = self._body(messages=messages, system=system, model=model, params=params)
        if params.get("seed") is not None:  # reproducible, yet a different seed per sample
            body["seed"] = int(params["seed"]) + sample_index
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
        texts = [(c.message.content or "") for c in choices]
        total_chars = sum(len(t) for t in texts) or 1
        # Usage covers the whole request: the prompt is charged once (to the first sample), the
        # output split in proportion to each sample's length.
        return [
            Completion(
                text=text,
                stop_reason=choice.finish_reason or "",
                input_tokens=prompt_tokens if i == 0 else 0,
                output_tokens=round(completion_tokens * len(text) / total_chars)
                if len(texts) > 1
                else completion_tokens,
                request_id=request_id,
                latency_ms=latency,
                model=response.model or "",
            )
            for i, (choice, text) in enumerate(zip(choices, texts, strict=True))
        ]


# --- AI judge (annotate/judge, services/judging.py): structured verdicts by a forced function call ---


def judge_complete(provider: OpenAICompatProvider, call: Any) -> Any:
    """One judge call as a chat completion forced to call ``record_verdict``. Arguments that are not
    JSON come back as ``tool_input=None`` (a malformed verdict: the service asks again)."""
    import json

    from annotate.judge.calls import TOOL_NAME, JudgeReply, tool_schema

    tool = tool_schema(call.spec)
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
                    "name": TOOL_NAME,
                    "description": tool["description"],
                    "parameters": tool["input_schema"],
                },
            }
        ],
        "tool_choice": {"type": "function", "function": {"name": TOOL_NAME}},
    }
    response, request_id, _ = provider._call(body)
    message = response.choices[0].message if response.choices else None
    tool_input = None
    for tool_call in (message.tool_calls or []) if message else []:
        if tool_call.function.name == TOOL_NAME:
            try:
                parsed = json.loads(tool_call.function.arguments or "")
            except ValueError:
                parsed = None
            tool_input = parsed if isinstance(parsed, dict) else None
            break
    usage = response.usage
    prompt_tokens = (usage.prompt_tokens or 0) if usage else 0
    details = getattr(usage, "prompt_tokens_details", None) if usage else None
    cached = (getattr(details, "cached_tokens", 0) or 0) if details else 0
    return JudgeReply(
        custom_id=call.custom_id,
        tool_input=tool_input,
        raw_text=((message.content or "") if message else "")[:2000],
        input_tokens=prompt_tokens - cached,
        output_tokens=(usage.completion_tokens or 0) if usage else 0,
        cache_read_tokens=cached,
        request_id=request_id,
        model=response.model or call.model,
    )
