"""Exports of a rating campaign, row by row: every pairwise format from the pairs the scores give
(``rating_pairs`` best_vs_each and best_vs_random, ``rating_min_gap``), margins from the score
gap, KTO labels by the mean score against the threshold, the raw ``ratings`` format with a
column per aspect, the card, and ``load_dataset``."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest

from annotate.exports.options import (
    BON_FORMATS,
    CONVERSATION_FORMATS,
    FORMATS,
    STEP_FORMATS,
    ExportOptionsError,
    parse_options,
)
from annotate.exports.validate import validate_records
from annotate.models import Campaign
from annotate.services.exports import export_build, export_create
from annotate.services.sets import rating_vote_record, set_assignment_next
from tests import factories

pytestmark = pytest.mark.django_db

TEXTS = ["Alpha answer.", "Bravo answer.", "Charlie answer.", "Delta answer."]
# Overall scores (1 to 5) by text, per rater: means A 4.5, B 4, C 2.5, D 1.
PLANS = ({"A": 5, "B": 4, "C": 2, "D": 1}, {"A": 4, "B": 4, "C": 3, "D": 1})


@pytest.fixture
def rated(campaign):
    """One unit of four responses (texts A..D), rated by two raters as PLANS says."""
    Campaign.objects.filter(pk=campaign.pk).update(
        protocol="rating", overlap=2, rating_k=4, aspects=["helpful", "prompt"]
    )
    campaign.refresh_from_db()
    unit = factories.ranking_set(campaign=campaign, k=4)
    members = list(unit.members.select_related("candidate").order_by("slot"))
    for member, text in zip(members, TEXTS, strict=True):
        member.candidate.text = text
        member.candidate.save()
    text_of = {m.candidate_id: m.candidate.text[0] for m in members}
    for plan in PLANS:
        rater = factories.UserFactory()
        factories.EnrollmentFactory(campaign=campaign, rater=rater)
        lease = set_assignment_next(campaign=campaign, rater=rater)
        scores = [
            {
                "number": i + 1,
                "overall": plan[text_of[cid]],
                "aspects": {"helpful": plan[text_of[cid]], "prompt": 3},
                "rationale": f"why {text_of[cid]}",
            }
            for i, cid in enumerate(lease.shown_order)
        ]
        rating_vote_record(lease=lease, rater=rater, campaign=campaign, scores=scores)
    return campaign


def _rows(path: Path, split: str = "train") -> list[dict]:
    return [
        json.loads(line) for line in (path / "data" / f"{split}.jsonl").read_text().splitlines()
    ]


def _build(campaign, tmp_path, fmt, **filters):
    out = tmp_path / f"{fmt}-{'-'.join(f'{k}{v}' for k, v in filters.items())}"
    summary = export_build(campaign=campaign, options=parse_options(fmt, filters), out_dir=out)
    return out, summary


def _reward_pairs(rows):
    return sorted(
        (r["chosen"][0]["content"][0], r["rejected"][0]["content"][0], r["margin"]) for r in rows
    )


def test_best_vs_each_pairs_the_best_with_every_response_the_gap_lower(rated, tmp_path):
    out, _ = _build(rated, tmp_path, "trl-reward")
    rows = _rows(out)
    # B is only 0.5 below A: no pair at the default gap of 1; margins are the score gaps.
    assert _reward_pairs(rows) == [("A", "C", 2.0), ("A", "D", 3.5)]
    assert validate_records("trl-reward", rows) == 2
    out, _ = _build(rated, tmp_path, "trl-reward", rating_min_gap=0.5)
    assert _reward_pairs(_rows(out)) == [("A", "B", 0.5), ("A", "C", 2.0), ("A", "D", 3.5)]
    out, _ = _build(rated, tmp_path, "trl-reward", rating_min_gap=3)
    assert _reward_pairs(_rows(out)) == [("A", "D", 3.5)]


def test_best_vs_random_draws_one_lower_response_per_prompt_with_the_seed(rated, tmp_path):
    drawn = set()
    for seed in range(12):
        out, _ = _build(rated, tmp_path, "trl-reward", rating_pairs="best_vs_random", seed=seed)
        rows = _reward_pairs(_rows(out))
        assert len(rows) == 1 and rows[0][0] == "A"
        drawn.add(rows[0][1])
        again, _ = _build(
            rated, tmp_path / "again", "trl-reward", rating_pairs="best_vs_random", seed=seed
        )
        assert _reward_pairs(_rows(again)) == rows  # the seed draws the same pair
    assert drawn == {"C", "D"}


def test_kto_labels_each_response_by_its_mean_score_against_the_threshold(rated, tmp_path):
    out, summary = _build(rated, tmp_path, "trl-kto")
    rows = _rows(out)
    # As shares of 1..5: A 0.875, B 0.75 -> desirable; D 0 -> undesirable; C 0.375 contested.
    labels = sorted((r["completion"][0]["content"][0], r["label"]) for r in rows)
    assert labels == [("A", True), ("B", True), ("D", False)]
    assert validate_records("trl-kto", rows) == 3
    assert summary.votes_left_out == {"contested": 1}
    out, _ = _build(rated, tmp_path, "trl-kto", kto_threshold=0.9, kto_contested="undesirable")
    labels = sorted((r["completion"][0]["content"][0], r["label"]) for r in _rows(out))
    assert labels == [("A", False), ("B", False), ("C", False), ("D", False)]
    card = (out / "README.md").read_text()
    assert "KTO labels from scores" in card and "(score − low) / (high − low)" in card


def test_the_raw_ratings_format_has_a_row_per_rated_response_and_a_column_per_aspect(
    rated, tmp_path
):
    out, summary = _build(rated, tmp_path, "ratings")
    rows = _rows(out)
    assert len(rows) == 8 and summary.row_count == 8
    for row in rows:
        letter = row["response"][0]
        assert set(row) >= {"helpful", "prompt_score", "overall", "position", "prompt"}
        assert row["helpful"] == row["overall"] and row["prompt_score"] == 3
        assert row["rationale"] == f"why {letter}"
        assert row["rater"].startswith("rater-") and row["source"] == "human"
        assert row["prompt"][-1]["role"] == "user" and row["generator"]
    by_rating = {}
    for row in rows:
        by_rating.setdefault(row["rating_id"], []).append(row["position"])
    assert [sorted(p) for p in by_rating.values()] == [[0, 1, 2, 3], [0, 1, 2, 3]]
    means = {}
    for row in rows:
        means.setdefault(row["response"][0], []).append(row["overall"])
    assert {k: sum(v) / 2 for k, v in means.items()} == {"A": 4.5, "B": 4, "C": 2.5, "D": 1}
    ds = datasets.load_dataset("json", data_files=str(out / "data" / "train.jsonl"))
    assert len(ds["train"]) == 8 and "helpful" in ds["train"].column_names
    card = (out / "README.md").read_text()
    assert "HelpSteer-style" in card and "`rating_row`" in card
    assert "`helpful`, `prompt`" in card


@pytest.mark.parametrize(
    "fmt",
    [
        f
        for f in FORMATS
        if f not in (*BON_FORMATS, *STEP_FORMATS, *CONVERSATION_FORMATS)
        and f not in ("ranking", "ratings", "sft-messages")
    ],
)
def test_every_pairwise_format_builds_from_ratings_and_loads(rated, tmp_path, fmt):
    out, summary = _build(rated, tmp_path, fmt)
    assert summary.row_count > 0
    if fmt.startswith("raw"):
        return
    rows = _rows(out)
    assert validate_records(fmt, rows) == len(rows)
    ds = datasets.load_dataset(str(out))
    assert len(ds["train"]) == len(rows)


def test_the_card_says_how_pairs_were_derived(rated, tmp_path):
    out, _ = _build(rated, tmp_path, "trl-dpo-conversational", rating_pairs="best_vs_random")
    card = (out / "README.md").read_text()
    assert "Pairs derived from ratings (rating_pairs: `best_vs_random`" in card
    assert "UltraFeedback-style" in card and "drawn with seed 0" in card
    assert "| `rating_min_gap` | `1.0` |" in card and "ranking_pairs" not in card


def test_the_ratings_format_is_refused_for_other_campaigns_and_bad_options(campaign, rated):
    other = factories.CampaignFactory(slug="pairs")
    with pytest.raises(ExportOptionsError, match="rating campaigns"):
        export_create(campaign=other, actor=None, format="ratings")
    for bad in ({"rating_pairs": "all"}, {"rating_min_gap": -1}, {"rating_min_gap": "x"}):
        with pytest.raises(ExportOptionsError):
            parse_options("trl-dpo-conversational", bad)


def test_the_command_exports_a_rating_campaign(rated, tmp_path):
    from django.core.management import call_command

    out = tmp_path / "cmd"
    call_command(
        "export_dataset", rated.slug, "--format", "trl-reward", "--rating-min-gap", "0.5",
        "--out", str(out), "--no-progress", stdout=open("/dev/null", "w"),
    )  # fmt: skip
    assert len(_rows(out)) == 3
