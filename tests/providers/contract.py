"""What a provider's answers look like: checked against the fake servers in the ordinary suite and
against the real services by the live_provider tests, so the fakes are verified, not trusted."""

from __future__ import annotations

from annotate.judge.calls import JudgeCall, JudgeReply, VerdictSpec, tool_schema, user_text
from annotate.providers.base import BatchStatus, Completion, StreamItem

HELLO = [{"role": "user", "content": "What is a haiku? Answer in one sentence."}]
STOPS = {"end_turn", "max_tokens", "stop", "length"}


def check_completion(completion: Completion, *, model: str) -> None:
    assert isinstance(completion, Completion)
    assert completion.text.strip()
    assert completion.stop_reason in STOPS
    assert completion.input_tokens > 0 and completion.output_tokens > 0
    assert completion.request_id
    assert completion.model and (
        completion.model.startswith(model) or model.startswith(completion.model)
    )


def check_stream(items: list[StreamItem], *, model: str) -> Completion:
    """Text deltas, then exactly one Completion whose text is the deltas joined."""
    *deltas, final = items
    assert deltas and all(isinstance(d, str) for d in deltas)
    assert not any(isinstance(d, Completion) for d in deltas)
    check_completion(final, model=model)
    assert "".join(deltas) == final.text
    return final


def check_batch_status(status: BatchStatus) -> None:
    assert status.id
    assert set(status.counts) == {"processing", "succeeded", "errored", "canceled", "expired"}
    assert all(isinstance(n, int) and n >= 0 for n in status.counts.values())


def judge_call(model: str) -> JudgeCall:
    spec = VerdictSpec()
    assert tool_schema(spec)["name"] == "record_verdict"
    return JudgeCall(
        custom_id="v1-o1",
        rubric="You compare two answers to the user's question and record which is better.",
        user_text=user_text(
            messages=[{"role": "user", "content": "What is 2 + 2?"}],
            system="",
            first="2 + 2 = 4.",
            second="It is 5.",
        ),
        model=model,
        spec=spec,
        max_tokens=400,
    )


def check_judge_reply(reply: JudgeReply) -> None:
    assert reply.custom_id == "v1-o1"
    assert isinstance(reply.tool_input, dict)
    assert reply.tool_input["choice"] in {"1", "2", "tie", "both_bad"}
    assert isinstance(reply.tool_input["rationale"], str)
    assert reply.input_tokens + reply.cache_read_tokens + reply.cache_write_tokens > 0
    assert reply.output_tokens > 0
