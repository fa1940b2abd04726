"""Exports of a rating campaign's judge scores (``source=judge``): pairs by the judge's score gap,
KTO labels by its scores against the threshold, the raw ``ratings`` rows, each valid for its
format; the humans' scores stay their own source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotate import tasks
from annotate.exports.options import parse_options
from annotate.exports.validate import validate_records
from annotate.models import Campaign, RatingJudgement
from annotate.services.exports import export_build
from annotate.services.judging_ratings import rating_judge_run, rating_judge_start
from annotate.services.sets import rating_vote_record, set_assignment_next
from tests import factories
from tests.fakes.judge_fixtures import judge_config, judge_fake_fixture  # noqa: F401

pytestmark = pytest.mark.django_db

# The fake judge scores "[[score=N]]" N (tests/fakes/judge_server.py): A 5, B 4, C 2, D 1.
TEXTS = {"A": "Alpha. [[score=5]]", "B": "Bravo. [[score=4]]", "C": "Charlie. [[score=2]]"}
TEXTS["D"] = "Delta. [[score=1]]"
HUMAN = {"A": 1, "B": 2, "C": 4, "D": 5}  # the one rater sees it the other way round


@pytest.fixture
def judged(campaign, admin_user, judge_fake, monkeypatch, django_capture_on_commit_callbacks):
    Campaign.objects.filter(pk=campaign.pk).update(
        protocol="rating", rating_k=4, aspects=["helpful"], overlap=1
    )
    campaign.refresh_from_db()
    unit = factories.ranking_set(campaign=campaign, k=4)
    letter = {}
    for member, (key, text) in zip(unit.members.order_by("slot"), TEXTS.items(), strict=True):
        member.candidate.text = text
        member.candidate.save()
        letter[member.candidate_id] = key
    rater = factories.UserFactory()
    factories.EnrollmentFactory(campaign=campaign, rater=rater)
    lease = set_assignment_next(campaign=campaign, rater=rater)
    scores = [
        {"number": i, "overall": HUMAN[letter[c]], "aspects": {"helpful": 3}}
        for i, c in enumerate(lease.shown_order, start=1)
    ]
    rating_vote_record(lease=lease, rater=rater, campaign=campaign, scores=scores)
    judge_config(campaign)
    monkeypatch.setattr(tasks.judge_ratings_task, "delay", lambda **kw: None)
    with django_capture_on_commit_callbacks(execute=True):
        rating_judge_start(campaign=campaign, actor=admin_user)
    assert rating_judge_run(judgement_id=RatingJudgement.objects.get().id).status == "done"
    return campaign


def _build(campaign, tmp_path, fmt, **filters) -> tuple[list[dict], object]:
    out = tmp_path / f"{fmt}-{'-'.join(f'{k}{v}' for k, v in filters.items())}"
    summary = export_build(campaign=campaign, options=parse_options(fmt, filters), out_dir=out)
    path: Path = out / "data" / "train.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()], summary


def _letter(text: str) -> str:
    return text[0]


def test_pairs_come_from_the_judges_score_gaps(judged, tmp_path):
    rows, _ = _build(judged, tmp_path, "trl-reward", source="judge")
    got = sorted(
        (_letter(r["chosen"][0]["content"]), _letter(r["rejected"][0]["content"]), r["margin"])
        for r in rows
    )
    # Best (A, 5) against each at least 1 lower: B (gap 1), C (3), D (4).
    assert got == [("A", "B", 1.0), ("A", "C", 3.0), ("A", "D", 4.0)]
    assert validate_records("trl-reward", rows) == 3
    human, _ = _build(judged, tmp_path, "trl-reward")
    assert {_letter(r["chosen"][0]["content"]) for r in human} == {"D"}  # the rater's best
    rows, _ = _build(judged, tmp_path, "trl-dpo-conversational", source="judge")
    assert validate_records("trl-dpo-conversational", rows) == 3


def test_kto_labels_come_from_the_judges_scores(judged, tmp_path):
    rows, summary = _build(judged, tmp_path, "trl-kto", source="judge")
    # Shares of 1..5: A 1.0, B 0.75 desirable; C 0.25, D 0 undesirable (threshold 0.75).
    labels = sorted((_letter(r["completion"][0]["content"]), r["label"]) for r in rows)
    assert labels == [("A", True), ("B", True), ("C", False), ("D", False)]
    assert validate_records("trl-kto", rows) == 4
    assert summary.votes_left_out == {"other_source": 4}  # the rater's four scores


def test_the_raw_ratings_rows_are_the_judges(judged, tmp_path):
    rows, summary = _build(judged, tmp_path, "ratings", source="judge")
    assert len(rows) == 4 and summary.votes_left_out == {"other_source": 4}
    assert {(_letter(r["response"]), r["overall"], r["helpful"]) for r in rows} == {
        ("A", 5, 5),
        ("B", 4, 4),
        ("C", 2, 2),
        ("D", 1, 1),
    }
    assert {r["source"] for r in rows} == {"judge"} and {r["rater"] for r in rows} == {"judge"}
    assert sorted(r["position"] for r in rows) == [0, 1, 2, 3]
    assert all(r["rationale"].startswith("Response ") for r in rows)
    assert validate_records("ratings", rows, raw_columns=["helpful"]) == 4
    both, _ = _build(judged, tmp_path, "ratings", source="all")
    assert sorted(r["source"] for r in both) == ["human"] * 4 + ["judge"] * 4
