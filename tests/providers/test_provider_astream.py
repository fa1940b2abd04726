"""``astream``, the streams a live worker reads on its event loop (annotate/live/streamer.py): the
same deltas and the same Completion as ``stream``, and the same errors, through the real SDKs'
async clients against the fake server."""

from __future__ import annotations

import pytest

from annotate.providers.anthropic_api import AnthropicProvider
from annotate.providers.base import Completion, ProviderError
from annotate.providers.demo import DemoProvider
from annotate.providers.openai_compat import OpenAICompatProvider
from tests.async_run import run_async
from tests.fakes.fixtures import fake_server_fixture  # noqa: F401
from tests.fakes.provider_server import FakeProviderServer, thinking_text

HELLO = [{"role": "user", "content": "What is 6 times 7?"}]
THINK = {"thinking": {"type": "enabled", "budget_tokens": 2048}, "max_tokens": 4096}


def collect(stream) -> list:
    async def read():
        return [item async for item in stream]

    return run_async(read())


def _same(make, *, server: dict | None = None, **call) -> list:
    """``astream``'s items, checked against ``stream``'s for the same call, each made to a fake
    server of its own (the fake's answers change from one request to the next)."""
    found = []
    for read in (lambda p: list(p.stream(**call)), lambda p: collect(p.astream(**call))):
        fake = FakeProviderServer(**(server or {})).start()
        try:
            found.append(read(make(fake)))
        finally:
            fake.stop()
    threaded, looped = found
    assert looped[:-1] == threaded[:-1] and len(looped) > 3
    first, second = threaded[-1], looped[-1]
    assert isinstance(second, Completion)
    for field in ("text", "stop_reason", "input_tokens", "output_tokens", "model", "reasoning"):
        assert getattr(second, field) == getattr(first, field), field
    assert second.reasoning_tokens == first.reasoning_tokens
    assert "".join(looped[:-1]) == second.text
    return looped


def claude(fake) -> AnthropicProvider:
    return AnthropicProvider(api_key="sk-test", base_url=fake.url, timeout=2.0)


def openai_compatible(fake) -> OpenAICompatProvider:
    return OpenAICompatProvider(api_key="none", base_url=f"{fake.url}/v1", timeout=2.0)


def test_claude_streams_the_same_on_the_loop():
    items = _same(claude, messages=HELLO, system="Be brief.", model="m", params={"top_k": 5})
    assert items[-1].request_id.startswith("req_") and items[-1].stop_reason == "end_turn"


def test_claude_thinking_arrives_whole_in_the_completion_on_the_loop():
    items = _same(claude, messages=HELLO, system="", model="m", params=THINK)
    assert items[-1].reasoning == thinking_text(HELLO[0]["content"], 1)


def test_claude_errors_are_the_same_on_the_loop(fake_server):
    provider = claude(fake_server)
    fake_server.add_faults("stream_error")
    received = []

    async def read():
        async for item in provider.astream(messages=HELLO, system="", model="m", params={}):
            received.append(item)

    with pytest.raises(ProviderError) as info:
        run_async(read())
    assert info.value.retryable is True and "overloaded_error" in info.value.message
    assert len(received) == 1  # the delta before the error event, and no Completion
    fake_server.add_faults("401")
    with pytest.raises(ProviderError) as info:
        collect(provider.astream(messages=HELLO, system="", model="m", params={}))
    assert info.value.retryable is False and info.value.status == 401


def test_an_openai_compatible_server_streams_the_same_on_the_loop(fake_server):
    call = {"messages": HELLO, "system": "Be terse.", "model": "llama", "params": {"seed": 1}}
    items = _same(openai_compatible, **call)
    assert items[-1].stop_reason == "stop" and items[-1].request_id.startswith("req_")
    server = openai_compatible(fake_server)
    collect(server.astream(**call))
    assert fake_server.requests[-1][2]["stream_options"] == {"include_usage": True}
    fake_server.add_faults("500")
    with pytest.raises(ProviderError) as info:
        collect(server.astream(**call))
    assert info.value.retryable is True


def test_vllm_reasoning_content_stays_out_of_the_reply_on_the_loop():
    vllm = {"reasoning_field": "reasoning_content"}
    items = _same(openai_compatible, server=vllm, messages=HELLO, system="", model="q", params={})
    assert items[-1].reasoning == thinking_text(HELLO[0]["content"], 0)


def test_the_demo_streams_the_same_chunks_at_the_same_pace_on_the_loop():
    slept: list[float] = []
    awaited: list[float] = []

    async def asleep(seconds: float) -> None:
        awaited.append(seconds)

    params = {"tokens_per_second": 20, "latency_ms": 300}
    demo = DemoProvider(sleep=slept.append, asleep=asleep)
    items = _same(lambda _: demo, messages=HELLO, system="", model="demo-thorough", params=params)
    assert awaited == slept and awaited[0] == 0.3  # its latency, then one pause per chunk
    assert sum(awaited[1:]) == pytest.approx(len(items[-1].text.split()) / 20)


def test_a_claude_stream_cut_before_its_message_stop_is_an_error_not_a_reply():
    from annotate.providers.anthropic_api import _StreamedMessage

    message = _StreamedMessage()
    events = [
        {
            "type": "message_start",
            "message": {
                "id": "m",
                "type": "message",
                "role": "assistant",
                "model": "m",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 3, "output_tokens": 1},
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hal"}},
    ]
    assert [message.add(e) for e in events] == ["", "", "Hal"]
    with pytest.raises(ValueError, match="ended before the message did"):
        message.final()
    message.add(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 2},
        }
    )
    message.add({"type": "message_stop"})
    final = message.final()
    assert (final.content[0].text, final.stop_reason, final.usage.output_tokens) == (
        "Hal",
        "end_turn",
        2,
    )
    assert final.usage.input_tokens == 3
