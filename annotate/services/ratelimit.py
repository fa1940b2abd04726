"""Per-account rate limits shared by all workers, for generation and the judge alike: token buckets
in database rows.

An account is one host with one key (``ProviderConfig.account``), so a campaign's generators and its
judge on the same endpoint share one budget, and so do two campaigns. Its limits are
``requests_per_minute`` and/or ``tokens_per_minute``, from (later wins) the deployment's
``settings.GENERATION_RATE_LIMITS = {"anthropic": {...}}`` by provider, the operator's endpoint
(PROVIDER_ENDPOINTS), and the generator's or judge's own params. Each bucket holds up to one minute's
allowance and refills continuously; ``ratelimit_take`` takes from it under ``SELECT … FOR UPDATE``
(a row lock held for a few statements) and says how long to wait when it is empty. The caller hands
its work back and re-runs after that wait, so a busy campaign queues politely instead of collecting
429s. Every call site uses it the same way::

    budget = ratelimit_take(config=config, params=params, calls=[(messages, system)])
    if budget.wait:
        ...hand the row back, retry in budget.wait...
    ...call the provider...
    budget.settle(used=completion.input_tokens + completion.output_tokens)

Tokens are estimated before the call (prompt characters / 4 + ``max_tokens``), the conservative side
of the provider's own accounting; ``settle`` returns the unused part once usage is known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotate.endpoints import operator_endpoints
from annotate.models import RateLimitBucket
from annotate.providers.base import ProviderConfig

DEFAULT_MAX_TOKENS = 1024
LIMITS = ("requests_per_minute", "tokens_per_minute")


def limits_for(config: ProviderConfig, params: dict[str, Any]) -> dict[str, float]:
    configured: dict[str, Any] = dict(
        getattr(settings, "GENERATION_RATE_LIMITS", {}).get(config.kind, {})
    )
    endpoint = operator_endpoints().get(config.endpoint) if config.endpoint else None
    for name in LIMITS:
        if endpoint is not None and getattr(endpoint, name):
            configured[name] = getattr(endpoint, name)
        if params.get(name):
            configured[name] = params[name]
    return {k: float(v) for k, v in configured.items() if k in LIMITS and v}


def estimate_tokens(*, messages: list[dict[str, Any]], system: str, params: dict[str, Any]) -> int:
    chars = len(system) + sum(len(str(m.get("content", ""))) for m in messages)
    return chars // 4 + int(params.get("max_tokens", DEFAULT_MAX_TOKENS))


# One call as the limiter sees it: its messages and its system prompt.
Call = tuple[list[dict[str, Any]], str]


def _estimate(calls: Sequence[Call], params: dict[str, Any]) -> int:
    return sum(estimate_tokens(messages=m, system=s, params=params) for m, s in calls)


def _take(key: str, *, per_minute: float, amount: float, force: bool = False) -> float:
    """Take ``amount`` from the bucket; 0 if granted, else seconds until it would be. ``force``
    takes it regardless (the bucket may go below zero, so the next callers wait for it)."""
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
        if amount < 0:  # tokens given back (settle): never more than the bucket holds
            tokens = min(per_minute, tokens - amount)
        elif force or tokens >= need:
            tokens -= amount
        else:
            wait = (need - tokens) / rate
        RateLimitBucket.objects.filter(id=bucket.id).update(tokens=tokens, updated_at=now)
    return wait


_BUCKETS = {"requests_per_minute": "rpm", "tokens_per_minute": "tpm"}


@dataclass
class Budget:
    """What one unit of work took from its account: ``wait`` > 0 means nothing was taken."""

    account: str
    limits: dict[str, float]
    params: dict[str, Any]
    estimated: int = 0
    wait: float = 0.0

    def _take(self, limit: str, amount: float, *, force: bool = False) -> float:
        if limit not in self.limits or not amount:
            return 0.0
        key = f"{self.account}|{_BUCKETS[limit]}"
        return _take(key, per_minute=self.limits[limit], amount=amount, force=force)

    def extend(self, *, calls: Sequence[Call]) -> None:
        """More calls for work already under way (a judge asking again after a malformed answer):
        taken without waiting, so the work is not abandoned half done."""
        tokens = _estimate(calls, self.params)
        self._take("requests_per_minute", len(calls), force=True)
        self._take("tokens_per_minute", tokens, force=True)
        self.estimated += tokens

    def settle(self, *, used: int) -> None:
        """Return the tokens estimated but not used (never takes more than was estimated)."""
        if self.estimated > used:
            self._take("tokens_per_minute", -(self.estimated - used))


def ratelimit_take(
    *,
    config: ProviderConfig,
    params: dict[str, Any],
    calls: Sequence[Call] = (),
    requests: int | None = None,
) -> Budget:
    """Take the budget of ``calls`` (each its messages and system prompt, ``params["max_tokens"]``
    of output) from the account of ``config``: ``budget.wait`` is 0 when the work may go now, else
    the seconds to wait before trying again (and nothing was taken). ``requests`` defaults to one
    per call."""
    budget = Budget(account=config.account, limits=limits_for(config, params), params=params)
    if not budget.limits:
        return budget
    requests = len(calls) if requests is None else requests
    tokens = _estimate(calls, params)
    wait = budget._take("requests_per_minute", requests)
    if wait == 0:
        wait = budget._take("tokens_per_minute", tokens)
        if wait:  # give the request slots back
            budget._take("requests_per_minute", -requests)
    budget.wait = round(wait, 3)
    budget.estimated = 0 if wait else tokens
    return budget
