"""analytics/crowd_models.py: Dawid–Skene and MACE (crowd-kit) recover the labels a majority gets
wrong when some raters are careless, and rate the careless raters below the careful ones; and an
export by either method writes the model's labels."""

from __future__ import annotations

import json
import random

import pytest

from annotate.analytics.crowd_models import fit_labels
from annotate.exports.card import CardContext
from annotate.exports.options import ExportOptionsError, parse_options
from annotate.exports.pipeline import write_export
from tests.exports.rows import vote


def _simulated(pairs=120, seed=3):
    """Three careful raters (right 85% of the time) and three who answer at random on every
    pair; the truth of each pair is a or b."""
    rng = random.Random(seed)
    truth, votes = {}, []
    for p in range(pairs):
        truth[p] = rng.choice("ab")
        other = "b" if truth[p] == "a" else "a"
        for r in (1, 2, 3):
            votes.append(
                {"pair_id": p, "rater_id": r, "choice": truth[p] if rng.random() < 0.85 else other}
            )
        for r in (4, 5, 6):
            votes.append({"pair_id": p, "rater_id": r, "choice": rng.choice(["a", "b", "tie"])})
    return truth, votes


def _accuracy(labels, truth):
    return sum(labels[p][0] == t for p, t in truth.items()) / len(truth)


def _majority_accuracy(votes, truth):
    from collections import Counter

    right = 0
    for p, t in truth.items():
        top = Counter(v["choice"] for v in votes if v["pair_id"] == p).most_common()
        right += top[0][0] == t and (len(top) == 1 or top[1][1] < top[0][1])
    return right / len(truth)


@pytest.mark.parametrize("method", ["dawid_skene", "mace"])
def test_the_model_beats_the_majority_and_finds_the_careless_raters(method):
    truth, votes = _simulated()
    fitted = fit_labels(votes, method=method)
    majority = _majority_accuracy(votes, truth)
    assert majority < 0.8
    assert _accuracy(fitted.labels, truth) > majority + 0.05
    careful = min(fitted.reliability[r] for r in (1, 2, 3))
    careless = max(fitted.reliability[r] for r in (4, 5, 6))
    assert careful > careless + 0.2, fitted.reliability
    assert all(0.0 <= p <= 1.0 for _, p in fitted.labels.values())
    assert fitted.votes == len(votes)
    if method == "dawid_skene":  # deterministic (MACE's restarts have a fixed seed: costlier)
        assert fit_labels(votes, method=method).labels == fitted.labels


def test_no_votes_fit_nothing_and_an_unknown_method_is_refused():
    assert fit_labels([], method="dawid_skene").labels == {}
    with pytest.raises(ValueError, match="unknown model method"):
        fit_labels([], method="glad")


def test_an_export_by_dawid_skene_writes_the_models_label_with_its_margin(tmp_path):
    truth, votes = _simulated(pairs=60)
    fitted = fit_labels(votes, method="dawid_skene")
    rows = [
        vote(i + 1, pair_id=v["pair_id"] + 1, rater_id=v["rater_id"], choice=v["choice"])
        for i, v in enumerate(sorted(votes, key=lambda v: v["pair_id"]))
    ]
    shifted = type(fitted)(
        fitted.method, {p + 1: label for p, label in fitted.labels.items()}, fitted.reliability
    )
    out = tmp_path / "out"
    write_export(
        iter(rows),
        options=parse_options("trl-reward", {"method": "dawid_skene"}),
        out_dir=out,
        context=CardContext("T", "t"),
        fitted=shifted,
    )
    written = [json.loads(x) for x in (out / "data/train.jsonl").read_text().splitlines()]
    expected = [p for p, (label, _) in shifted.labels.items() if label in ("a", "b")]
    assert len(written) == len(expected)
    for row in written:
        pair = int(row["prompt"][0]["content"].split()[1].rstrip("?"))
        label, probability = shifted.labels[pair]
        assert row["chosen"][0]["content"] == f"{label.upper()}{pair}"
        assert 0 < row["margin"] <= probability + 1e-9  # binary scale: strength 1 × P
    card = (out / "README.md").read_text()
    assert "method is `dawid_skene`" in card and "Dawid–Skene" in card


def test_a_model_method_needs_its_fit_and_over_the_judge_alone_gives_the_judges_labels():
    judge = [{"pair_id": p, "rater_id": None, "choice": c} for p, c in enumerate("abab")]
    assert {
        p: label for p, (label, _) in fit_labels(judge, method="dawid_skene").labels.items()
    } == {0: "a", 1: "b", 2: "a", 3: "b"}
    with pytest.raises(ExportOptionsError):
        parse_options("trl-dpo-standard", {"method": "glad"})
    with pytest.raises(ValueError, match="needs its fitted labels"):
        write_export(
            iter([vote(1)]),
            options=parse_options("trl-dpo-standard", {"method": "mace"}),
            out_dir="/tmp/never-written",
            context=CardContext("T", "t"),
        )


def test_the_dashboard_shows_each_raters_reliability_beside_gold_and_majority():
    from annotate.analytics.dashboard import dashboard

    truth, votes = _simulated(pairs=40)
    rows = [
        vote(i + 1, pair_id=v["pair_id"] + 1, rater_id=v["rater_id"], choice=v["choice"])
        for i, v in enumerate(sorted(votes, key=lambda v: v["pair_id"]))
    ]
    for r in rows:
        r.update(a_len=10, b_len=20)
    result = dashboard(rows, days=[], usernames={}, n_boot=10)
    by_rater = {r["name"]: r["reliability"] for r in result["raters"]}
    assert min(by_rater[f"rater {i}"] for i in (1, 2, 3)) > max(
        by_rater[f"rater {i}"] for i in (4, 5, 6)
    )
    assert result["reliability_computed"] is True


def test_a_raw_export_by_a_model_method_writes_every_vote_unfitted(tmp_path):
    summary = write_export(
        iter([vote(1), vote(2, rater_id=2, choice="b")]),
        options=parse_options("raw-jsonl", {"method": "mace", "source": "all"}),
        out_dir=tmp_path / "raw",
        context=CardContext("T", "t"),
    )
    assert summary.rows == {"train": 2}
