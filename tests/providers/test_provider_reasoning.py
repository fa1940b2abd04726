"""Reasoning traces through the real SDKs against the fake server: Claude's extended thinking
(thinking blocks, the budget, usage; non-streaming, streaming, Message Batches) and an
OpenAI-compatible server's reasoning_content, <think> blocks and chain-of-thought prompt."""

from __future__ import annotations

import pytest

from annotate.providers.anthropic_api import REDACTED, AnthropicProvider
from annotate.providers.base import BatchRequest, Completion, ProviderError
from annotate.providers.openai_compat import COT_INSTRUCTION, OpenAICompatProvider, split_reasoning
from tests.fakes.fixtures import fake_server_fixture  # noqa: F401
from tests.fakes.provider_server import FakeProviderServer, answer_text, thinking_text

HELLO = [{"role": "user", "content": "What is 6 times 7?"}]
THINK = {"thinking": {"type": "enabled", "budget_tokens": 2048}, "max_tokens": 4096}


@pytest.fixture
def claude(fake_server) -> AnthropicProvider:
    return AnthropicProvider(api_key="sk-test", base_url=fake_server.url, timeout=2.0)


def test_it_keeps_claude_thinking_apart_from_the_reply(claude, fake_server):
    completion = claude.complete(messages=HELLO, system="", model="claude-sonnet-4-6", params=THINK)
    body = fake_server.requests[-1][2]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["max_tokens"] == 4096
    assert completion.reasoning == thinking_text(HELLO[0]["content"], 1)
    assert completion.text == answer_text("claude-sonnet-4-6", HELLO[0]["content"], 1)
    assert "<think" not in completion.text and "restate the question" not in completion.text
    # usage.output_tokens_details.thinking_tokens: the trace's words and its two delimiters,
    # inside output_tokens with the reply's.
    thought = len(completion.reasoning.split()) + 2
    assert completion.reasoning_tokens == thought
    assert completion.output_tokens == thought + len(completion.text.split())


def test_it_streams_only_the_reply_and_brings_the_trace_whole(claude, fake_server):
    items = list(claude.stream(messages=HELLO, system="", model="m", params=THINK))
    deltas, final = items[:-1], items[-1]
    assert isinstance(final, Completion)
    assert all(isinstance(d, str) for d in deltas) and len(deltas) > 1
    assert "".join(deltas) == final.text  # no thinking_delta reached the caller as text
    assert final.reasoning == thinking_text(HELLO[0]["content"], 1)
    assert final.reasoning_tokens == len(final.reasoning.split()) + 2
    assert final.output_tokens == final.reasoning_tokens + len(final.text.split())
    assert final.stop_reason == "end_turn"


def test_it_counts_thinking_tokens_when_the_trace_is_omitted_or_redacted(fake_server):
    omitted = {**THINK, "thinking": {**THINK["thinking"], "display": "omitted"}}
    claude = AnthropicProvider(api_key="sk-test", base_url=fake_server.url, timeout=2.0)
    completion = claude.complete(messages=HELLO, system="", model="m", params=omitted)
    assert completion.reasoning == ""
    assert completion.reasoning_tokens > 0  # paid for, though not shown
    fake_server.redact_thinking = True
    completion = claude.complete(messages=HELLO, system="", model="m", params=THINK)
    assert completion.reasoning.endswith(REDACTED)


@pytest.mark.parametrize(
    ("thinking", "max_tokens", "message"),
    [
        ({"type": "enabled", "budget_tokens": 512}, 4096, "greater than or equal to 1024"),
        ({"type": "enabled", "budget_tokens": 4096}, 2048, "must be greater than"),
    ],
)
def test_it_reports_a_budget_the_api_refuses_as_final(claude, thinking, max_tokens, message):
    with pytest.raises(ProviderError) as info:
        claude.complete(
            messages=HELLO,
            system="",
            model="m",
            params={"thinking": thinking, "max_tokens": max_tokens},
        )
    assert info.value.status == 400 and info.value.retryable is False
    assert message in info.value.message


def test_it_brings_thinking_back_from_message_batches(claude):
    batch_id = claude.batch_submit(
        [BatchRequest(custom_id="7", messages=HELLO, system="", model="m", params=THINK)]
    )
    [result] = list(claude.batch_results(batch_id))
    assert result.completion.reasoning.startswith("The user asks")
    assert result.completion.reasoning_tokens == len(result.completion.reasoning.split()) + 2


def test_it_has_no_reasoning_without_thinking(claude):
    completion = claude.complete(messages=HELLO, system="", model="m", params={})
    assert completion.reasoning == "" and completion.reasoning_tokens == 0


# --- OpenAI-compatible servers ---------------------------------------------------------------


@pytest.fixture
def vllm():
    server = FakeProviderServer(reasoning_field="reasoning_content").start()
    yield server
    server.stop()


def test_it_reads_reasoning_content_as_vllm_returns_it(vllm):
    client = OpenAICompatProvider(api_key="none", base_url=f"{vllm.url}/v1", timeout=2.0)
    completion = client.complete(messages=HELLO, system="", model="qwen3", params={})
    assert completion.reasoning == thinking_text(HELLO[0]["content"], 1)
    assert completion.text == answer_text("qwen3", HELLO[0]["content"], 1)
    assert completion.reasoning_tokens == len(completion.reasoning.split())
    two = client.complete_n(messages=HELLO, system="", model="qwen3", params={}, n=2)
    assert all(c.reasoning.startswith("The user asks") for c in two)
    assert all(0 < c.reasoning_tokens < c.output_tokens for c in two)


def test_it_streams_reasoning_content_apart_from_the_reply(vllm):
    client = OpenAICompatProvider(api_key="none", base_url=f"{vllm.url}/v1", timeout=2.0)
    items = list(client.stream(messages=HELLO, system="", model="qwen3", params={}))
    final = items[-1]
    assert "".join(items[:-1]) == final.text
    assert final.reasoning == thinking_text(HELLO[0]["content"], 0)
    assert final.reasoning_tokens == len(final.reasoning.split())


def test_it_asks_for_a_chain_of_thought_when_the_generator_says_cot(fake_server):
    client = OpenAICompatProvider(api_key="none", base_url=f"{fake_server.url}/v1", timeout=2.0)
    client.complete(messages=HELLO, system="Be brief.", model="llama", params={"reasoning": "cot"})
    body = fake_server.requests[-1][2]
    assert body["messages"][0] == {"role": "system", "content": f"Be brief.\n\n{COT_INSTRUCTION}"}
    assert "reasoning" not in body  # ours, not the API's


def test_it_splits_a_think_block_off_the_reply():
    assert split_reasoning("<think>\n6 x 7 = 42\n</think>\n\nAnswer: 42") == (
        "Answer: 42",
        "6 x 7 = 42",
    )
    assert split_reasoning("Answer: 42", "server trace") == ("Answer: 42", "server trace")
    assert split_reasoning("no <think>inside</think> here") == (
        "no <think>inside</think> here",
        "",
    )
