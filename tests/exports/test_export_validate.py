"""The format validators, row by row: a valid row passes; each broken rule is named with its row."""

from __future__ import annotations

import math

import pytest

from annotate.exports.formats import RAW_COLUMNS
from annotate.exports.validate import RULES, InvalidRow, Validator, validate_records

USER = {"role": "user", "content": "Capital of France?"}
SYSTEM = {"role": "system", "content": "Be brief."}


def _reply(text):
    return [{"role": "assistant", "content": text}]


GOOD = {
    "trl-dpo-conversational": {
        "prompt": [SYSTEM, USER],
        "chosen": _reply("Paris."),
        "rejected": _reply("Lyon."),
    },
    "trl-dpo-standard": {"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "Lyon."},
    "trl-reward": {
        "prompt": [USER],
        "chosen": _reply("Paris."),
        "rejected": _reply("Lyon."),
        "margin": 1.0,
    },
    "trl-kto": {"prompt": [USER], "completion": _reply("Paris."), "label": True},
    "sft-messages": {"messages": [SYSTEM, USER, *_reply("Paris.")]},
    "hh-rlhf": {
        "chosen": "\n\nHuman: Be brief.\n\nCapital?\n\nAssistant: Paris.",
        "rejected": "\n\nHuman: Be brief.\n\nCapital?\n\nAssistant: Lyon.",
    },
    "openai-dpo": {
        "input": {"messages": [SYSTEM, USER]},
        "preferred_output": _reply("Paris."),
        "non_preferred_output": _reply("Lyon."),
    },
    "raw-jsonl": {
        **dict.fromkeys(RAW_COLUMNS, ""),
        "judgment_id": 1,
        "source": "human",
        "choice": "a",
        "scale_value": 1.0,
    },
}


def _check(fmt, *rows, **options):
    options.setdefault("raw_columns", RAW_COLUMNS)
    return validate_records(fmt, list(rows), **options)


def _broken(fmt, *rows, **options) -> InvalidRow:
    with pytest.raises(InvalidRow) as exc:
        _check(fmt, *rows, **options)
    return exc.value


@pytest.mark.parametrize("fmt", sorted(GOOD))
def test_a_valid_row_passes_and_the_same_row_twice_does_not(fmt):
    assert _check(fmt, GOOD[fmt]) == 1
    again = _broken(fmt, GOOD[fmt], GOOD[fmt])
    assert again.row == 2
    assert again.rule in ("duplicate", "kto_one_label", "raw_vote")


@pytest.mark.parametrize("fmt", sorted(GOOD))
def test_a_row_needs_exactly_its_formats_columns(fmt):
    extra = {**GOOD[fmt], "extra": 1}
    assert _broken(fmt, extra).rule == "columns"
    missing = dict(GOOD[fmt])
    missing.pop(next(iter(missing)))
    assert _broken(fmt, missing).rule == "columns"
    assert _broken(fmt, ["not", "a", "row"]).rule == "columns"


PAIRED = ["trl-dpo-conversational", "trl-reward", "openai-dpo"]


def _with(fmt, **changes):
    row = {**GOOD[fmt], **changes}
    return row


def _prompt_of(fmt, messages):
    if fmt == "openai-dpo":
        return {"input": {"messages": messages}}
    return {"prompt": messages}


@pytest.mark.parametrize("fmt", PAIRED + ["trl-kto"])
@pytest.mark.parametrize(
    ("messages", "rule"),
    [
        (
            [USER, {"role": "assistant", "content": "Hm?"}],
            "prompt_roles",
        ),  # ends with the assistant
        ([USER, USER], "prompt_roles"),  # not alternating
        ([{"role": "assistant", "content": "Hi"}, USER], "prompt_roles"),  # assistant opens
        ([USER, SYSTEM], "prompt_roles"),  # system not first
        ([SYSTEM], "prompt_roles"),  # no user turn
        ([], "message"),
        ([{"role": "tool", "content": "x"}], "message"),
        ([{"role": "user", "content": "x", "name": "bob"}], "message"),
        ([{"role": "user", "content": ["a", "list"]}], "text"),  # non-string content
        ([{"role": "user", "content": "  "}], "text"),  # empty
        ([{"role": "user", "content": "a\x00b"}], "text"),  # NUL
        ([{"role": "user", "content": "\ufeffBOM"}], "text"),  # byte-order mark
    ],
)
def test_a_prompt_is_system_then_alternating_turns_ending_with_the_user(fmt, messages, rule):
    row = _with(fmt, **_prompt_of(fmt, messages))
    broken = _broken(fmt, GOOD[fmt], row)
    assert (broken.row, broken.rule) == (2, rule)
    assert RULES[rule] in str(broken) and "row 2" in str(broken)


@pytest.mark.parametrize("fmt", PAIRED)
def test_chosen_and_rejected_are_one_assistant_message_each_and_differ(fmt):
    chosen, rejected = (
        ("preferred_output", "non_preferred_output")
        if fmt == "openai-dpo"
        else ("chosen", "rejected")
    )
    assert _broken(fmt, _with(fmt, **{chosen: _reply("Lyon.")})).rule == "chosen_is_rejected"
    # The same text but for white space is the same text.
    assert _broken(fmt, _with(fmt, **{chosen: _reply(" Lyon.\n")})).rule == "chosen_is_rejected"
    two = [*_reply("Paris."), *_reply("More.")]
    assert _broken(fmt, _with(fmt, **{chosen: two})).rule == "completion"
    assert _broken(fmt, _with(fmt, **{rejected: [USER]})).rule == "completion"
    assert _broken(fmt, _with(fmt, **{chosen: "Paris."})).rule == "completion"
    assert _broken(fmt, _with(fmt, **{rejected: _reply("")})).rule == "text"
    assert _broken(fmt, _with(fmt, **{rejected: _reply(3)})).rule == "text"


def test_standard_rows_are_non_empty_strings_that_differ():
    fmt = "trl-dpo-standard"
    assert _broken(fmt, _with(fmt, chosen="")).rule == "text"
    assert _broken(fmt, _with(fmt, prompt=["Capital?"])).rule == "text"
    assert _broken(fmt, _with(fmt, rejected="Paris. ")).rule == "chosen_is_rejected"
    assert _broken(fmt, _with(fmt, chosen="Par\x00is")).rule == "text"


@pytest.mark.parametrize("margin", [math.nan, math.inf, -1.0, "1.0", True, None])
def test_a_reward_margin_is_a_finite_non_negative_number(margin):
    assert _broken("trl-reward", _with("trl-reward", margin=margin)).rule == "margin"


def test_a_preference_has_a_margin_above_zero_and_a_tie_exactly_zero():
    fmt = "trl-reward"
    assert _broken(fmt, _with(fmt, margin=0.0)).rule == "margin"
    tie = {**_with(fmt, margin=0.0), "tie": True}
    assert _check(fmt, tie, tie_policy="keep") == 1
    assert _broken(fmt, {**tie, "margin": 0.5}, tie_policy="keep").rule == "margin"
    assert _broken(fmt, {**tie, "tie": "yes"}, tie_policy="keep").rule == "tie"
    assert _broken(fmt, tie).rule == "columns"  # no tie column unless ties are kept


def test_a_split_tie_needs_both_orders_in_its_prompt():
    fmt = "trl-reward"
    one = _with(fmt, margin=0.0)
    other = _with(fmt, margin=0.0, chosen=_reply("Lyon."), rejected=_reply("Paris."))
    assert _check(fmt, one, other, tie_policy="split") == 2
    lonely = _broken(fmt, one, tie_policy="split")
    assert lonely.rule == "tie"
    validator = Validator(fmt, tie_policy="split")
    validator.check(one, group=1)
    with pytest.raises(InvalidRow, match="row 1 has no row in the other order"):
        validator.check(_with(fmt, prompt=[{"role": "user", "content": "Other?"}]), group=2)


def test_kto_rows_have_one_boolean_label_per_completion():
    fmt = "trl-kto"
    assert _broken(fmt, _with(fmt, label="true")).rule == "label"
    assert _broken(fmt, _with(fmt, label=1)).rule == "label"
    flipped = _with(fmt, label=False, completion=_reply("Paris. "))
    broken = _broken(fmt, GOOD[fmt], flipped)
    assert (broken.row, broken.rule) == (2, "kto_one_label")
    other_prompt = _with(fmt, prompt=[{"role": "user", "content": "Other?"}], label=False)
    assert _check(fmt, GOOD[fmt], other_prompt) == 2


def test_sft_conversations_end_with_the_assistant():
    fmt = "sft-messages"
    assert _broken(fmt, {"messages": [SYSTEM, USER]}).rule == "sft_roles"
    assert _broken(fmt, {"messages": [USER, USER, *_reply("x")]}).rule == "sft_roles"
    assert _broken(fmt, {"messages": [*_reply("x")]}).rule == "sft_roles"
    assert _broken(fmt, {"messages": [USER, *_reply("")]}).rule == "text"


@pytest.mark.parametrize(
    ("chosen", "rule"),
    [
        ("Human: Capital?\n\nAssistant: Paris.", "hh_transcript"),  # no leading turn marker
        ("Be brief.\n\nHuman: Capital?\n\nAssistant: Paris.", "hh_transcript"),  # system first
        ("\n\nHuman: Capital?", "hh_transcript"),  # ends with the Human
        ("\n\nHuman: A\n\nHuman: B\n\nAssistant: Paris.", "hh_transcript"),  # not alternating
        ("\n\nHuman: Capital?\n\nAssistant: ", "text"),  # empty reply
        ("\n\nHuman: Other?\n\nAssistant: Paris.", "hh_prefix"),
        ("\n\nHuman: Be brief.\n\nCapital?\n\nAssistant: Lyon.", "chosen_is_rejected"),
    ],
)
def test_hh_transcripts_alternate_from_human_and_share_the_prefix(chosen, rule):
    assert _broken("hh-rlhf", _with("hh-rlhf", chosen=chosen)).rule == rule


def test_openai_input_is_an_object_with_messages_only():
    fmt = "openai-dpo"
    assert _broken(fmt, _with(fmt, input=[SYSTEM, USER])).rule == "openai_input"
    assert _broken(fmt, _with(fmt, input={"messages": [USER], "tools": []})).rule == "openai_input"


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"source": "robot"}, "raw_vote"),
        ({"choice": "left"}, "raw_vote"),
        ({"scale_value": math.nan}, "raw_vote"),
        ({"scale_value": "1"}, "raw_vote"),
        ({"rationale": "nul\x00"}, "text"),
    ],
)
def test_raw_votes_have_known_values(change, rule):
    assert _broken("raw-jsonl", {**GOOD["raw-jsonl"], **change}).rule == rule


