"""The real `openai` SDK against the fake server's /v1/chat/completions."""

from __future__ import annotations

import pytest

from annotate.providers.base import (
    ProviderConfig,
    ProviderError,
    Unsupported,
    provider_for,
)
from annotate.providers.openai_compat import OpenAICompatProvider
from tests.fakes.fixtures import fake_server_fixture  # noqa: F401
from tests.fakes.judge_server import JudgeFakeServer
from tests.providers import contract

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
    contract.check_completion(completion, model="llama-3-8b")
    assert completion.stop_reason == "stop"
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
    with pytest.raises(Unsupported) as info:
        provider.complete_n(messages=HELLO, system="", model="m", params={}, n=2)
    assert info.value.retryable is False and "Only one completion choice" in info.value.message


@pytest.mark.parametrize(
    ("fault", "retryable"), [("429", True), ("500", True), ("401", False), ("404", False)]
)
def test_it_maps_errors_to_retryable_or_not(provider, fake_server, fault, retryable):
    fake_server.add_faults(fault)
    with pytest.raises(ProviderError) as info:
        provider.complete(messages=HELLO, system="", model="m", params={})
    assert info.value.retryable is retryable
    assert fake_server.calls_to("/v1/chat/completions") == 1


def test_it_streams_chunks_until_done_with_the_usage_of_the_last_chunk(provider, fake_server):
    items = list(
        provider.stream(messages=HELLO, system="Be terse.", model="llama", params={"seed": 1})
    )
    final = contract.check_stream(items, model="llama")
    assert len(items) > 4 and final.stop_reason == "stop" and final.model == "llama"
    assert final.input_tokens > 0 and final.output_tokens == len(final.text.split())
    assert final.request_id.startswith("req_")
    body = fake_server.requests[-1][2]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_it_needs_a_base_url_and_a_key_that_is_set(monkeypatch):
    with pytest.raises(ProviderError, match="no base URL"):
        provider_for(ProviderConfig(kind="openai_compatible"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ProviderError, match="OPENAI_API_KEY is not set"):
        provider_for(
            ProviderConfig(
                kind="openai_compatible", base_url="http://127.0.0.1:9/v1", key_env="OPENAI_API_KEY"
            )
        )


def test_it_sends_no_key_from_the_environment_to_a_server_without_one(monkeypatch, fake_server):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-secret")
    provider = provider_for(
        ProviderConfig(kind="openai_compatible", base_url=f"{fake_server.url}/v1")
    )
    provider.complete(messages=HELLO, system="", model="m", params={})
    assert fake_server.secrets_seen("sk-openai-secret") == set()
    assert fake_server.auth_seen[-1][1] == "Bearer none"


def test_it_judges_by_a_forced_function_call():
    with JudgeFakeServer() as server:
        provider = OpenAICompatProvider(api_key="none", base_url=f"{server.url}/v1", timeout=1)
        contract.check_judge_reply(provider.judge(contract.judge_call("llama-judge")))
    body = server.requests[-1][2]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "record_verdict"}}


def test_it_calls_no_server_without_a_key_while_the_sdk_would_add_custom_headers(monkeypatch):
    monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", "Authorization: Bearer sk-operator")
    with pytest.raises(ProviderError, match="OPENAI_CUSTOM_HEADERS is set") as info:
        provider_for(ProviderConfig(kind="openai_compatible", base_url="http://127.0.0.1:9/v1"))
    assert info.value.retryable is False
