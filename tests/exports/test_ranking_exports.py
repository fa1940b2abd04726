"""Exports of a ranking campaign, row by row: every pairwise format from the pairs each ranking
gives (``ranking_pairs`` all and best_vs_rest), margins from the rank distance, ties by the tie
policy, the raw ``ranking`` format, the card, and ``load_dataset``."""

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
from annotate.services.sets import ranking_vote_record, set_assignment_next
from tests import factories

pytestmark = pytest.mark.django_db

TEXTS = ["Alpha answer.", "Bravo answer.", "Charlie answer.", "Delta answer."]


@pytest.fixture
def ranked(campaign):
    """One set of four (texts A..D in slot order); rater 1 ranks A > B = C > D, rater 2 ranks
    B > A > C > D (in texts, whatever order each was shown)."""
    Campaign.objects.filter(pk=campaign.pk).update(protocol="ranking", overlap=2)
    campaign.refresh_from_db()
    unit = factories.ranking_set(campaign=campaign, k=4)
    members = list(unit.members.select_related("candidate").order_by("slot"))
    for member, text in zip(members, TEXTS, strict=True):
        member.candidate.text = text
        member.candidate.save()
    by_text = {m.candidate.text[0]: m.candidate_id for m in members}  # "A" -> id
    for plan in (["A", "BC", "D"], ["B", "A", "C", "D"]):
        rater = factories.UserFactory()
        factories.EnrollmentFactory(campaign=campaign, rater=rater)
        lease = set_assignment_next(campaign=campaign, rater=rater)
        number = {cid: i + 1 for i, cid in enumerate(lease.shown_order)}
        ranking = [[number[by_text[t]] for t in group] for group in plan]
        ranking_vote_record(lease=lease, rater=rater, campaign=campaign, ranking=ranking)
    return campaign


def _rows(path: Path, split: str = "train") -> list[dict]:
    return [
        json.loads(line) for line in (path / "data" / f"{split}.jsonl").read_text().splitlines()
    ]


def _build(campaign, tmp_path, fmt, **filters):
    out = tmp_path / f"{fmt}-{'-'.join(f'{k}{v}' for k, v in filters.items())}"
    summary = export_build(campaign=campaign, options=parse_options(fmt, filters), out_dir=out)
    return out, summary


def _pairs(rows):
    return sorted(
        (r["chosen"][0]["content"][0], r["rejected"][0]["content"][0], r["margin"]) for r in rows
    )


def test_all_pairs_give_k_k_minus_1_over_2_comparisons_with_rank_distance_margins(ranked, tmp_path):
    out, summary = _build(ranked, tmp_path, "trl-reward", ranking_pairs="all", tie_policy="drop")
    rows = _rows(out)
    # Per derived pair, the two rankings are the two votes (majority; margin = mean distance of
    # the winning side's votes × their share):
    #   A-B: r1 A by 1, r2 B by 1 -> no majority (left out)
    #   A-C: r1 A by 1, r2 A by 1 -> A, 1.0;  A-D: r1 A by 2, r2 A by 2 -> A, 2.0
    #   B-C: r1 tie, r2 B by 2 -> no majority (tie 1 : b 1);  B-D: r1 by 1, r2 by 3 -> B, 2.0
    #   C-D: r1 by 1, r2 by 1 -> C, 1.0
    assert _pairs(rows) == [("A", "C", 1.0), ("A", "D", 2.0), ("B", "D", 2.0), ("C", "D", 1.0)]
    assert summary.pairs_seen == 6  # K(K-1)/2 derived pairs
    assert summary.votes_seen == 12  # two rankings × 6
    assert validate_records("trl-reward", rows) == 4
    card = (out / "README.md").read_text()
    assert "Pairs derived from rankings (ranking_pairs: `all`)" in card
    assert "rank distance" in card


