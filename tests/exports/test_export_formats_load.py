"""Every format loads with `datasets` (file by file and through the card's configs) with exact columns."""

from __future__ import annotations

import json

import datasets
import pytest

from annotate.exports.card import CardContext
from annotate.exports.formats import RAW_COLUMNS
from annotate.exports.options import (
    BON_FORMATS,
    CONVERSATION_FORMATS,
    FORMATS,
    RANKING_FORMATS,
    RATING_FORMATS,
    STEP_FORMATS,
    parse_options,
)
from annotate.exports.pipeline import write_export
from annotate.exports.texts import text_key
from annotate.exports.validate import validate_records
from tests.exports.rows import vote

CONV = datasets.List({"role": datasets.Value("string"), "content": datasets.Value("string")})
STR = datasets.Value("string")

EXPECTED = {
    "trl-dpo-conversational": {"prompt": CONV, "chosen": CONV, "rejected": CONV},
    "trl-dpo-standard": {"prompt": STR, "chosen": STR, "rejected": STR},
    "trl-reward": {
        "prompt": CONV,
        "chosen": CONV,
        "rejected": CONV,
        "margin": datasets.Value("float64"),
    },
    "trl-kto": {"prompt": CONV, "completion": CONV, "label": datasets.Value("bool")},
    "sft-messages": {"messages": CONV},
    "hh-rlhf": {"chosen": STR, "rejected": STR},
    "openai-dpo": {
        "input": {"messages": CONV},
        "preferred_output": CONV,
        "non_preferred_output": CONV,
    },
}


def _rows():
    return [
        # pair 1: two raters pick A; a system prompt and a two-turn conversation
        vote(
            1,
            pair_id=1,
            rater_id=1,
            choice="a",
            system="Be brief.",
            messages=[
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": "Capital of France?"},
            ],
            a_text="Paris.",
            b_text="Lyon.",
        ),
        vote(
            2,
            pair_id=1,
            rater_id=2,
            choice="a",
            system="Be brief.",
            a_text="Paris.",
            b_text="Lyon.",
            messages=[
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": "Capital of France?"},
            ],
        ),
        # pair 2: B, graded, with a rewrite
        vote(3, pair_id=2, rater_id=1, choice="b", strength=2, rewrite="A better answer é😀"),
        # pair 3: both bad with a rewrite; pair 4: tie
        vote(4, pair_id=3, rater_id=1, choice="both_bad", strength=0, rewrite="Fixed answer"),
        vote(5, pair_id=4, rater_id=1, choice="tie", strength=0),
    ]


def _tricky_rows():
    """Pairs no format may turn into a bad row (each is left out, or written as it should be)."""

    def pair(jid, pair_id, choice="a", *, prompt_id=None, rater_id=1, **extra):
        return vote(
            jid,
            pair_id=pair_id,
            prompt_id=prompt_id or pair_id,
            prompt_hash=f"hash-{prompt_id or pair_id}",
            rater_id=rater_id,
            choice=choice,
            **extra,
        )

    return [
        # both bad: the first rewrite is response A again (white space aside), the second rewrites
        pair(10, 5, "both_bad", a_text="A5 answer.", rewrite="  A5   answer.\n"),
        pair(11, 5, "both_bad", rater_id=2, a_text="A5 answer.", rewrite="Fixed five."),
        # both bad: the only rewrite is response B unchanged -> not a rewrite
        pair(12, 6, "both_bad", rewrite="B6"),
        # a tie (and, below, a preference) between two candidates with the same text
        pair(13, 7, "tie", a_text="Same.", b_text="Same."),
        pair(14, 8, "a", a_text="Twin.", b_text=" Twin. "),
        # two pairs of one prompt whose candidates have the same texts: one row, not two
        pair(15, 9, "a", prompt_id=9, a_text="Nine.", b_text="Niner."),
        pair(16, 10, "a", prompt_id=9, a_text="Nine. ", b_text="Niner."),
        # a prompt whose last turn is the assistant's, one that does not alternate, a non-string
        pair(
            17,
            11,
            messages=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}],
        ),
        pair(
            18, 12, messages=[{"role": "user", "content": "Hi"}, {"role": "user", "content": "?"}]
        ),
        pair(19, 13, messages=[{"role": "user", "content": ["not", "text"]}]),
        # a byte-order mark is removed; an empty or NUL-holding response is left out
        pair(20, 14, a_text="\ufeffBOM answer.", system="\ufeffSystem."),
        pair(21, 15, a_text=""),
        pair(22, 16, "b", b_text="nul\x00here"),
        # an HH turn marker inside a response would read as a second turn
        pair(23, 17, a_text="Sure.\n\nHuman: now pretend"),
        # a graded preference whose margin the old rule put at 0: a(1), a(1), b(3)
        pair(24, 18, "a", strength=1),
        pair(25, 18, "a", rater_id=2, strength=1),
        pair(26, 18, "b", rater_id=3, strength=3),
    ]


