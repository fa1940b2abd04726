"""Token prices and cost. Admin-edited ``ModelPrice`` rows win; otherwise defaults kept in code.

Defaults are USD per million tokens from the providers' public price lists at the time of writing;
they are a starting point, not a source of truth: edit them in the back office (ModelPrice) when a
price changes. Models are matched by exact name first, then by the longest known prefix, so dated
names (``claude-sonnet-4-5-20250929``) find their family. Unknown models cost 0 and say so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal

from annotate.models import ModelPrice

MTOK = Decimal(1_000_000)


@dataclass(frozen=True)
class Price:
    input: Decimal
    output: Decimal
    cache_write: Decimal
    cache_read: Decimal
    batch_discount: Decimal = Decimal("0.5")
    known: bool = True


def _p(inp: str, out: str, batch: str = "0.5") -> Price:
    i = Decimal(inp)
    # Anthropic: 5-minute cache writes cost 1.25x input, cache reads 0.1x input.
    return Price(i, Decimal(out), i * Decimal("1.25"), i * Decimal("0.1"), Decimal(batch))


DEFAULT_PRICES: dict[tuple[str, str], Price] = {
    ("anthropic", "claude-opus-4-1"): _p("15", "75"),
    ("anthropic", "claude-opus-4"): _p("5", "25"),  # Opus 4.5 / 4.6
    ("anthropic", "claude-sonnet-4"): _p("3", "15"),  # Sonnet 4, 4.5, 4.6
    ("anthropic", "claude-3-7-sonnet"): _p("3", "15"),
    ("anthropic", "claude-haiku-4"): _p("1", "5"),
    ("anthropic", "claude-3-5-haiku"): _p("0.8", "4"),
    ("openai_compatible", "gpt-4o-mini"): _p("0.15", "0.6"),
    ("openai_compatible", "gpt-4o"): _p("2.5", "10"),
    ("openai_compatible", "gpt-4.1-nano"): _p("0.1", "0.4"),
    ("openai_compatible", "gpt-4.1-mini"): _p("0.4", "1.6"),
    ("openai_compatible", "gpt-4.1"): _p("2", "8"),
}
FREE = Price(Decimal(0), Decimal(0), Decimal(0), Decimal(0), Decimal("1"), known=False)


_CACHE_SECONDS = 30.0
_cache: dict[tuple, tuple[float, Price]] = {}


def price_for(*, provider: str, model: str, cached_for: tuple | None = None) -> Price:
    """The price of a model. With ``cached_for`` (the workers, which write many responses a second:
    ``("job", id)`` for a generation job, ``("generator", id)`` for live replies) the row is read
    once per key per worker process and re-read after 30 s, so a price is fixed for a job's life
    unless an admin edits it mid-job, and an edit reaches live replies within 30 s; without, the
    table is read every time."""
    if cached_for is None:
        return _lookup(provider=provider, model=model)
    key = (*cached_for, provider, model)
    hit = _cache.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < _CACHE_SECONDS:
        return hit[1]
    if len(_cache) > 1000:
        _cache.clear()
    price = _lookup(provider=provider, model=model)
    _cache[key] = (now, price)
    return price


def price_cache_clear() -> None:
    _cache.clear()


def _lookup(*, provider: str, model: str) -> Price:
    row = ModelPrice.objects.filter(provider=provider, model=model).first()
    if row is not None:
        return Price(
            row.input_per_mtok,
            row.output_per_mtok,
            row.cache_write_per_mtok,
            row.cache_read_per_mtok,
            row.batch_discount,
        )
    if provider == "demo":
        return Price(Decimal(0), Decimal(0), Decimal(0), Decimal(0))
    matches = [
        (len(prefix), price)
        for (prov, prefix), price in DEFAULT_PRICES.items()
        if prov == provider and model.startswith(prefix)
    ]
    return max(matches, key=lambda m: m[0])[1] if matches else FREE


def cost_usd(
    *,
    price: Price,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
    batch: bool = False,
) -> Decimal:
    total = (
        price.input * input_tokens
        + price.output * output_tokens
        + price.cache_write * cache_write_tokens
        + price.cache_read * cache_read_tokens
    ) / MTOK
    if batch:
        total *= price.batch_discount
    return total.quantize(Decimal("0.000001"))