def test_best_vs_rest_compares_each_best_with_the_others_only(ranked, tmp_path):
    out, summary = _build(ranked, tmp_path, "trl-reward", ranking_pairs="best_vs_rest")
    rows = _rows(out)
    # r1 best A: A>B(1), A>C(1), A>D(2);  r2 best B: B>A(1), B>C(2), B>D(3).
    # Pairs: A-B {r1: A, r2: B} no majority; A-C r1 only -> A 1; A-D r1 -> A 2;
    # B-C r2 -> B 2; B-D r2 -> B 3.
    assert _pairs(rows) == [("A", "C", 1.0), ("A", "D", 2.0), ("B", "C", 2.0), ("B", "D", 3.0)]
    assert "ranking_pairs: `best_vs_rest`" in (out / "README.md").read_text()


def test_ties_follow_the_tie_policy(ranked, tmp_path):
    out, _ = _build(
        ranked, tmp_path, "trl-dpo-conversational", tie_policy="split", method="mean_strength"
    )
    rows = _rows(out)
    texts = sorted((r["chosen"][0]["content"][0], r["rejected"][0]["content"][0]) for r in rows)
    # mean_strength: B-C scores r1 0 (tie) and r2 +2 for B -> B; A-B: +1 and -1 -> tie, split
    assert ("A", "B") in texts and ("B", "A") in texts
    assert ("B", "C") in texts
    assert validate_records("trl-dpo-conversational", rows, tie_policy="split") == len(rows)


@pytest.mark.parametrize(
    "fmt",
    [
        f
        for f in FORMATS
        if f not in (*BON_FORMATS, *STEP_FORMATS, *CONVERSATION_FORMATS)
        and f not in ("ranking", "ratings", "sft-messages")
    ],
)
def test_every_pairwise_format_builds_from_rankings(ranked, tmp_path, fmt):
    filters = (
        {"tie_policy": "split"} if fmt not in ("trl-kto",) and not fmt.startswith("raw") else {}
    )
    out, summary = _build(ranked, tmp_path, fmt, **filters)
    assert summary.row_count > 0
    if fmt.startswith("raw"):
        return
    rows = _rows(out)
    assert validate_records(fmt, rows, **filters) == len(rows)


def test_the_raw_ranking_format_row_by_row(ranked, tmp_path):
    out, summary = _build(ranked, tmp_path, "ranking")
    rows = _rows(out)
    assert len(rows) == 2 and summary.row_count == 2
    first, second = rows
    assert first["completions"] == TEXTS  # slot order
    assert first["ranks"] == [1, 2, 2, 3]  # A > B = C > D, dense
    assert second["ranks"] == [2, 1, 3, 4]
    for row in rows:
        assert sorted(row["shown_order"]) == [0, 1, 2, 3]
        assert row["rater"].startswith("rater-") and row["source"] == "human"
        assert row["prompt"][-1]["role"] == "user"
    assert validate_records("ranking", rows) == 2
    ds = datasets.load_dataset("json", data_files=str(out / "data" / "train.jsonl"))
    assert ds["train"][0]["ranks"] == [1, 2, 2, 3]


def test_load_dataset_reads_a_ranking_campaigns_dpo_export(ranked, tmp_path):
    out, _ = _build(ranked, tmp_path, "trl-dpo-conversational")
    ds = datasets.load_dataset(str(out))
    assert len(ds["train"]) == 4
    assert ds["train"][0]["chosen"][0]["role"] == "assistant"


def test_the_ranking_format_is_refused_for_a_pairwise_campaign(campaign, tmp_path):
    with pytest.raises(ExportOptionsError):
        export_create(campaign=campaign, actor=None, format="ranking")
    with pytest.raises(ExportOptionsError):
        parse_options("trl-dpo-conversational", {"ranking_pairs": "some"})


def test_the_command_exports_a_ranking_campaign(ranked, tmp_path):
    from django.core.management import call_command

    out = tmp_path / "cmd"
    call_command(
        "export_dataset", ranked.slug, "--format", "trl-reward", "--ranking-pairs",
        "best_vs_rest", "--out", str(out), "--no-progress", stdout=open("/dev/null", "w"),
    )  # fmt: skip
    assert len(_rows(out)) == 4
    assert "best_vs_rest" in (out / "README.md").read_text()
