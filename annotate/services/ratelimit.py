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
        if force or tokens >= need:
            tokens -= amount
        else:
            wait = (need - tokens) / rate
        RateLimitBucket.objects.filter(id=bucket.id).update(tokens=tokens, updated_at=now)
    return wait


@dataclass
class Budget:
    """What one unit of work took from its account: ``wait`` > 0 means nothing was taken."""

    account: str
    limits: dict[str, float]
    params: dict[str, Any]
    estimated: int = 0
    wait: float = 0.0

    def extend(self, *, calls: Sequence[Call]) -> None:
        """More calls for work already under way (a judge asking again after a malformed answer):
        taken without waiting, so the work is not abandoned half done."""
        requests, tokens = len(calls), _estimate(calls, self.params)
        if "requests_per_minute" in self.limits and requests:
            _take(
                f"{self.account}|rpm",
                per_minute=self.limits["requests_per_minute"],
                amount=requests,
                force=True,
            )
        if "tokens_per_minute" in self.limits and tokens:
            _take(
                f"{self.account}|tpm",
                per_minute=self.limits["tokens_per_minute"],
                amount=tokens,
                force=True,
            )
            self.estimated += tokens

    def settle(self, *, used: int) -> None:
        """Return the tokens estimated but not used (never takes more than was estimated)."""
        if "tokens_per_minute" in self.limits and self.estimated > used:
            _take(
                f"{self.account}|tpm",
                per_minute=self.limits["tokens_per_minute"],
                amount=-(self.estimated - used),
            )


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
    limits = limits_for(config, params)
    requests = len(calls) if requests is None else requests
    tokens = _estimate(calls, params)
    budget = Budget(account=config.account, limits=limits, params=params, estimated=tokens)
    if not limits:
        return budget
    wait = 0.0
    if "requests_per_minute" in limits and requests:
        wait = _take(
            f"{budget.account}|rpm", per_minute=limits["requests_per_minute"], amount=requests
        )
    if wait == 0 and "tokens_per_minute" in limits and tokens:
        wait = _take(f"{budget.account}|tpm", per_minute=limits["tokens_per_minute"], amount=tokens)
        if wait and "requests_per_minute" in limits and requests:  # give the request slots back
            _take(
                f"{budget.account}|rpm", per_minute=limits["requests_per_minute"], amount=-requests
            )
    budget.wait = round(wait, 3)
    if budget.wait:
        budget.estimated = 0
    return budget
