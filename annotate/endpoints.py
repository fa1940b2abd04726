"""The operator's endpoints: which key variable may be sent to which base URL.

Secrets belong to the operator. The environment names the endpoints (``PROVIDER_ENDPOINTS``, a JSON
object), each pairing one base URL with the variable holding its key::

    {"vllm": {"provider": "openai_compatible", "base_url": "http://gpu1:8000/v1",
              "key_env": "VLLM_API_KEY", "requests_per_minute": 600}}

An admin picks an endpoint by name for a generator or the judge and never names a variable; a key
goes only to its own endpoint's base URL. A base URL an admin types gets no key at all (a local
vLLM or Ollama without one). ``anthropic`` is always there: ANTHROPIC_API_KEY to Anthropic's API,
or to ANTHROPIC_BASE_URL when the operator set it, so the demo needs nothing more (an entry named
``anthropic`` in PROVIDER_ENDPOINTS replaces it).

``target_errors`` is the rule. The models check it in ``clean()`` (so the pages, the API, the commands
and the back office refuse alike, naming the field), and ``provider_config`` checks it again in the
worker when it builds the transport: a row stored before the rule, or edited by hand, still cannot
send a secret anywhere else.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError

from annotate.providers.base import (
    ANTHROPIC_API_URL,
    Provider,
    ProviderConfig,
    ProviderError,
    provider_for,
)

if TYPE_CHECKING:
    from annotate.models import Generator, JudgeConfig

DEFAULT = "anthropic"  # the implicit endpoint: ANTHROPIC_API_KEY to Anthropic's API
KINDS = ("anthropic", "openai_compatible")  # providers that call out (the demo calls nothing)
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_FIELDS = {"provider", "base_url", "key_env", "requests_per_minute", "tokens_per_minute"}


@dataclass(frozen=True)
class Endpoint:
    name: str
    provider: str  # anthropic | openai_compatible
    base_url: str
    key_env: str = ""  # "" for a named endpoint that needs no key
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None

    @property
    def label(self) -> str:
        return f"{self.name} — {self.base_url}"


def _url_ok(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def parse_endpoints(raw: str) -> dict[str, Endpoint]:
    """The endpoints of ``PROVIDER_ENDPOINTS``; a mistake raises ImproperlyConfigured naming it."""
    if not raw.strip():
        return {}

    def bad(message: str) -> ImproperlyConfigured:
        return ImproperlyConfigured(f"PROVIDER_ENDPOINTS: {message}")

    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise bad(f"not valid JSON ({exc.msg}, column {exc.colno}).") from None
    if not isinstance(data, dict):
        raise bad('give a JSON object of endpoints, e.g. {"vllm": {...}}.')
    endpoints = {}
    for name, entry in data.items():
        if not NAME.match(name):
            raise bad(f"{name!r} is not an endpoint name (letters, digits, '-', '_', '.').")
        if not isinstance(entry, dict):
            raise bad(f"{name}: give an object with provider, base_url and key_env.")
        unknown = sorted(set(entry) - _FIELDS)
        if unknown:
            raise bad(
                f"{name}: unknown field {unknown[0]!r} (known: {', '.join(sorted(_FIELDS))})."
            )
        provider = entry.get("provider")
        if provider not in KINDS:
            raise bad(f"{name}: provider must be one of {', '.join(KINDS)}.")
        base_url = entry.get("base_url")
        if not isinstance(base_url, str) or not _url_ok(base_url):
            raise bad(f"{name}: base_url must be an http(s) URL.")
        key_env = entry.get("key_env") or ""
        if not isinstance(key_env, str) or (key_env and not ENV_NAME.match(key_env)):
            raise bad(f"{name}: key_env must name an environment variable, e.g. VLLM_API_KEY.")
        if provider == "anthropic" and not key_env:
            raise bad(f"{name}: an Anthropic endpoint needs key_env.")
        limits = {}
        for field in ("requests_per_minute", "tokens_per_minute"):
            value = entry.get(field)
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                    raise bad(f"{name}: {field} must be a positive number.")
                limits[field] = float(value)
        endpoints[name] = Endpoint(
            name=name, provider=provider, base_url=base_url, key_env=key_env, **limits
        )
    return endpoints


@functools.lru_cache(maxsize=8)
def _endpoints(raw: str, anthropic_base_url: str) -> dict[str, Endpoint]:
    implicit = Endpoint(
        name=DEFAULT, provider="anthropic", base_url=anthropic_base_url, key_env="ANTHROPIC_API_KEY"
    )
    return {DEFAULT: implicit, **parse_endpoints(raw)}


def operator_endpoints() -> dict[str, Endpoint]:
    """Every endpoint an admin may pick, by name, as the settings say now (read-only)."""
    return _endpoints(
        getattr(settings, "PROVIDER_ENDPOINTS", "") or "",
        settings.ANTHROPIC_BASE_URL or ANTHROPIC_API_URL,
    )


def endpoint_choices(provider: str | None = None) -> list[tuple[str, str]]:
    """(name, label) of the endpoints for a provider (all of them for None), for selects."""
    return [
        (e.name, e.label)
        for e in operator_endpoints().values()
        if provider is None or e.provider == provider
    ]


def target_normalized(*, provider: str, endpoint: str, base_url: str) -> tuple[str, str]:
    """Fill what an admin may leave out: an Anthropic generator with no endpoint uses the default
    one; the demo and imported generators call nothing, so they keep neither."""
    if provider not in KINDS:
        return "", ""
    if provider == "anthropic" and not endpoint and not base_url:
        return DEFAULT, ""
    return endpoint, base_url


def target_errors(*, provider: str, endpoint: str, base_url: str) -> dict[str, str]:
    """Field -> message for every way (provider, endpoint, base URL) breaks the rule; {} if none.
    The rule: a key travels only with its endpoint; a typed base URL gets no key."""
    if provider not in KINDS:
        return {}
    endpoints = operator_endpoints()
    names = ", ".join(n for n, e in endpoints.items() if e.provider == provider) or "none"
    if endpoint:
        chosen = endpoints.get(endpoint)
        if chosen is None or chosen.provider != provider:
            return {
                "endpoint": f"{endpoint!r} is not an endpoint the operator configured for "
                f"{provider} (PROVIDER_ENDPOINTS); choose one of: {names}."
            }
        if base_url:
            return {
                "base_url": f"Leave the base URL empty: endpoint {endpoint!r} sends its key to "
                f"{chosen.base_url} and nowhere else."
            }
        return {}
    if provider == "anthropic":
        return {
            "base_url": "An Anthropic generator or judge sends the operator's key, so it goes only "
            f"to an endpoint the operator configured: leave this empty and choose one of: {names}."
        }
    if not base_url:
        return {
            "endpoint": f"Choose an endpoint ({names}) or type the base URL of a server that "
            "needs no key."
        }
    if not _url_ok(base_url):
        return {"base_url": "Give an http(s) URL, e.g. http://localhost:8000/v1."}
    return {}


def target_validated(*, provider: str, endpoint: str, base_url: str) -> tuple[str, str]:
    """(endpoint, base URL) normalized, or ValidationError naming each field that breaks the rule:
    what the models' ``clean()`` calls."""
    endpoint, base_url = target_normalized(provider=provider, endpoint=endpoint, base_url=base_url)
    errors = target_errors(provider=provider, endpoint=endpoint, base_url=base_url)
    if errors:
        raise ValidationError(errors)
    return endpoint, base_url