def _export(tmp_path, fmt, rows=None, **filters):
    out = tmp_path / fmt
    summary = write_export(
        iter(_rows() if rows is None else rows),
        options=parse_options(fmt, filters),
        out_dir=out,
        context=CardContext("Helpfulness", "helpfulness"),
        rater_names={1: "rater-one", 2: "rater-two"},
    )
    return out, summary


@pytest.mark.parametrize("fmt", sorted(EXPECTED))
def test_it_writes_each_format_that_datasets_loads_with_exact_columns(tmp_path, hf_offline, fmt):
    out, summary = _export(tmp_path, fmt, both_bad_policy="rewrite")
    assert summary.row_count > 0
    by_file = datasets.load_dataset(
        "json", data_files={"train": str(out / "data/train.jsonl")}, cache_dir=str(hf_offline)
    )["train"]
    assert by_file.features == datasets.Features(EXPECTED[fmt])
    by_card = datasets.load_dataset(str(out), cache_dir=str(hf_offline))
    assert list(by_card) == ["train"]
    assert by_card["train"].features == by_file.features
    assert by_card["train"].num_rows == summary.row_count


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _pairs_of(fmt, row):
    """(chosen text, rejected text) of a paired row."""
    if fmt == "trl-dpo-standard":
        return row["chosen"], row["rejected"]
    if fmt == "hh-rlhf":
        return tuple(r.rsplit("\n\nAssistant: ", 1)[1] for r in (row["chosen"], row["rejected"]))
    if fmt == "openai-dpo":
        return row["preferred_output"][0]["content"], row["non_preferred_output"][0]["content"]
    return row["chosen"][0]["content"], row["rejected"][0]["content"]


PAIRED = ["trl-dpo-conversational", "trl-dpo-standard", "trl-reward", "hh-rlhf", "openai-dpo"]


@pytest.mark.parametrize(
    ("fmt", "tie_policy"),
    [
        (fmt, policy)
        for fmt in sorted(EXPECTED)
        for policy in ("drop", "keep", "split")
        # HH-RLHF and OpenAI rows have no tie column: parse_options refuses "keep" for them.
        if not (policy == "keep" and fmt in ("hh-rlhf", "openai-dpo"))
    ],
)
def test_no_format_writes_a_row_a_validator_from_outside_refuses(
    tmp_path, hf_offline, fmt, tie_policy
):
    rows = _rows() + _tricky_rows()
    out, summary = _export(tmp_path, fmt, rows, both_bad_policy="rewrite", tie_policy=tie_policy)
    written = _lines(out / "data/train.jsonl")
    # The whole file as one group, as a reader would see it: every rule, duplicates file-wide.
    assert validate_records(fmt, written, tie_policy=tie_policy) == summary.row_count
    loaded = datasets.load_dataset(str(out), cache_dir=str(hf_offline))["train"]
    assert loaded.num_rows == len(written)
    text = json.dumps(written, ensure_ascii=False)
    assert "\ufeff" not in text  # the byte-order marks were removed
    assert "\\u0000" not in text  # the NUL-holding response was left out
    if fmt == "hh-rlhf":
        assert "pretend" not in text  # its "\n\nHuman:" would have read as a second turn
    if fmt in PAIRED:
        pairs = [_pairs_of(fmt, r) for r in written]
        assert all(text_key(c) != text_key(r) for c, r in pairs)  # chosen is never rejected
        assert ("Fixed five.", "A5 answer.") in pairs  # the second rater's real rewrite
        assert not any("B6" == c for c, _ in pairs)
        assert sum(1 for c, r in pairs if (c, r) == ("Nine.", "Niner.")) == 1
        assert ("BOM answer.", "B14") in pairs
    assert summary.dropped["prompt_invalid"] == 3
    assert summary.dropped["rewrite_unchanged"] == (0 if fmt == "sft-messages" else 1)
    card = (out / "README.md").read_text()
    assert "votes read" in card and "rows written" in card


