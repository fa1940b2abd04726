"""Bad formats and filters get a clear error naming every problem; good ones normalise."""

from __future__ import annotations

import pytest

from annotate.exports.options import ExportOptionsError, parse_options


def test_it_names_every_bad_filter():
    with pytest.raises(ExportOptionsError) as exc:
        parse_options(
            "trl-dpo-xml",
            {"tie_policy": "maybe", "test_fraction": "1.5", "min_votes": "x", "colour": "red"},
        )
    errors = exc.value.errors
    assert set(errors) == {"format", "tie_policy", "test_fraction", "min_votes", "colour"}
    assert "trl-dpo-conversational" in errors["format"]
    assert "drop, keep, split" in errors["tie_policy"]
    assert "below 1.0" in errors["test_fraction"]
    assert "expected a number" in errors["min_votes"]
    assert "unknown filter" in errors["colour"]


def test_it_refuses_mixing_human_and_judge_labels_outside_raw_votes():
    with pytest.raises(ExportOptionsError, match="separate sources"):
        parse_options("trl-dpo-conversational", {"source": "all"})
    assert parse_options("raw-csv", {"source": "all"}).source == "all"


def test_it_parses_form_strings_and_keeps_defaults():
    options = parse_options(
        None, {"test_fraction": "0.1", "seed": "3", "include_gold": "on", "min_gold_accuracy": ""}
    )
    assert options.format == "trl-dpo-conversational"
    assert (options.test_fraction, options.seed, options.include_gold) == (0.1, 3, True)
    assert options.filters()["tie_policy"] == "drop"
    assert list(options.filters()) == sorted(options.filters())


NUMBERS = ["min_gold_accuracy", "min_votes", "test_fraction", "seed", "kto_threshold"]


@pytest.mark.parametrize("field", NUMBERS)
@pytest.mark.parametrize(
    "value", ["nan", "NaN", "inf", "-inf", "Infinity", float("nan"), float("inf"), "1e999"]
)
def test_it_refuses_nan_and_infinity_naming_the_field(field, value):
    with pytest.raises(ExportOptionsError) as exc:
        parse_options("trl-kto", {field: value})
    assert list(exc.value.errors) == [field]
    assert "finite" in exc.value.errors[field]


@pytest.mark.parametrize("field", NUMBERS)
@pytest.mark.parametrize("value", [True, [1], {"a": 1}, "ten"])
def test_it_refuses_what_is_not_a_number(field, value):
    with pytest.raises(ExportOptionsError) as exc:
        parse_options("trl-kto", {field: value})
    assert list(exc.value.errors) == [field]


@pytest.mark.parametrize("field", ["min_votes", "seed"])
def test_whole_numbers_must_be_whole(field):
    with pytest.raises(ExportOptionsError, match="whole number"):
        parse_options("trl-kto", {field: 2.5})
    with pytest.raises(ExportOptionsError, match="whole number"):
        parse_options("trl-kto", {field: "2.5"})
    assert getattr(parse_options("trl-kto", {field: 3.0}), field) == 3
    assert getattr(parse_options("trl-kto", {field: " 4 "}), field) == 4


def test_it_checks_the_kto_options():
    options = parse_options("trl-kto", {"kto_threshold": "0.9", "kto_contested": "undesirable"})
    assert (options.kto_threshold, options.kto_contested) == (0.9, "undesirable")
    with pytest.raises(ExportOptionsError) as exc:
        parse_options("trl-kto", {"kto_threshold": 0.5, "kto_contested": "maybe"})
    assert "above 0.5" in exc.value.errors["kto_threshold"]  # 0.5 would label a split both ways
    assert "drop, desirable, undesirable" in exc.value.errors["kto_contested"]


@pytest.mark.parametrize("fmt", ["hh-rlhf", "openai-dpo"])
def test_it_refuses_to_keep_ties_in_a_format_without_a_tie_column(fmt):
    with pytest.raises(ExportOptionsError, match="no tie column") as exc:
        parse_options(fmt, {"tie_policy": "keep"})
    assert list(exc.value.errors) == ["tie_policy"]
    assert parse_options(fmt, {"tie_policy": "split"}).tie_policy == "split"
    assert parse_options("trl-reward", {"tie_policy": "keep"}).tie_policy == "keep"


def test_source_all_fits_the_raw_step_labels_but_not_trl_stepwise():
    assert parse_options("steps", {"source": "all"}).source == "all"
    with pytest.raises(ExportOptionsError, match="raw-vote formats"):
        parse_options("trl-stepwise", {"source": "all"})
