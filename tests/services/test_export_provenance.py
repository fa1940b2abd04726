"""Raw exports carry each response's provenance: its generator's model and parameters, its tokens
and cost, and the version of the judge rubric behind the pair's verdict; the card explains them."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from annotate.exports.options import parse_options
from annotate.models import Judgment
from annotate.services.exports import export_build
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("fmt", ["raw-jsonl", "raw-parquet"])
def test_each_raw_row_names_the_generators_and_what_the_responses_cost(
    campaign, rater, tmp_path, fmt, hf_offline
):
    sonnet = factories.GeneratorFactory(
        campaign=campaign, name="sonnet", model="claude-sonnet-4-6", params={"temperature": 0.7}
    )
    haiku = factories.GeneratorFactory(campaign=campaign, name="haiku", model="claude-haiku-4-5")
    prompt = factories.PromptFactory(campaign=campaign)
    a = factories.CandidateFactory(
        prompt=prompt, generator=sonnet, text="A", input_tokens=12, output_tokens=340,
        cost_usd=Decimal("0.005280"),
    )  # fmt: skip
    b = factories.CandidateFactory(prompt=prompt, generator=haiku, text="B", output_tokens=90)
    pair = factories.PairFactory(campaign=campaign, prompt=prompt, candidate_a=a, candidate_b=b)
    Judgment.objects.create(campaign=campaign, pair=pair, rater=rater, choice="a")

    out = tmp_path / fmt
    export_build(campaign=campaign, options=parse_options(fmt, {}), out_dir=out)
    if fmt == "raw-jsonl":
        (row,) = [json.loads(x) for x in (out / "data/train.jsonl").read_text().splitlines()]
    else:
        from datasets import load_dataset

        (row,) = list(load_dataset(str(out), split="train"))
    assert (row["model_a"], row["model_b"]) == ("claude-sonnet-4-6", "claude-haiku-4-5")
    assert json.loads(row["params_a"]) == {"temperature": 0.7}
    assert json.loads(row["params_b"]) == {}
    assert (row["input_tokens_a"], row["output_tokens_a"], row["cost_usd_a"]) == (12, 340, 0.00528)
    assert (row["output_tokens_b"], row["cost_usd_b"]) == (90, 0.0)
    assert row["judge_rubric_version"] is None  # no verdict on this pair
    card = (out / "README.md").read_text()
    assert "`model_a`, `model_b`, `params_a`, `params_b`" in card
    # The card sums what the campaign's models cost, per labelled pair too.
    assert "Model cost of the campaign: $0.0053 (generation $0.0053, AI judge $0.0000)" in card
    assert "$0.0053 per labelled pair in this export" in card
