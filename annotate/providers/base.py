"""The provider seam: a plain config in, one Protocol out, one result type, one error type.

Providers are transports: they know nothing of Django, models, Celery or HTTP views. A service builds
a ``ProviderConfig`` (kind, base URL, the key's variable name, timeout) from a generator or the judge's
settings (annotate/endpoints.py decides which key may go to which host), and ``provider_for(config)``
is the one place that turns a kind into a transport. Every transport has the same methods
(``Provider``); an operation a provider does not have raises ``Unsupported``, a ``ProviderError``
that says so. Calls return a ``Completion`` (or judge replies, batch ids and results) or raise
``ProviderError``; the caller decides what a failure means and owns every retry.

Keys come only from the environment (or a ``NAME_FILE`` holding it); they are read when the
transport is built and never stored, logged or put into an error message.
"""

from __future__ import annotations

import email.utils
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from annotate.judge.calls import JudgeBatchItem, JudgeCall, JudgeReply

ANTHROPIC_API_URL = "https://api.anthropic.com"


@dataclass(frozen=True)
class ProviderConfig:
    """Where and how to call: what a transport is built from (no model rows, no settings)."""

    kind: str  # anthropic | openai_compatible | demo
    base_url: str | None = None  # None: the kind has no host (demo)
    key_env: str | None = None  # the environment variable holding the key; None: send no key
    timeout: float = 120.0
    endpoint: str = ""  # the operator's name for this base URL + key, if it came from one

    @property
    def account(self) -> str:
        """Whose limits a call counts against: one host with one key."""
        return f"{self.kind}|{self.base_url or '-'}|{self.key_env or '-'}"


@dataclass(frozen=True)
class Completion:
    """One reply. ``text`` is the final response; ``reasoning`` the model's trace when it gave one
    (Claude's thinking blocks, an OpenAI-compatible server's ``reasoning_content``, or a chain of
    thought split off the reply), whose ``reasoning_tokens`` are part of ``output_tokens``."""

    text: str
    stop_reason: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    request_id: str = ""
    latency_ms: int = 0
    model: str = ""
    reasoning: str = ""
    reasoning_tokens: int = 0


def reasoning_share(*, output_tokens: int, reasoning: str, text: str) -> int:
    """The reasoning's part of ``output_tokens`` when the provider does not say: in proportion to
    the characters of the trace and of the reply (an estimate; a summarised trace understates)."""
    if not reasoning or output_tokens <= 0:
        return 0
    return round(output_tokens * len(reasoning) / (len(reasoning) + len(text)))


class ProviderError(Exception):
    """A failed call. ``retryable`` says whether the same request may succeed later (429, 529, 5xx,
    timeouts, dropped connections); ``retry_after`` is the provider's own hint in seconds, if any."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        status: int | None = None,
        request_id: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status
        self.request_id = request_id

    def __str__(self) -> str:
        return self.message


class Unsupported(ProviderError):
    """The provider (or the server behind it) does not do this operation; asking again won't help."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message, retryable=False, status=status)


@dataclass(frozen=True)
class BatchRequest:
    """One request of a Message Batch; ``custom_id`` maps the result back (we use the candidate id)."""

    custom_id: str
    messages: list[dict[str, str]]
    system: str
    model: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchResult:
    """One line of a finished batch: a Completion, or an error (retryable or not)."""

    custom_id: str
    completion: Completion | None = None
    error: ProviderError | None = None
    kind: str = "succeeded"  # succeeded | errored | expired | canceled


@dataclass(frozen=True)
class BatchStatus:
    id: str
    ended: bool
    counts: dict[str, int] = field(default_factory=dict)


# A stream yields text deltas (str) as they arrive, then exactly one Completion (usage, stop reason).
StreamItem = str | Completion


class Provider(Protocol):
    """What every transport offers. Unsupported operations raise ``Unsupported``."""

    name: str

    def complete(
        self,
        *,
        messages: list[dict[str, str]],
        system: str,
        model: str,
        params: dict[str, Any],
        sample_index: int = 0,
    ) -> Completion: ...

    def complete_n(
        self,
        *,
        messages: list[dict[str, str]],
        system: str,
        model: str,
        params: dict[str, Any],
        n: int,
    ) -> list[Completion]: ...

    def stream(
        self,
        *,
        messages: list[dict[str, str]],
        system: str,
        model: str,
        params: dict[str, Any],
        sample_index: int = 0,
    ) -> Iterator[StreamItem]: ...

    def judge(self, call: JudgeCall) -> JudgeReply: ...

    def batch_submit(self, requests: list[BatchRequest]) -> str: ...

    def batch_status(self, batch_id: str) -> BatchStatus: ...

    def batch_results(self, batch_id: str) -> Iterator[BatchResult]: ...

    def batch_find(self, *, size: int, created_from: datetime, exclude: set[str]) -> str | None: ...

    def batch_cancel(self, batch_id: str) -> None: ...

    def judge_batch_submit(self, calls: list[JudgeCall]) -> str: ...

    def judge_batch_results(self, batch_id: str) -> Iterator[JudgeBatchItem]: ...