def check_endpoints(app_configs: Any = None, **kwargs: Any) -> list:
    """A system check (``manage.py check``, ``migrate``, ``runserver``): a broken
    PROVIDER_ENDPOINTS is reported at start, not at the first call."""
    from django.core import checks

    try:
        operator_endpoints()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="annotate.E001")]
    return []


def provider_config(
    *, provider: str, endpoint: str, base_url: str, params: dict[str, Any] | None
) -> ProviderConfig:
    """The transport's config for a stored target, checked again here (the worker's last word):
    refused targets raise a ProviderError that fails the work visibly instead of sending a key."""
    if provider == "imported":
        raise ProviderError(
            "Imported generators are not generated: their responses come from a file.",
            retryable=False,
        )
    params = params or {}
    try:
        timeout = float(params.get("timeout", settings.PROVIDER_TIMEOUT_SECONDS))
    except (TypeError, ValueError):
        raise ProviderError(
            "params.timeout must be a number of seconds.", retryable=False
        ) from None
    if provider not in KINDS:
        return ProviderConfig(kind=provider, timeout=timeout)
    endpoint, base_url = target_normalized(provider=provider, endpoint=endpoint, base_url=base_url)
    try:
        errors = target_errors(provider=provider, endpoint=endpoint, base_url=base_url)
    except ImproperlyConfigured as exc:
        raise ProviderError(str(exc), retryable=False) from None
    if errors:
        raise ProviderError(
            "Refused before sending: " + "; ".join(f"{k}: {v}" for k, v in errors.items()),
            retryable=False,
        )
    if endpoint:
        chosen = operator_endpoints()[endpoint]
        return ProviderConfig(
            kind=provider,
            base_url=chosen.base_url,
            key_env=chosen.key_env or None,
            timeout=timeout,
            endpoint=chosen.name,
        )
    return ProviderConfig(kind=provider, base_url=base_url, timeout=timeout)


def generator_provider_config(generator: Generator) -> ProviderConfig:
    return provider_config(
        provider=generator.provider,
        endpoint=generator.endpoint,
        base_url=generator.base_url,
        params=generator.params,
    )


def judge_provider_config(config: JudgeConfig) -> ProviderConfig:
    return provider_config(
        provider=config.provider,
        endpoint=config.endpoint,
        base_url=config.base_url,
        params=config.params,
    )


def generator_provider(generator: Generator) -> Provider:
    return provider_for(generator_provider_config(generator))


def judge_provider(config: JudgeConfig) -> Provider:
    return provider_for(judge_provider_config(config))
