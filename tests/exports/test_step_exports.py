"""Exports of a step-label campaign: TRL's stepwise rows (majority per step, the trace ending at
the first wrong step, the neutral rule), the raw ``steps`` rows, gold, the card, ``load_dataset``."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest

from annotate.exports.options import ExportOptionsError, parse_options
from annotate.exports.validate import validate_records
from annotate.models import Campaign
from annotate.services.exports import export_build, export_create
from annotate.services.sets import set_assignment_next
from annotate.services.steps import step_gold_mark, step_vote_record
from tests import factories

pytestmark = pytest.mark.django_db

STEPS = ("Add 2 and 2: 4.", "Keep it: 4.", "Double it: 9.", "So 9.")


@pytest.fixture
def labelled(campaign):
    """One trace of four steps, three raters: step 1 right by all, step 2 neutral by two,
    step 3 wrong by two (the third goes on and calls it right)."""
    Campaign.objects.filter(pk=campaign.pk).update(
        protocol="steps", overlap=3, step_stop_at_wrong=True
    )
    campaign.refresh_from_db()
    factories.step_trace(campaign=campaign, steps=STEPS)
    plans = [[1, 0, -1, None], [1, 0, -1, None], [1, 1, 1, 1]]
    for labels in plans:
        rater = factories.UserFactory()
        factories.EnrollmentFactory(campaign=campaign, rater=rater)
        lease = set_assignment_next(campaign=campaign, rater=rater)
        notes = ["", "", "4 doubled is 8" if labels[2] == -1 else "", ""]
        step_vote_record(lease=lease, rater=rater, campaign=campaign, labels=labels, notes=notes)
    return campaign


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / "data" / "train.jsonl").read_text().splitlines()]


def _build(campaign, tmp_path, fmt, **filters):
    out = tmp_path / f"{fmt}-{'-'.join(f'{k}{v}' for k, v in filters.items())}"
    summary = export_build(campaign=campaign, options=parse_options(fmt, filters), out_dir=out)
    return out, summary


@pytest.mark.parametrize(
    "neutral, completions, labels",
    [
        ("true", list(STEPS[:3]), [True, True, False]),
        ("false", list(STEPS[:3]), [True, False, False]),
        ("drop", [STEPS[0], STEPS[2]], [True, False]),
    ],
)
def test_stepwise_rows_are_the_majority_per_step_ending_at_the_first_wrong(
    labelled, tmp_path, neutral, completions, labels
):
    out, summary = _build(labelled, tmp_path, "trl-stepwise", step_neutral=neutral)
    rows = _rows(out)
    assert rows == [{"prompt": rows[0]["prompt"], "completions": completions, "labels": labels}]
    assert isinstance(rows[0]["prompt"], str) and rows[0]["prompt"].startswith("Question")
    assert validate_records("trl-stepwise", rows) == 1
    assert summary.votes_counted == 3
    card = (out / "README.md").read_text()
    assert f"step_neutral: `{neutral}`" in card and "PRMTrainer" in card
    ds = datasets.load_dataset(str(out))  # the card's config finds the files
    assert ds["train"].column_names == ["prompt", "completions", "labels"]
    assert ds["train"][0]["labels"] == labels


def test_the_raw_steps_rows_carry_every_raters_three_valued_labels(labelled, tmp_path):
    out, _ = _build(labelled, tmp_path, "steps")
    rows = _rows(out)
    assert [r["labels"] for r in rows] == [[1, 0, -1, None], [1, 0, -1, None], [1, 1, 1, 1]]
    assert rows[0]["notes"][2] == "4 doubled is 8"
    assert rows[0]["completions"] == list(STEPS) and rows[0]["gold_labels"] is None
    assert all(r["rater"].startswith("rater-") and r["source"] == "human" for r in rows)
    assert validate_records("steps", rows) == 3
    ds = datasets.load_dataset("json", data_files=str(out / "data" / "train.jsonl"))
    assert ds["train"][2]["labels"] == [1, 1, 1, 1]
    assert ds["train"][0]["labels"] == [1, 0, -1, None]


def test_gold_traces_are_left_out_unless_asked(labelled, tmp_path):
    unit = labelled.candidate_sets.get()
    step_gold_mark(candidate_set=unit, labels=[1, 1, -1, None])
    with pytest.raises(Exception, match="gold"):
        _build(labelled, tmp_path, "trl-stepwise")
    out, _ = _build(labelled, tmp_path, "steps", include_gold=True)
    assert _rows(out)[0]["gold_labels"] == [1, 1, -1, None]


def test_min_votes_and_formats_that_do_not_fit_are_refused(labelled, campaign, tmp_path):
    with pytest.raises(Exception, match="min_votes"):
        _build(labelled, tmp_path, "trl-stepwise", min_votes=4)
    with pytest.raises(ExportOptionsError, match="step-label campaign exports"):
        export_create(campaign=labelled, actor=None, format="trl-dpo-conversational")
    with pytest.raises(ExportOptionsError, match="step_neutral"):
        parse_options("trl-stepwise", {"step_neutral": "maybe"})
    pairwise = factories.CampaignFactory()
    with pytest.raises(ExportOptionsError, match="for step-label campaigns"):
        export_create(campaign=pairwise, actor=None, format="trl-stepwise")


def test_the_validator_refuses_broken_stepwise_rows():
    from annotate.exports.validate import InvalidRow

    good = {"prompt": "Q?", "completions": ["a", "b"], "labels": [True, False]}
    assert validate_records("trl-stepwise", [good]) == 1
    for bad in (
        {**good, "labels": [True]},
        {**good, "labels": [1, 0]},
        {**good, "completions": []},
        {**good, "completions": ["a", ""]},
        {**good, "prompt": [{"role": "user", "content": "Q?"}]},
    ):
        with pytest.raises(InvalidRow):
            validate_records("trl-stepwise", [bad])
    with pytest.raises(InvalidRow, match="duplicate"):
        validate_records("trl-stepwise", [good, dict(good)])


def _judge_labels(campaign, labels, notes):
    from annotate.models import StepVote

    return StepVote.objects.create(
        campaign=campaign,
        candidate_set=campaign.candidate_sets.get(),
        source="judge",
        labels=labels,
        notes=notes,
    )


def test_the_judges_step_labels_are_their_own_source(labelled, tmp_path):
    _judge_labels(labelled, [1, 1, -1, None], ["ok", "ok", "4 doubled is 8", ""])
    # Human by default: the judge's row is left out.
    out, summary = _build(labelled, tmp_path, "steps")
    assert [r["source"] for r in _rows(out)] == ["human"] * 3
    assert summary.votes_left_out["other_source"] == 1
    # source=judge: the judge's row alone, named as the judge; source=all: both.
    out, _ = _build(labelled, tmp_path, "steps", source="judge")
    (row,) = _rows(out)
    assert (row["source"], row["rater"], row["labels"]) == ("judge", "judge", [1, 1, -1, None])
    assert row["notes"] == ["ok", "ok", "4 doubled is 8", ""]
    assert validate_records("steps", [row]) == 1
    out, _ = _build(labelled, tmp_path, "steps", source="all")
    assert sorted(r["source"] for r in _rows(out)) == ["human"] * 3 + ["judge"]
    # trl-stepwise over the judge alone: the judge's labels (humans say step 2 is neutral).
    out, summary = _build(labelled, tmp_path, "trl-stepwise", source="judge", step_neutral="false")
    (row,) = _rows(out)
    assert row["completions"] == list(STEPS[:3]) and row["labels"] == [True, True, False]
    assert summary.votes_counted == 1