def test_it_writes_trl_conversational_dpo_with_the_system_prompt_first(tmp_path):
    out, _ = _export(tmp_path, "trl-dpo-conversational")
    lines = [json.loads(line) for line in (out / "data/train.jsonl").read_text().splitlines()]
    # pair 1 (A chosen) and pair 2 (B chosen); tie and both-bad left out by default.
    assert len(lines) == 2
    assert lines[0] == {
        "prompt": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Capital of France?"},
        ],
        "chosen": [{"role": "assistant", "content": "Paris."}],
        "rejected": [{"role": "assistant", "content": "Lyon."}],
    }
    assert lines[1]["chosen"] == [{"role": "assistant", "content": "B2"}]
    assert lines[1]["prompt"] == [{"role": "user", "content": "Question 2?"}]


def test_it_applies_tie_and_both_bad_policies(tmp_path):
    out, summary = _export(tmp_path, "trl-reward", tie_policy="split", both_bad_policy="rewrite")
    rows = [json.loads(x) for x in (out / "data/train.jsonl").read_text().splitlines()]
    pairs = [(r["chosen"][0]["content"], r["rejected"][0]["content"], r["margin"]) for r in rows]
    assert pairs == [
        ("Paris.", "Lyon.", 1.0),
        ("B2", "A2", 2.0),  # graded strength 2 -> margin 2
        ("Fixed answer", "A3", 1.0),  # rewrite ≻ each response
        ("Fixed answer", "B3", 1.0),
        ("A4", "B4", 0.0),  # a tie split into both orders
        ("B4", "A4", 0.0),
    ]
    assert summary.labels == {"a": 1, "b": 1, "both_bad": 1, "tie": 1}

    out, _ = _export(tmp_path / "keep", "trl-dpo-conversational", tie_policy="keep")
    rows = [json.loads(x) for x in (out / "data/train.jsonl").read_text().splitlines()]
    assert [r["tie"] for r in rows] == [False, False, True]


def test_it_writes_hh_openai_kto_and_sft_shapes(tmp_path):
    out, _ = _export(tmp_path, "hh-rlhf")
    first = json.loads((out / "data/train.jsonl").read_text().splitlines()[0])
    # HH has no system turn: the system prompt opens the first Human turn.
    assert first["chosen"] == (
        "\n\nHuman: Be brief.\n\nHi\n\nAssistant: Hello!\n\nHuman: Capital of France?"
        "\n\nAssistant: Paris."
    )
    assert first["rejected"].endswith("\n\nAssistant: Lyon.")

    out, _ = _export(tmp_path, "openai-dpo")
    first = json.loads((out / "data/train.jsonl").read_text().splitlines()[0])
    assert first["input"]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert first["preferred_output"] == [{"role": "assistant", "content": "Paris."}]
    assert first["non_preferred_output"] == [{"role": "assistant", "content": "Lyon."}]

    out, _ = _export(tmp_path, "trl-kto")
    rows = [json.loads(x) for x in (out / "data/train.jsonl").read_text().splitlines()]
    assert [(r["completion"][0]["content"], r["label"]) for r in rows] == [
        ("Paris.", True),
        ("Lyon.", False),
        ("B2", True),
        ("A2", False),
    ]

    out, _ = _export(tmp_path, "sft-messages")
    rows = [json.loads(x) for x in (out / "data/train.jsonl").read_text().splitlines()]
    assert [r["messages"][-1] for r in rows] == [
        {"role": "assistant", "content": "A better answer é😀"},
        {"role": "assistant", "content": "Fixed answer"},
    ]


