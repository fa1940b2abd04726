"""The pipeline's funnel (what each filter left out), why an empty export is empty, and an export
whose rows break their format's rules failing instead of being written."""

from __future__ import annotations

import pytest

from annotate.exports import formats
from annotate.exports.card import CardContext
from annotate.exports.options import parse_options
from annotate.exports.pipeline import EmptyExport, InvalidExport, write_export
from tests.exports.rows import vote


def _write(tmp_path, rows, fmt="trl-dpo-standard", excluded=frozenset(), **filters):
    return write_export(
        iter(rows),
        options=parse_options(fmt, filters),
        out_dir=tmp_path / "out",
        context=CardContext("T", "t"),
        excluded_raters=excluded,
    )


def _empty(tmp_path, rows, fmt="trl-dpo-standard", **filters) -> str:
    with pytest.raises(EmptyExport) as exc:
        _write(tmp_path, rows, fmt, **filters)
    assert not (tmp_path / "out/README.md").exists()  # no card: it is not a dataset
    return str(exc.value)


def test_it_counts_every_vote_it_does_not_count_by_reason(tmp_path):
    rows = [
        vote(1, pair_id=1, rater_id=1, choice="a"),
        vote(2, pair_id=1, rater_id=2, choice="b"),
        vote(3, pair_id=1, rater_id=1, choice="b", revises_id=1),  # rater 1's revision
        vote(4, pair_id=1, rater_id=None, choice="a", source="judge"),
        vote(5, pair_id=1, rater_id=3, choice="a"),  # excluded by gold accuracy
        vote(6, pair_id=2, rater_id=1, choice="a", gold_answer="a"),
    ]
    summary = _write(tmp_path, rows, excluded=frozenset({3}))
    assert summary.votes_seen == 6 and summary.votes_counted == 2
    assert summary.votes_left_out == {
        "gold": 1,
        "other_source": 1,
        "excluded_rater": 1,
        "superseded": 1,
    }
    assert summary.row_count == 1 and summary.pairs_exported == 1


@pytest.mark.parametrize(
    ("rows", "filters", "reason"),
    [
        ([], {}, "the campaign has no votes yet"),
        ([vote(1, gold_answer="a")], {}, "every vote is on a gold pair"),
        ([vote(1)], {"source": "judge"}, "no vote comes from the AI judge"),
        (
            [vote(1, choice="tie"), vote(2, pair_id=2, choice="both_bad")],
            {},
            "every pair was left out — tied (tie_policy=drop): 1; both bad (both_bad_policy=drop): 1",
        ),
        (
            [vote(1, rater_id=1, choice="a"), vote(2, rater_id=2, choice="b")],
            {},
            "with no majority (the top count is shared): 1",
        ),
        (
            [vote(1, a_text="Same.", b_text="Same.  ")],
            {},
            "every row was left out — chosen and rejected are the same text",
        ),
    ],
)
def test_an_empty_export_says_which_stage_left_nothing(tmp_path, rows, filters, reason):
    message = _empty(tmp_path, rows, **filters)
    assert message.startswith("No rows to export: ")
    assert reason in message


def test_an_empty_kto_export_says_every_completion_is_contested(tmp_path):
    rows = [
        vote(1, pair_id=1, prompt_id=1, a_text="x", b_text="y", choice="a"),
        vote(2, pair_id=2, prompt_id=1, a_text="y", b_text="x", choice="a"),
    ]
    assert "every completion is contested" in _empty(tmp_path, rows, "trl-kto")


def test_an_empty_sft_export_says_no_rater_wrote_a_rewrite(tmp_path):
    assert "no rater wrote a rewrite" in _empty(tmp_path, [vote(1)], "sft-messages")


def test_a_row_that_breaks_a_rule_fails_the_export_naming_file_row_and_rule(tmp_path, monkeypatch):
    real = formats.preference_records

    def broken(prompt, found, options):
        for record in real(prompt, found, options):
            if found[0].chosen == "A3":
                record["prompt"] = ""
            yield record

    monkeypatch.setattr(formats, "preference_records", broken)
    rows = [vote(i, pair_id=i) for i in (1, 2, 3, 4)]
    with pytest.raises(InvalidExport, match=r"^data/train\.jsonl row 3: text .*prompt is empty"):
        _write(tmp_path, rows)
    assert not (tmp_path / "out/README.md").exists()


def test_rows_must_arrive_grouped_by_prompt(tmp_path):
    rows = [vote(1, pair_id=1, prompt_id=2), vote(2, pair_id=2, prompt_id=1)]
    with pytest.raises(InvalidExport, match="row 2: grouping"):
        _write(tmp_path, rows)


def test_the_same_row_from_two_pairs_of_a_prompt_is_written_once(tmp_path):
    rows = [
        vote(1, pair_id=1, prompt_id=1, a_text="Good.", b_text="Bad."),
        vote(2, pair_id=2, prompt_id=1, a_text="Good.\n", b_text="Bad."),
        vote(3, pair_id=3, prompt_id=1, a_text="Bad.", b_text="Good.", choice="b"),
    ]
    summary = _write(tmp_path, rows)
    assert summary.row_count == 1 and summary.rows_left_out["duplicate"] == 2
    assert summary.pairs_compared == 3 and summary.pairs_exported == 1


def test_a_split_tie_with_one_order_already_written_leaves_out_both(tmp_path):
    rows = [
        vote(1, pair_id=1, prompt_id=1, a_text="X.", b_text="Y.", choice="a"),
        vote(2, pair_id=2, prompt_id=1, a_text="X.", b_text="Y.", choice="tie"),
    ]
    summary = _write(tmp_path, rows, "trl-reward", tie_policy="split")
    assert summary.row_count == 1  # the preference; the tie alone would read as "Y ≻ X"
    assert summary.rows_left_out["duplicate"] == 2


def test_an_empty_split_is_left_out_whichever_it_is(tmp_path, hf_offline):
    import datasets

    # One prompt, so one split holds everything: with seed 0 and a test share of 0.9 it is test.
    rows = [vote(1, prompt_hash="only")]
    summary = _write(tmp_path, rows, test_fraction=0.9, seed=0)
    assert list(summary.rows) == ["test"] and summary.files == ["data/test.jsonl"]
    assert not (tmp_path / "out/data/train.jsonl").exists()
    loaded = datasets.load_dataset(str(tmp_path / "out"), cache_dir=str(hf_offline))
    assert list(loaded) == ["test"] and loaded["test"].num_rows == 1
