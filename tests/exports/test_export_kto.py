"""KTO is unpaired: one row per (prompt, completion), one label from all the evidence on it."""

from __future__ import annotations

import itertools
import json

import pytest

from annotate.exports.card import CardContext
from annotate.exports.options import parse_options
from annotate.exports.pipeline import EmptyExport, write_export
from tests.exports.rows import vote

GENERATORS = ("x", "y", "z")


def _three_generator_rows(prompts: int = 28, *, order=("x", "y", "z")):
    """Each prompt has one response per generator and the three pairs x-y, x-z, y-z, one vote each.
    ``order`` ranks the generators (best first) on most prompts; on every fourth prompt the middle
    one wins both its pairs and on every fifth the votes go round in a circle."""
    rows, jid = [], 0
    for p in range(prompts):
        for pair_no, (left, right) in enumerate(itertools.combinations(GENERATORS, 2)):
            rank = {g: i for i, g in enumerate(order)}
            winner = left if rank[left] < rank[right] else right
            if p % 4 == 3 and "y" in (left, right):
                winner = "y"
            if p % 5 == 4:  # x beats y, y beats z, z beats x
                winner = {("x", "y"): "x", ("y", "z"): "y", ("x", "z"): "z"}[(left, right)]
            jid += 1
            rows.append(
                vote(
                    jid,
                    pair_id=p * 3 + pair_no + 1,
                    prompt_id=p + 1,
                    prompt_hash=f"h{p}",
                    messages=[{"role": "user", "content": f"Question {p}?"}],
                    a_text=f"{left} answers {p}",
                    b_text=f"{right} answers {p}",
                    choice="a" if winner == left else "b",
                )
            )
    return rows


def _kto(tmp_path, rows, name="kto", **filters):
    out = tmp_path / name
    summary = write_export(
        iter(rows),
        options=parse_options("trl-kto", filters),
        out_dir=out,
        context=CardContext("T", "t"),
    )
    lines = [json.loads(x) for x in (out / "data/train.jsonl").read_text().splitlines()]
    return lines, summary, out


def _key(row):
    return (row["prompt"][-1]["content"], row["completion"][0]["content"])


def test_each_prompt_completion_is_one_row_with_one_label(tmp_path):
    rows = _three_generator_rows()
    lines, summary, _ = _kto(tmp_path, rows)
    keys = [_key(r) for r in lines]
    assert len(keys) == len(set(keys))  # no (prompt, completion) twice, so never true and false
    # Per prompt: the best (two wins) is desirable, the worst (two losses) undesirable, the middle
    # one (a win and a loss: share 0.5) is contested and left out by default.
    first = {
        r["completion"][0]["content"]: r["label"] for r in lines if _key(r)[0] == "Question 0?"
    }
    assert first == {"x answers 0": True, "z answers 0": False}
    circle = [r for r in lines if _key(r)[0] == "Question 4?"]
    assert circle == []  # every response won once and lost once
    circles = sum(1 for p in range(28) if p % 5 == 4)
    assert summary.kto["contested"] == (28 - circles) + 3 * circles
    assert summary.kto["sides"] == 28 * 3 * 2
    assert summary.kto["completions"] == 28 * 3


@pytest.mark.parametrize(("contested", "middle"), [("desirable", True), ("undesirable", False)])
def test_contested_completions_are_labelled_as_the_option_says(tmp_path, contested, middle):
    lines, summary, _ = _kto(tmp_path, _three_generator_rows(4), kto_contested=contested)
    labels = {r["completion"][0]["content"]: r["label"] for r in lines}
    assert labels["y answers 0"] is middle
    assert labels["x answers 0"] is True and labels["z answers 0"] is False
    assert summary.kto["contested_labelled"] == 4  # the middle response of each prompt
    assert len(lines) == 12


def test_the_threshold_decides_how_much_evidence_makes_a_label(tmp_path):
    # One prompt, x in four pairs: wins three, loses one (share 0.75).
    texts = ["x", "y1", "y2", "y3", "y4"]
    rows = [
        vote(i, pair_id=i, prompt_id=1, a_text="x", b_text=texts[i], choice="a" if i < 4 else "b")
        for i in range(1, 5)
    ]
    strict, _, _ = _kto(tmp_path, rows, "strict", kto_threshold=0.8)
    loose, _, _ = _kto(tmp_path, rows, "loose", kto_threshold=0.75)
    assert "x" not in {r["completion"][0]["content"] for r in strict}
    assert {r["completion"][0]["content"]: r["label"] for r in loose}["x"] is True


def test_completions_with_the_same_text_are_one_completion(tmp_path):
    # Two samples of x with the same text (white space aside), each beating y once.
    rows = [
        vote(1, pair_id=1, prompt_id=1, a_text="Same answer.", b_text="Other.", choice="a"),
        vote(2, pair_id=2, prompt_id=1, a_text="Same  answer.\n", b_text="Third.", choice="a"),
    ]
    lines, summary, _ = _kto(tmp_path, rows)
    assert [(_key(r)[1], r["label"]) for r in lines] == [
        ("Same answer.", True),  # the text of its first occurrence
        ("Other.", False),
        ("Third.", False),
    ]
    assert summary.kto["sides"] == 4 and summary.kto["completions"] == 3


def test_a_tie_is_half_a_win_and_half_a_loss_when_kept(tmp_path):
    rows = [
        vote(1, pair_id=1, prompt_id=1, a_text="x", b_text="y", choice="a"),
        vote(2, pair_id=2, prompt_id=1, a_text="x", b_text="z", choice="tie"),
    ]
    with pytest.raises(EmptyExport):  # ties are dropped by default: no evidence at all
        _kto(tmp_path, rows[1:], "only-tie")
    kept, _, _ = _kto(tmp_path, rows, "keep", tie_policy="keep")
    # x: 1 + 0.5 wins, 0.5 losses -> 0.75 (desirable); y: 0 -> undesirable; z: 0.5 -> contested.
    assert {_key(r)[1]: r["label"] for r in kept} == {"x": True, "y": False}
    dropped, _, _ = _kto(tmp_path, rows, "drop")
    assert {_key(r)[1]: r["label"] for r in dropped} == {"x": True, "y": False}


def test_it_stays_streaming_one_prompt_at_a_time(tmp_path):
    rows = _three_generator_rows(50)
    seen_prompts = []

    def stream():
        for row in rows:
            seen_prompts.append(row["prompt_id"])
            yield row

    out = tmp_path / "s"
    write_export(
        stream(), options=parse_options("trl-kto", {}), out_dir=out, context=CardContext("T", "t")
    )
    assert seen_prompts == sorted(seen_prompts)
    card = (out / "README.md").read_text()
    assert "win share" in card and "kto_threshold" in card and "contested" in card
