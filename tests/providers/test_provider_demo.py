"""The offline demo provider: shipped answers for the demo prompts, deterministic everywhere."""

from __future__ import annotations

import json
from pathlib import Path

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
