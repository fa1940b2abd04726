"""The real `openai` SDK against the fake server's /v1/chat/completions."""

from __future__ import annotations

import pytest

from annotate.models import Generator
from annotate.providers.base import ProviderError, provider_for
from annotate.providers.openai_compat import NSamplesUnsupported, OpenAICompatProvider
from tests.fakes.fixtures import fake_server_fixture  # noqa: F401

HELLO = [{"role": "user", "content": "Name a prime number."}]


@pytest.fixture
def provider(fake_server) -> OpenAICompatProvider:
    return OpenAICompatProvider(api_key="none", base_url=f"{fake_server.url}/v1", timeout=0.5)


def test_it_sends_the_system_prompt_as_a_message_and_reads_usage(provider, fake_server):
    completion = provider.complete(
        messages=HELLO,
        system="Answer briefly.",
        model="llama-3-8b",
        params={"temperature": 0.2, "seed": 7},
        sample_index=2,
    )
    assert completion.text and completion.stop_reason == "stop"
    assert completion.input_tokens > 0 and completion.output_tokens > 0
    body = fake_server.requests[-1][2]
    assert body["messages"][0] == {"role": "system", "content": "Answer briefly."}
    assert body["temperature"] == 0.2
    assert body["seed"] == 9  # a different seed per sample


def test_it_asks_for_several_samples_with_n(provider, fake_server):
    completions = provider.complete_n(messages=HELLO, system="", model="m", params={}, n=3)
    assert len(completions) == 3 and len({c.text for c in completions}) == 3
    assert fake_server.calls_to("/v1/chat/completions") == 1
    assert completions[0].input_tokens > 0 and completions[1].input_tokens == 0  # prompt paid once


def test_it_says_when_a_server_refuses_n(provider, fake_server):
    fake_server.support_n = False
    with pytest.raises(NSamplesUnsupported):
        provider.complete_n(messages=HELLO, system="", model="m", params={}, n=2)


@pytest.mark.parametrize(
    ("fault", "retryable"), [("429", True), ("500", True), ("401", False), ("404", False)]
)
def test_it_maps_errors_to_retryable_or_not(provider, fake_server, fault, retryable):
    fake_server.add_faults(fault)
    with pytest.raises(ProviderError) as info:
        provider.complete(messages=HELLO, system="", model="m", params={})
    assert info.value.retryable is retryable
    assert fake_server.calls_to("/v1/chat/completions") == 1


def test_it_needs_a_base_url_or_a_key(monkeypatch):
    with pytest.raises(ProviderError, match="no base URL"):
        provider_for(Generator(provider="openai_compatible", model="m"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ProviderError, match="OPENAI_API_KEY is not set"):
        provider_for(
            Generator(provider="openai_compatible", model="gpt-4o", api_key_env="OPENAI_API_KEY")
        )
