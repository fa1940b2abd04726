"""The fake provider's paced, stamped streams (tokens_per_second, stamp_tokens), which the live
benchmark measures the relay with: one delta per 1/rate seconds, numbered and timed as written,
through both real SDKs."""

from __future__ import annotations

import time

import pytest

from annotate.providers.anthropic_api import AnthropicProvider
from annotate.providers.base import Completion
from annotate.providers.openai_compat import OpenAICompatProvider
from tests.fakes.provider_server import FakeProviderServer


@pytest.mark.parametrize("provider", [AnthropicProvider, OpenAICompatProvider])
def test_it_streams_numbered_stamped_deltas_at_the_rate(provider):
    with FakeProviderServer(tokens_per_second=50, stamp_tokens=6) as server:
        base = server.url if provider is AnthropicProvider else f"{server.url}/v1"
        client = provider(api_key="k", base_url=base, timeout=10)
        received = []
        for item in client.stream(
            messages=[{"role": "user", "content": "hi"}],
            system="",
            model="m",
            params={"max_tokens": 100},
        ):
            if not isinstance(item, Completion):
                received.append((item, time.time()))
    numbers = [int(text.partition("@")[0]) for text, _ in received]
    stamps = [float(text.strip().partition("@")[2]) for text, _ in received]
    assert numbers == list(range(6))
    assert all(stamp <= at for stamp, (_, at) in zip(stamps, received, strict=True))
    # Paced from the first delta: the i-th is written no earlier than i/50 s after it.
    assert all(s - stamps[0] >= i / 50 - 0.002 for i, s in enumerate(stamps))
    assert len(server.first_token_seconds) == 1