@pytest.mark.parametrize("fmt", ["raw-jsonl", "raw-csv", "raw-parquet"])
def test_it_writes_raw_votes_with_one_typed_schema(tmp_path, hf_offline, fmt):
    out, summary = _export(tmp_path, fmt)
    assert summary.row_count == 5
    ds = datasets.load_dataset(str(out), cache_dir=str(hf_offline))["train"]
    assert ds.features["judgment_id"] == datasets.Value("int64")
    assert ds.features["strength"] == datasets.Value("int64")
    assert ds.features["judge_shown"] == datasets.Value("bool")
    assert ds.features["rater"] == STR
    assert ds["rater"] == ["rater-one", "rater-two", "rater-one", "rater-one", "rater-one"]
    assert ds["scale_value"] == [1.0, 1.0, -2.0, None, 0.0]
    assert ds["shown_left"] == ["a"] * 5


def test_it_splits_by_prompt_so_no_prompt_is_in_both(tmp_path):
    rows = [
        vote(
            i,
            pair_id=i,
            prompt_id=i // 2,
            prompt_hash=f"p{i // 2}",
            messages=[{"role": "user", "content": f"Prompt {i // 2}"}],
            choice="a",
        )
        for i in range(1, 201)
    ]
    out = tmp_path / "split"
    summary = write_export(
        iter(rows),
        options=parse_options("trl-dpo-standard", {"test_fraction": 0.25, "seed": 7}),
        out_dir=out,
        context=CardContext("T", "t"),
    )
    train = {json.loads(x)["prompt"] for x in (out / "data/train.jsonl").read_text().splitlines()}
    test = {json.loads(x)["prompt"] for x in (out / "data/test.jsonl").read_text().splitlines()}
    assert train and test and not train & test
    # Prompts, not pairs, are split: both pairs of a prompt land on the same side.
    assert summary.rows["train"] + summary.rows["test"] == 200
    assert 0.1 < summary.rows["test"] / 200 < 0.4


@pytest.mark.parametrize("fmt", ["raw-jsonl", "raw-csv", "raw-parquet"])
def test_raw_votes_of_the_tricky_pairs_load_and_validate(tmp_path, hf_offline, fmt):
    out, summary = _export(tmp_path, fmt, _rows() + _tricky_rows())
    ds = datasets.load_dataset(str(out), cache_dir=str(hf_offline))["train"]
    assert ds.num_rows == summary.row_count == len(_rows()) + len(_tricky_rows())
    records = [
        dict(zip(ds.column_names, values, strict=True))
        for values in zip(*ds.to_dict().values(), strict=True)
    ]
    assert validate_records(fmt, records, raw_columns=RAW_COLUMNS) == ds.num_rows


def test_every_format_is_covered_here():
    # The best-of-N formats load in tests/exports/test_export_best_of_n.py, the raw rankings of a
    # ranking campaign in tests/exports/test_ranking_exports.py, the raw ratings of a rating
    # campaign in tests/exports/test_rating_exports.py, the step formats of a step-label campaign
    # in tests/exports/test_step_exports.py, a live campaign's conversations in
    # tests/exports/test_export_live.py.
    loaded_elsewhere = {
        *BON_FORMATS,
        *RANKING_FORMATS,
        *RATING_FORMATS,
        *STEP_FORMATS,
        *CONVERSATION_FORMATS,
    }
    assert set(EXPECTED) | {"raw-jsonl", "raw-csv", "raw-parquet", *loaded_elsewhere} == set(
        FORMATS
    )
