"""An adjudicated pair in the exports: its adjudicator's latest label replaces the aggregate of the
votes (adjudicated=prefer, the default) or is ignored; the card and the funnel count it; raw
exports carry it as a row of its own with source=all."""

from __future__ import annotations

import json

import pytest

from annotate.exports.card import CardContext
from annotate.exports.options import ExportOptionsError, parse_options
from annotate.exports.pipeline import write_export
from tests.exports.rows import vote


def _export(tmp_path, rows, fmt="trl-dpo-standard", **filters):
    out = tmp_path / "out"
    summary = write_export(
        iter(rows),
        options=parse_options(fmt, filters),
        out_dir=out,
        context=CardContext("T", "t"),
        rater_names={1: "r1", 2: "r2", 3: "r3", 9: "adj"},
    )
    lines = (out / "data/train.jsonl").read_text().splitlines() if fmt != "raw-csv" else []
    return summary, [json.loads(line) for line in lines], (out / "README.md").read_text()


def _contested():
    # Two raters for a, one for b; the adjudicator first says a, then settles on b.
    return [
        vote(1, rater_id=1, choice="a"),
        vote(2, rater_id=2, choice="a"),
        vote(3, rater_id=3, choice="b"),
        vote(4, rater_id=9, choice="a", source="adjudicated", rationale="first look"),
        vote(5, rater_id=9, choice="b", source="adjudicated", rationale="A's SQL is wrong"),
    ]


def test_the_adjudicators_latest_label_replaces_the_majority(tmp_path):
    summary, rows, card = _export(tmp_path, _contested())
    assert [(r["chosen"], r["rejected"]) for r in rows] == [("B1", "A1")]
    assert summary.adjudicated_pairs == 1
    assert summary.adjudication_rows == 2
    assert summary.votes_counted == 3
    assert summary.votes_left_out["other_source"] == 0  # the adjudication is not "another source"
    assert "Pairs labelled so: 1." in card
    assert "2 adjudication rows read" in card
    assert "1 pairs take their adjudicator's label" in card


def test_ignore_lets_the_votes_decide_and_counts_the_adjudication_as_left_out(tmp_path):
    summary, rows, card = _export(tmp_path, _contested(), adjudicated="ignore")
    assert [(r["chosen"], r["rejected"]) for r in rows] == [("A1", "B1")]
    assert summary.adjudicated_pairs == 0
    assert summary.votes_left_out["other_source"] == 2
    assert "adjudicated: ignore" in card


def test_an_adjudicated_pair_stands_without_enough_votes_and_without_a_majority(tmp_path):
    rows = [
        vote(1, pair_id=1, rater_id=1, choice="a"),
        vote(2, pair_id=1, rater_id=2, choice="b"),  # no majority
        vote(3, pair_id=1, rater_id=9, choice="b", source="adjudicated"),
        vote(4, pair_id=2, rater_id=1, choice="a"),  # below min_votes, not adjudicated
        vote(5, pair_id=3, rater_id=9, choice="a", source="adjudicated"),  # no vote at all
    ]
    summary, out, _ = _export(tmp_path, rows, min_votes=2)
    assert [(r["chosen"], r["rejected"]) for r in out] == [("B1", "A1"), ("A3", "B3")]
    assert summary.dropped["too_few_votes"] == 1
    assert summary.dropped["no_majority"] == 0


def test_a_judge_export_never_takes_the_adjudication(tmp_path):
    rows = [
        vote(1, rater_id=None, choice="a", source="judge"),
        vote(2, rater_id=9, choice="b", source="adjudicated"),
    ]
    summary, out, _ = _export(tmp_path, rows, source="judge")
    assert [(r["chosen"], r["rejected"]) for r in out] == [("A1", "B1")]
    assert summary.adjudicated_pairs == 0


def test_an_adjudicated_tie_follows_the_tie_policy(tmp_path):
    rows = [
        vote(1, rater_id=1, choice="a"),
        vote(2, rater_id=9, choice="tie", source="adjudicated"),
    ]
    summary, out, _ = _export(tmp_path, rows, "trl-dpo-standard", tie_policy="keep")
    assert [(r["chosen"], r["rejected"], r["tie"]) for r in out] == [("A1", "B1", True)]
    assert summary.labels == {"tie": 1}


def test_raw_exports_carry_the_adjudication_with_source_all(tmp_path):
    _, rows, card = _export(tmp_path, _contested(), "raw-jsonl", source="all")
    adjudicated = [r for r in rows if r["source"] == "adjudicated"]
    assert [(r["choice"], r["rater"], r["is_latest"]) for r in adjudicated] == [
        ("a", "adjudicator:adj", False),
        ("b", "adjudicator:adj", True),
    ]
    assert "`adjudicated`" in card


def test_the_option_is_validated():
    with pytest.raises(ExportOptionsError) as exc:
        parse_options("trl-dpo-standard", {"adjudicated": "always"})
    assert "adjudicated" in exc.value.errors
    assert parse_options("trl-dpo-standard", {}).adjudicated == "prefer"
