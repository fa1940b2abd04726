"""The provider interface: one small Protocol, one result type, one error type.

Providers are transports: they know nothing of Django models, Celery or HTTP views. They take plain
values (messages, system prompt, model, params) and return a ``Completion`` or raise ``ProviderError``;
the caller (services/generation.py) decides what a failure means and owns every retry.

Keys come only from the environment (or a ``NAME_FILE`` holding it); they are read at call time and
never stored, logged or put into an error message.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from annotate.models import Generator


@dataclass(frozen=True)
class Completion:
    text: str
    stop_reason: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    request_id: str = ""
    latency_ms: int = 0
    model: str = ""


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


class Provider(Protocol):
    def complete(
        self,
        *,
        messages: list[dict[str, str]],
        system: str,
        model: str,
        params: dict[str, Any],
        sample_index: int = 0,
    ) -> Completion: ...


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
            f"and the Celery workers to generate with {what}.",
            retryable=False,
        )
    return key


_clients: dict[tuple, Provider] = {}
_clients_lock = threading.Lock()


def _cached(key: tuple, build: Callable[[], Provider]) -> Provider:
    """One SDK client per (provider, key, endpoint, timeout) per process: its connection pool is
    reused across calls (a fresh client per call would pay a TCP handshake each time). The key is
    part of the cache key, so rotating it in the environment takes effect at the next call."""
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            if len(_clients) > 64:
                _clients.clear()
            client = _clients[key] = build()
        return client


def provider_for(generator: Generator) -> Provider:
    """Build the transport for a generator. SDK imports stay inside so the demo needs neither."""
    from django.conf import settings

    kind = generator.provider
    timeout = float(generator.params.get("timeout", settings.PROVIDER_TIMEOUT_SECONDS))
    if kind == "anthropic":
        from annotate.providers.anthropic_api import AnthropicProvider

        key = require_key(generator.api_key_env or "ANTHROPIC_API_KEY", "Anthropic")
        base_url = settings.ANTHROPIC_BASE_URL or generator.base_url or None
        return _cached(
            (kind, key, base_url, timeout),
            lambda: AnthropicProvider(api_key=key, base_url=base_url, timeout=timeout),
        )
    if kind == "openai_compatible":
        from annotate.providers.openai_compat import OpenAICompatProvider

        if not generator.base_url and not generator.api_key_env:
            raise ProviderError(
                "This OpenAI-compatible generator has no base URL (e.g. http://localhost:8000/v1 "
                "for vLLM) and no API key variable.",
                retryable=False,
            )
        # Local servers (vLLM, Ollama, llama.cpp) need no key; the SDK insists on a string.
        key = (
            require_key(generator.api_key_env, "this OpenAI-compatible server")
            if generator.api_key_env
            else "none"
        )
        base_url = generator.base_url or None
        return _cached(
            (kind, key, base_url, timeout),
            lambda: OpenAICompatProvider(api_key=key, base_url=base_url, timeout=timeout),
        )
    if kind == "demo":
        from annotate.providers.demo import DemoProvider

        return DemoProvider()
    if kind == "imported":
        raise ProviderError(
            "Imported generators are not generated: their responses come from a file.",
            retryable=False,
        )
    raise ProviderError(f"Unknown provider {kind!r}.", retryable=False)
