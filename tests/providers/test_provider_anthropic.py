"""The real Anthropic SDK against the fake server: success, every fault, and the key rules."""

from __future__ import annotations

import time

import pytest

from annotate.providers.anthropic_api import AnthropicProvider
from annotate.providers.base import (
    BatchRequest,
    ProviderConfig,
    ProviderError,
    provider_for,
)
from tests.fakes.fixtures import fake_server_fixture  # noqa: F401
from tests.fakes.judge_server import JudgeFakeServer
from tests.fakes.provider_server import FakeProviderServer
from tests.providers import contract

HELLO = [{"role": "user", "content": "What is a haiku?"}]


@pytest.fixture
def provider(fake_server) -> AnthropicProvider:
    return AnthropicProvider(api_key="sk-test", base_url=fake_server.url, timeout=0.5)


def test_it_returns_text_usage_stop_reason_and_request_id(provider, fake_server):
    completion = provider.complete(
        messages=HELLO, system="Be brief.", model="claude-sonnet-4-6", params={"temperature": 0.7}
    )
    contract.check_completion(completion, model="claude-sonnet-4-6")
    assert "Here is a short answer" in completion.text
    assert completion.stop_reason == "end_turn"
    assert completion.input_tokens > 0 and completion.output_tokens > 0
    assert completion.request_id.startswith("req_")
    assert completion.model == "claude-sonnet-4-6"
    method, path, body = fake_server.requests[-1]
    assert (method, path) == ("POST", "/v1/messages")
    assert body["system"] == "Be brief."
    assert body["temperature"] == 0.7
    assert body["max_tokens"] == 1024
    assert body["messages"] == HELLO


def test_it_sends_multi_turn_messages_and_stop_sequences(provider, fake_server):
    turns = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Tell me a joke"},
    ]
    provider.complete(
        messages=turns,
        system="",
        model="m",
        params={"stop": "END", "max_tokens": 50, "latency_ms": 3},
    )
    body = fake_server.requests[-1][2]
    assert body["messages"] == turns
    assert body["stop_sequences"] == ["END"]
    assert body["max_tokens"] == 50
    assert "system" not in body and "latency_ms" not in body  # our own params never reach the API


@pytest.mark.parametrize(
    ("fault", "status"),
    [("429", 429), ("529", 529), ("500", 500), ("malformed", None), ("drop", None)],
)
def test_it_marks_transient_faults_retryable_after_exactly_one_call(
    provider, fake_server, fault, status
):
    fake_server.add_faults(fault)
    with pytest.raises(ProviderError) as info:
        provider.complete(messages=HELLO, system="", model="m", params={})
    assert info.value.retryable is True
    assert info.value.status == status
    # max_retries=0: the SDK did not retry behind our back.
    assert fake_server.calls_to("/v1/messages") == 1


def test_it_reads_retry_after_from_a_429(provider, fake_server):
    fake_server.retry_after = 7
    fake_server.add_faults("429")
    with pytest.raises(ProviderError) as info:
        provider.complete(messages=HELLO, system="", model="m", params={})
    assert info.value.retry_after == 7.0
    assert "rate_limit_error" in info.value.message


def test_it_times_out_a_slow_response_as_retryable(provider, fake_server):
    fake_server.add_faults("slow")
    started = time.monotonic()
    with pytest.raises(ProviderError) as info:
        provider.complete(messages=HELLO, system="", model="m", params={})
    assert info.value.retryable is True
    assert "timed out" in info.value.message
    assert time.monotonic() - started < 1.4  # gave up at the client timeout, not the server's pace


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("400", "invalid_request_error"),
        ("401", "authentication_error"),
        ("403", "permission_error"),
        ("404", "not_found_error"),
    ],
)
def test_it_fails_client_errors_at_once_with_the_api_message(provider, fake_server, fault, kind):
    fake_server.add_faults(fault)
    with pytest.raises(ProviderError) as info:
        provider.complete(messages=HELLO, system="", model="claude-nope", params={})
    assert info.value.retryable is False
    assert info.value.retry_after is None
    assert kind in info.value.message
    assert info.value.request_id.startswith("req_")
    assert fake_server.calls_to("/v1/messages") == 1


def test_it_reports_an_unknown_model_by_name():
    with FakeProviderServer(known_models={"claude-sonnet-4-6"}) as server:
        provider = AnthropicProvider(api_key="k", base_url=server.url, timeout=1)
        with pytest.raises(ProviderError) as info:
            provider.complete(messages=HELLO, system="", model="claude-imaginary-9", params={})
    assert info.value.retryable is False
    assert "claude-imaginary-9" in info.value.message


