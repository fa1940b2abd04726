"""The offline demo provider: shipped answers for the demo prompts, deterministic everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotate.markdown import render_markdown
from annotate.providers.demo import DEMO_DATA, DemoProvider

PROMPTS = [json.loads(line) for line in (DEMO_DATA / "prompts.jsonl").read_text().splitlines()]


def ask(prompt: str, model: str, sample_index: int = 0, **params) -> str:
    return (
        DemoProvider()
        .complete(
            messages=[{"role": "user", "content": prompt}],
            system="",
            model=model,
            params=params,
            sample_index=sample_index,
        )
        .text
    )


def test_it_ships_a_dozen_varied_prompts_with_answers_for_both_demo_models():
    assert len(PROMPTS) >= 12
    assert len({p["metadata"]["topic"] for p in PROMPTS}) >= 5
    lines = [json.loads(line) for line in (DEMO_DATA / "candidates.jsonl").read_text().splitlines()]
    ids = {p["id"] for p in PROMPTS}
    assert {line["prompt_id"] for line in lines} == ids
    for model in ("demo-concise", "demo-thorough"):
        assert {line["prompt_id"] for line in lines if line["model"] == model} == ids
    assert any("```" in line["text"] for line in lines)  # code blocks
    assert any("\n- " in line["text"] or "\n1. " in line["text"] for line in lines)  # lists


def test_it_answers_demo_prompts_with_shipped_text_that_differs_by_sample_and_model():
    prompt = PROMPTS[1]["prompt"]
    first, second = ask(prompt, "demo-thorough", 0), ask(prompt, "demo-thorough", 1)
    assert first != second
    assert ask(prompt, "demo-concise") not in (first, second)
    assert ask(prompt, "demo-thorough", 0) == first  # deterministic
    assert "<pre" in render_markdown(first + "\n" + second)  # a code answer renders as code


def test_it_composes_a_deterministic_answer_for_any_other_prompt():
    text = ask("How do I choose a database for a small web app?", "demo-concise")
    assert text == ask("How do I choose a database for a small web app?", "demo-concise")
    assert text != ask("How do I choose a database for a small web app?", "demo-concise", 1)
    assert "choose a database" in text


def test_it_reports_usage_and_can_pretend_to_be_slow():
    completion = DemoProvider().complete(
        messages=[{"role": "user", "content": "Hello there"}],
        system="Be kind.",
        model="demo-concise",
        params={"latency_ms": 30},
    )
    assert completion.latency_ms >= 30
    assert completion.input_tokens == 4 and completion.output_tokens > 0
    assert completion.request_id.startswith("demo_")


def test_it_keeps_its_data_inside_the_package():
    assert Path(DEMO_DATA).parent.name == "annotate"


def test_it_streams_its_answer_in_chunks_at_a_model_pace():
    slept: list[float] = []
    provider = DemoProvider(sleep=slept.append)
    messages = [{"role": "user", "content": PROMPTS[0]["prompt"]}]
    *chunks, final = list(
        provider.stream(
            messages=messages, system="", model="demo-thorough", params={"tokens_per_second": 20}
        )
    )
    whole = provider.complete(messages=messages, system="", model="demo-thorough", params={})
    assert "".join(chunks) == whole.text == final.text  # the same answer, whitespace and all
    assert len(chunks) > 5 and max(len(c.split()) for c in chunks) <= 3
    assert (final.output_tokens, final.stop_reason) == (whole.output_tokens, "end_turn")
    # One pause per chunk, as long as its words take at 20 tokens a second: 1/20 s per word.
    assert len(slept) == len(chunks)
    assert sum(slept) == pytest.approx(len(whole.text.split()) / 20)


def test_it_streams_at_forty_tokens_a_second_unless_told_otherwise():
    slept: list[float] = []
    messages = [{"role": "user", "content": "Hello there"}]
    items = list(
        DemoProvider(sleep=slept.append).stream(
            messages=messages, system="", model="demo-concise", params={}
        )
    )
    assert sum(slept) == pytest.approx(items[-1].output_tokens / 40)