def test_rows_of_one_prompt_must_come_together():
    validator = Validator("trl-dpo-standard")
    validator.check(GOOD["trl-dpo-standard"], group=1)
    validator.check({**GOOD["trl-dpo-standard"], "prompt": "Other?"}, group=2)
    with pytest.raises(InvalidRow) as exc:
        validator.check(GOOD["trl-dpo-standard"], group=1)
    assert (exc.value.row, exc.value.rule) == (3, "grouping")


def test_grouped_rows_only_compare_within_their_prompt():
    """With groups, memory holds one prompt: the same texts under another prompt are fine."""
    validator = Validator("trl-kto")
    validator.check(GOOD["trl-kto"], group=1)
    validator.check({**GOOD["trl-kto"], "label": False}, group=2)
    with pytest.raises(InvalidRow, match="kto_one_label"):
        validator.check({**GOOD["trl-kto"], "label": False}, group=2)


def _outcome(check) -> tuple | None:
    try:
        check()
    except InvalidRow as exc:
        return (exc.row, exc.rule, exc.detail)
    return None


@pytest.mark.parametrize("fmt", sorted(GOOD))
def test_checking_a_prompts_rows_together_finds_what_row_by_row_finds(fmt):
    good = GOOD[fmt]
    cases = [
        [good],
        [good, good],  # a duplicate, row 2
        [good, {**good, "extra": 1}],  # wrong columns, row 2
        ["not a row"],
        [],
    ]
    for rows in cases:
        one, together = (
            Validator(fmt, raw_columns=RAW_COLUMNS),
            Validator(fmt, raw_columns=RAW_COLUMNS),
        )

        def row_by_row(rows=rows, v=one):
            for row in rows:
                v.check(row, group=1)

        assert _outcome(lambda rows=rows, v=together: v.check_group(rows, 1)) == _outcome(
            row_by_row
        )
        assert together.rows == one.rows


def test_a_group_checked_together_after_a_later_one_is_a_grouping_error_at_its_first_row():
    validator = Validator("trl-dpo-standard")
    validator.check_group([GOOD["trl-dpo-standard"]], 2)
    with pytest.raises(InvalidRow) as exc:
        validator.check_group([{**GOOD["trl-dpo-standard"], "prompt": "Other?"}], 1)
    assert (exc.value.row, exc.value.rule) == (2, "grouping")