def test_it_submits_a_batch_and_maps_every_result_back_by_custom_id(provider, fake_server):
    fake_server.batch_item_rule = lambda cid, params: {
        "b": "errored_529",
        "c": "expired",
        "d": "errored_400",
    }.get(cid)
    requests = [
        BatchRequest(
            custom_id=cid, messages=[{"role": "user", "content": f"q {cid}"}], system="", model="m"
        )
        for cid in "abcd"
    ]
    batch_id = provider.batch_submit(requests)
    status = provider.batch_status(batch_id)
    contract.check_batch_status(status)
    assert status.ended
    assert status.counts == {
        "processing": 0,
        "succeeded": 1,
        "errored": 2,
        "canceled": 0,
        "expired": 1,
    }
    results = {r.custom_id: r for r in provider.batch_results(batch_id)}
    assert "q a" in results["a"].completion.text
    assert results["b"].error.retryable and "overloaded_error" in results["b"].error.message
    assert results["c"].kind == "expired" and results["c"].error.retryable
    assert (
        not results["d"].error.retryable and "invalid_request_error" in results["d"].error.message
    )


def test_it_reports_a_batch_still_in_progress(fake_server):
    fake_server.batch_ready_after = 60
    provider = AnthropicProvider(api_key="k", base_url=fake_server.url, timeout=1)
    batch_id = provider.batch_submit(
        [BatchRequest(custom_id="1", messages=HELLO, system="", model="m")]
    )
    assert provider.batch_status(batch_id).ended is False
    provider.batch_cancel(batch_id)
    assert [r.kind for r in provider.batch_results(batch_id)] == ["canceled"]


def test_it_judges_by_forced_tool_use_with_the_rubric_cached():
    with JudgeFakeServer(min_cache_tokens=1) as server:
        provider = AnthropicProvider(api_key="k", base_url=server.url, timeout=1)
        contract.check_judge_reply(provider.judge(contract.judge_call("claude-sonnet-4-6")))
    body = server.requests[-1][2]
    assert body["tool_choice"] == {"type": "tool", "name": "record_verdict"}
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}


# --- streaming (SSE through the real SDK) ---


def test_it_streams_text_deltas_then_one_completion(provider, fake_server):
    items = list(
        provider.stream(
            messages=HELLO, system="Be brief.", model="claude-sonnet-4-6", params={"top_k": 5}
        )
    )
    final = contract.check_stream(items, model="claude-sonnet-4-6")
    assert len(items) > 4 and "Here is a short answer" in final.text
    assert final.stop_reason == "end_turn"
    assert final.input_tokens > 0 and final.output_tokens == len(final.text.split())
    assert final.request_id.startswith("req_") and final.model == "claude-sonnet-4-6"
    body = fake_server.requests[-1][2]
    assert body["stream"] is True and body["top_k"] == 5 and body["system"] == "Be brief."


def test_it_maps_a_stream_broken_off_by_an_error_event_to_a_retryable_error(provider, fake_server):
    fake_server.add_faults("stream_error")
    received = []
    with pytest.raises(ProviderError) as info:
        for item in provider.stream(messages=HELLO, system="", model="m", params={}):
            received.append(item)
    assert info.value.retryable is True and "overloaded_error" in info.value.message
    assert len(received) == 1  # the delta that came before the error, and no Completion


def test_it_fails_a_stream_refused_at_the_start_like_a_call(provider, fake_server):
    fake_server.add_faults("401")
    with pytest.raises(ProviderError) as info:
        list(provider.stream(messages=HELLO, system="", model="m", params={}))
    assert info.value.retryable is False and info.value.status == 401


# --- keys come from the environment only ---


def test_it_refuses_to_build_without_a_key(monkeypatch, fake_server):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY_FILE", raising=False)
    config = ProviderConfig(kind="anthropic", base_url=fake_server.url, key_env="ANTHROPIC_API_KEY")
    with pytest.raises(ProviderError) as info:
        provider_for(config)
    assert info.value.retryable is False
    assert info.value.message.startswith("ANTHROPIC_API_KEY is not set")


def test_it_reads_the_key_from_a_file_and_sends_that_key_alone(monkeypatch, tmp_path, fake_server):
    keyfile = tmp_path / "key"
    keyfile.write_text("sk-from-file\n")
    monkeypatch.setenv("TEAM_KEY_FILE", str(keyfile))
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "sk-other-token")  # never picked up on its own
    provider = provider_for(
        ProviderConfig(kind="anthropic", base_url=fake_server.url, key_env="TEAM_KEY")
    )
    assert provider.client.max_retries == 0
    provider.complete(messages=HELLO, system="", model="m", params={})
    assert fake_server.secrets_seen("sk-from-file", "sk-other-token") == {"sk-from-file"}


def test_it_never_puts_the_key_in_an_error(monkeypatch, fake_server):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-secret-123")
    fake_server.add_faults("401")
    config = ProviderConfig(kind="anthropic", base_url=fake_server.url, key_env="ANTHROPIC_API_KEY")
    with pytest.raises(ProviderError) as info:
        provider_for(config).complete(messages=HELLO, system="", model="m", params={})
    assert "sk-secret-123" not in str(info.value)