_loop_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def loop_client(make: Callable[..., Any], **args: Any) -> Any:
    """The async SDK client ``make(**args)`` of the running event loop, made once per loop and
    arguments and shared by the replies it streams (live/streamer.py): making one loads the TLS
    certificates, tens of milliseconds the loop would take from every other reply, and a shared
    client keeps its connections open for the next."""
    import asyncio

    clients = _loop_clients.setdefault(asyncio.get_running_loop(), {})
    key = (make, tuple(sorted(args.items())))
    if key not in clients:
        clients[key] = make(**args)
    return clients[key]


class BaseProvider:
    """Every operation, refused with a message naming the provider; transports override theirs."""

    name = "this provider"

    def _unsupported(self, what: str) -> Unsupported:
        return Unsupported(f"{self.name} cannot {what}.")

    def complete(self, **_: Any) -> Completion:
        raise self._unsupported("complete a conversation")

    def complete_n(self, **_: Any) -> list[Completion]:
        raise self._unsupported("return several samples in one request")

    def stream(self, **_: Any) -> Iterator[StreamItem]:
        raise self._unsupported("stream a reply")

    def judge(self, call: JudgeCall) -> JudgeReply:
        raise self._unsupported("judge")

    def batch_submit(self, requests: list[BatchRequest]) -> str:
        raise self._unsupported("run Message Batches")

    def batch_status(self, batch_id: str) -> BatchStatus:
        raise self._unsupported("run Message Batches")

    def batch_results(self, batch_id: str) -> Iterator[BatchResult]:
        raise self._unsupported("run Message Batches")

    def batch_find(self, *, size: int, created_from: datetime, exclude: set[str]) -> str | None:
        raise self._unsupported("run Message Batches")

    def batch_cancel(self, batch_id: str) -> None:
        raise self._unsupported("run Message Batches")

    def judge_batch_submit(self, calls: list[JudgeCall]) -> str:
        raise self._unsupported("judge in Message Batches")

    def judge_batch_results(self, batch_id: str) -> Iterator[JudgeBatchItem]:
        raise self._unsupported("judge in Message Batches")


# --- the SDKs' errors, mapped once (both SDKs share the Stainless error classes) -----------------

RETRYABLE_STATUS = frozenset({408, 409, 429})
# Error types that mean "try later" even without a status (an SSE ``error`` event mid-stream, a
# batch item that errored).
RETRYABLE_ERROR_TYPES = frozenset(
    {"overloaded_error", "api_error", "rate_limit_error", "timeout_error"}
)


def retry_after(headers: Any) -> float | None:
    """``retry-after-ms`` first, then ``retry-after`` as seconds or an HTTP date (as the SDKs do)."""
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
        try:
            parsed = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        return max(parsed.timestamp() - time.time(), 0.0)


def _error_body(body: Any) -> tuple[str, str]:
    """(error type, message) from an error body: ``{"error": {"type", "message"}}`` or flat."""
    if not isinstance(body, dict):
        return "", ""
    inner = body["error"] if isinstance(body.get("error"), dict) else body
    return str(inner.get("type") or ""), str(inner.get("message") or "")


