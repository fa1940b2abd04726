"""Per-provider rate limits shared by all workers: token buckets in database rows.

A generator may set ``requests_per_minute`` and/or ``tokens_per_minute`` in its params (or the
deployment may set ``settings.GENERATION_RATE_LIMITS = {"anthropic": {"requests_per_minute": 50}}``).
Buckets are keyed by provider + endpoint + key variable, i.e. by the account whose limit it is, so two
campaigns on the same key share one budget. Each bucket holds up to one minute's allowance and refills
continuously; ``ratelimit_acquire`` takes from it under ``SELECT … FOR UPDATE`` (a row lock held for a
few statements) and returns how long to wait when it is empty. The caller hands its work back and
re-runs after that wait, so a busy campaign queues politely instead of collecting 429s.

Tokens are estimated before the call (prompt characters / 4 + ``max_tokens``), the conservative side
of the provider's own accounting; ``ratelimit_settle`` returns the unused part once usage is known.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotate.models import Generator, RateLimitBucket

DEFAULT_MAX_TOKENS = 1024


def limits_for(generator: Generator, params: dict[str, Any]) -> dict[str, float]:
    configured = dict(getattr(settings, "GENERATION_RATE_LIMITS", {}).get(generator.provider, {}))
    for name in ("requests_per_minute", "tokens_per_minute"):
        if params.get(name):
            configured[name] = float(params[name])
    return {k: float(v) for k, v in configured.items() if v}


def _account(generator: Generator) -> str:
    return f"{generator.provider}|{generator.base_url or '-'}|{generator.api_key_env or '-'}"


def estimate_tokens(*, messages: list[dict[str, Any]], system: str, params: dict[str, Any]) -> int:
    chars = len(system) + sum(len(str(m.get("content", ""))) for m in messages)
    return chars // 4 + int(params.get("max_tokens", DEFAULT_MAX_TOKENS))


def _take(key: str, *, per_minute: float, amount: float) -> float:
    """Take ``amount`` from the bucket; 0 if granted, else seconds until it would be."""
    rate = per_minute / 60.0
    now = timezone.now()
    with transaction.atomic():
        bucket = RateLimitBucket.objects.select_for_update().filter(key=key).first()
        if bucket is None:
            try:
                with transaction.atomic():
                    bucket = RateLimitBucket.objects.create(
                        key=key, tokens=per_minute, updated_at=now
                    )
            except IntegrityError:  # another worker created it first
                bucket = RateLimitBucket.objects.select_for_update().get(key=key)
        elapsed = max((now - bucket.updated_at).total_seconds(), 0.0)
        tokens = min(per_minute, bucket.tokens + elapsed * rate)
        # A single request bigger than the whole bucket may still go once the bucket is full.
        need = min(amount, per_minute)
        wait = 0.0
        if tokens >= need:
            tokens -= amount
        else:
            wait = (need - tokens) / rate
        RateLimitBucket.objects.filter(id=bucket.id).update(tokens=tokens, updated_at=now)
    return wait


def ratelimit_acquire(*, generator: Generator, params: dict[str, Any], tokens: int = 0) -> float:
    """0 when the call may go now; otherwise the seconds to wait before trying again."""
    limits = limits_for(generator, params)
    if not limits:
        return 0.0
    account = _account(generator)
    wait = 0.0
    if "requests_per_minute" in limits:
        wait = _take(f"{account}|rpm", per_minute=limits["requests_per_minute"], amount=1)
    if wait == 0 and "tokens_per_minute" in limits and tokens:
        wait = _take(f"{account}|tpm", per_minute=limits["tokens_per_minute"], amount=tokens)
        if wait and "requests_per_minute" in limits:  # give the request slot back
            _take(f"{account}|rpm", per_minute=limits["requests_per_minute"], amount=-1)
    return round(wait, 3)


def ratelimit_settle(
    *, generator: Generator, params: dict[str, Any], estimated: int, actual: int
) -> None:
    """Return the tokens estimated but not used (never takes more than was estimated)."""
    limits = limits_for(generator, params)
    if "tokens_per_minute" in limits and estimated > actual:
        _take(
            f"{_account(generator)}|tpm",
            per_minute=limits["tokens_per_minute"],
            amount=-(estimated - actual),
        )
