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