def error_from_sdk(exc: Exception, *, sdk: ModuleType, service: str) -> ProviderError:
    """An ``anthropic`` or ``openai`` SDK error as a ProviderError whose ``retryable`` follows the
    API's contract: 408/409/429/5xx/529, timeouts and dropped connections may succeed later;
    400/401/403/404/413/422 will not. A 429 for a spend limit is final (retrying cannot help)."""
    if isinstance(exc, sdk.APITimeoutError):
        return ProviderError(f"{service} timed out.", retryable=True)
    if isinstance(exc, sdk.APIConnectionError):
        return ProviderError(f"Could not reach {service}: {exc.message}", retryable=True)
    if isinstance(exc, sdk.APIStatusError):
        status = exc.status_code
        kind, detail = _error_body(exc.body)
        kind = getattr(exc, "type", None) or kind
        detail = getattr(exc, "api_message", None) or detail or exc.message
        retryable = (
            status in RETRYABLE_STATUS or status >= 500 or kind in RETRYABLE_ERROR_TYPES
        ) and getattr(exc, "error_code", None) != "enforced_spend_limit_reached"
        where = f"{status}" if status >= 400 else "stream error"
        return ProviderError(
            f"{service} {where}{' ' + kind if kind else ''}: {detail}",
            retryable=retryable,
            retry_after=retry_after(exc.response.headers) if retryable else None,
            status=status if status >= 400 else None,
            request_id=getattr(exc, "request_id", None) or "",
        )
    if isinstance(exc, sdk.APIResponseValidationError):
        return ProviderError(
            f"{service} returned a response we could not read ({exc.message}).", retryable=True
        )
    # A body that is not JSON at all, or any other SDK-side failure: worth one more try.
    return ProviderError(f"{service} call failed: {exc}", retryable=True)


def unreadable(service: str, exc: Exception) -> ProviderError:
    """A 200 whose body is not what the protocol promises (the SDK raises ValueError)."""
    return ProviderError(f"{service} returned an unreadable response: {exc}", retryable=True)


# --- keys and the factory -------------------------------------------------------------------------


def env_key(name: str) -> str | None:
    """The value of environment variable ``name``, or of the file named by ``name_FILE``."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip() or None
        except OSError as exc:
            raise ProviderError(
                f"{name}_FILE points to {path!r}, which cannot be read ({exc.strerror}).",
                retryable=False,
            ) from None
    return os.environ.get(name) or None


def require_key(name: str, what: str) -> str:
    key = env_key(name)
    if not key:
        raise ProviderError(
            f"{name} is not set: set it (or {name}_FILE) in the environment of the web server "
            f"and the Celery workers to call {what}.",
            retryable=False,
        )
    return key


_clients: dict[tuple, Provider] = {}
_clients_lock = threading.Lock()


def _cached(key: tuple, build: Callable[[], Provider]) -> Provider:
    """One SDK client per (kind, key, endpoint, timeout) per process: its connection pool is
    reused across calls (a fresh client per call would pay a TCP handshake each time). The key is
    part of the cache key, so rotating it in the environment takes effect at the next call."""
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            if len(_clients) > 64:
                _clients.clear()
            client = _clients[key] = build()
        return client


def provider_for(config: ProviderConfig) -> Provider:
    """The transport for a config: the one place that dispatches on the kind. SDK imports stay
    inside, so the demo needs neither SDK."""
    if config.kind == "anthropic":
        from annotate.providers.anthropic_api import AnthropicProvider

        if not config.key_env:
            raise ProviderError("An Anthropic endpoint needs a key variable.", retryable=False)
        key = require_key(config.key_env, f"Anthropic at {config.base_url}")
        base_url = config.base_url or ANTHROPIC_API_URL
        return _cached(
            (config.kind, key, base_url, config.timeout),
            lambda: AnthropicProvider(api_key=key, base_url=base_url, timeout=config.timeout),
        )
    if config.kind == "openai_compatible":
        from annotate.providers.openai_compat import OpenAICompatProvider

        if not config.base_url:
            raise ProviderError(
                "This OpenAI-compatible server has no base URL (e.g. http://localhost:8000/v1).",
                retryable=False,
            )
        if not config.key_env and os.environ.get("OPENAI_CUSTOM_HEADERS"):
            # The SDK would add those headers to every request, to a host no operator named.
            raise ProviderError(
                "OPENAI_CUSTOM_HEADERS is set, so this server without a key gets no request: "
                "unset it, or ask the operator for an endpoint.",
                retryable=False,
            )
        # Local servers (vLLM, Ollama, llama.cpp) need no key; the SDK insists on a string, and
        # an explicit one keeps it from reading OPENAI_API_KEY on its own.
        key = require_key(config.key_env, config.base_url) if config.key_env else "none"
        return _cached(
            (config.kind, key, config.base_url, config.timeout),
            lambda: OpenAICompatProvider(
                api_key=key, base_url=config.base_url, timeout=config.timeout
            ),
        )
    if config.kind == "demo":
        from annotate.providers.demo import DemoProvider

        return DemoProvider()
    raise ProviderError(f"Unknown provider {config.kind!r}.", retryable=False)
