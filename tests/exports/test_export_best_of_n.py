"""Best-of-N exports (SFT rows of the chosen samples, best-vs-worst preference pairs) and the
include_reasoning option: options checked strictly, rows validated and loadable with `datasets`
in the columns TRL reads."""

from __future__ import annotations

import json

import datasets
import pytest

from annotate.exports.best_of_n import with_reasoning, write_best_of_n_export
from annotate.exports.card import CardContext
from annotate.exports.options import ExportOptionsError, parse_options
from annotate.exports.summary import EmptyExport
from annotate.models import BestOfNChoice, Judgment
from annotate.services.exports import export_build
from annotate.services.ttc import best_of_n_select
from tests import factories

CONV = datasets.List({"role": datasets.Value("string"), "content": datasets.Value("string")})
CONTEXT = CardContext(campaign_title="Maths", campaign_slug="maths")


def _row(prompt_id, *, correct=True, worst="Answer: 7", reasoning="6 times 7 is 42."):
    return {
        "prompt_id": prompt_id,
        "generator_id": 1,
        "prompt_hash": f"h{prompt_id}",
        "messages": [{"role": "user", "content": f"What is 6 × 7? ({prompt_id})"}],
        "system": "",
        "correct": correct,
        "best_text": "Answer: 42",
        "best_reasoning": reasoning,
        "worst_text": worst,
        "worst_reasoning": "",
    }


def _load(folder):
    return datasets.load_dataset("json", data_files=str(folder / "data" / "train.jsonl"))["train"]


def test_it_checks_the_best_of_n_options_strictly():
    options = parse_options("bon-sft", {"bon_method": "verifier", "bon_correct_only": "true"})
    assert (options.bon_method, options.bon_correct_only, options.is_best_of_n) == (
        "verifier",
        True,
        True,
    )
    for fmt, filters, field in (
        ("bon-sft", {"bon_method": "vibes"}, "bon_method"),
        ("bon-dpo", {"bon_correct_only": "maybe"}, "bon_correct_only"),
        ("trl-dpo-conversational", {"include_reasoning": 2}, "include_reasoning"),
        ("bon-sft", {"bon_methd": "judge"}, "bon_methd"),
    ):
        with pytest.raises(ExportOptionsError) as info:
            parse_options(fmt, filters)
        assert field in info.value.errors


def test_it_writes_sft_rows_of_the_chosen_samples(tmp_path):
    rows = [_row(1), _row(2, correct=False), _row(3)]
    options = parse_options("bon-sft", {"bon_correct_only": True})
    summary = write_best_of_n_export(rows, options=options, out_dir=tmp_path, context=CONTEXT)
    assert summary.rows == {"train": 2} and summary.rows_left_out["not_correct"] == 1
    ds = _load(tmp_path)
    assert ds.features == datasets.Features({"messages": CONV})
    assert ds[0]["messages"][-1] == {"role": "assistant", "content": "Answer: 42"}
    card = (tmp_path / "README.md").read_text()
    assert "rejection sampling" in card and "bon_correct_only" in card
    assert (tmp_path / "SHA256SUMS").exists()


def test_it_writes_best_vs_worst_pairs_in_trl_columns(tmp_path):
    rows = [_row(1), _row(2, worst=None), _row(3, worst="Answer:   42")]
    options = parse_options("bon-dpo", {})
    summary = write_best_of_n_export(rows, options=options, out_dir=tmp_path, context=CONTEXT)
    assert summary.rows == {"train": 1}
    assert summary.rows_left_out == {"no_worst": 1, "same_text": 1}
    ds = _load(tmp_path)
    assert ds.features == datasets.Features({"prompt": CONV, "chosen": CONV, "rejected": CONV})
    assert ds[0]["rejected"] == [{"role": "assistant", "content": "Answer: 7"}]


def test_it_carries_the_trace_only_when_asked(tmp_path):
    plain = parse_options("bon-sft", {})
    write_best_of_n_export([_row(1)], options=plain, out_dir=tmp_path / "a", context=CONTEXT)
    assert "<think>" not in (tmp_path / "a" / "data" / "train.jsonl").read_text()
    traced = parse_options("bon-sft", {"include_reasoning": True})
    write_best_of_n_export([_row(1)], options=traced, out_dir=tmp_path / "b", context=CONTEXT)
    row = json.loads((tmp_path / "b" / "data" / "train.jsonl").read_text())
    assert row["messages"][-1]["content"] == "<think>\n6 times 7 is 42.\n</think>\n\nAnswer: 42"
    assert with_reasoning("Answer: 1", "") == "Answer: 1"


def test_it_fails_an_empty_export_saying_why(tmp_path):
    with pytest.raises(EmptyExport, match="Store the choices"):
        write_best_of_n_export(
            [], options=parse_options("bon-sft", {}), out_dir=tmp_path, context=CONTEXT
        )


@pytest.fixture
def chosen(campaign):
    """A prompt with three samples (answers 5, 5, 7; reference 5), majority choices stored."""
    generator = factories.GeneratorFactory(campaign=campaign, name="solver")
    prompt = factories.PromptFactory(campaign=campaign, metadata={"reference_answer": "5"})
    for i, answer in enumerate(("5", "5", "7")):
        factories.CandidateFactory(
            prompt=prompt,
            generator=generator,
            sample_index=i,
            text=f"Answer: {answer} ({i})",
            reasoning=f"Counting gives {answer}.",
        )
    best_of_n_select(campaign=campaign)
    return campaign


def test_it_exports_the_stored_choices_from_the_database(chosen, tmp_path):
    assert BestOfNChoice.objects.filter(campaign=chosen).count() == 1
    options = parse_options("bon-dpo", {"include_reasoning": True})
    summary = export_build(campaign=chosen, options=options, out_dir=tmp_path / "x")
    assert summary.row_count == 1
    row = _load(tmp_path / "x")[0]
    assert row["chosen"][0]["content"].startswith("<think>\nCounting gives 5.")
    assert row["rejected"][0]["content"].endswith("Answer: 7 (2)")


def test_it_puts_traces_into_vote_exports_only_when_asked(campaign, tmp_path):
    prompt = factories.PromptFactory(campaign=campaign)
    pair = factories.PairFactory(
        campaign=campaign,
        prompt=prompt,
        candidate_a=factories.CandidateFactory(prompt=prompt, text="A", reasoning="trace a"),
        candidate_b=factories.CandidateFactory(prompt=prompt, text="B", reasoning=""),
    )
    rater = factories.UserFactory()
    Judgment.objects.create(
        campaign=campaign, pair=pair, rater=rater, choice="a", idempotency_key="k"
    )
    for flag, expected in ((False, "A"), (True, "<think>\ntrace a\n</think>\n\nA")):
        options = parse_options("trl-dpo-conversational", {"include_reasoning": flag})
        export_build(campaign=campaign, options=options, out_dir=tmp_path / str(flag))
        row = json.loads((tmp_path / str(flag) / "data" / "train.jsonl").read_text())
        assert row["chosen"][0]["content"] == expected and row["rejected"][0]["content"] == "B"
    card = (tmp_path / "True" / "README.md").read_text()
    assert "include_reasoning is on" in card
