"""Export options: the format and the filters, validated into one frozen object.

Filters arrive as a plain dict (from the page form, the API, the management command or the Export row)
and are checked here once, so every caller gets the same clear error for a bad value. Unknown keys
are refused rather than ignored: a typo must not silently produce a different dataset.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

# Format name -> (short description, is aggregated per pair)
FORMATS: dict[str, str] = {
    "trl-dpo-conversational": "TRL DPO, conversational (prompt/chosen/rejected as message lists)",
    "trl-dpo-standard": "TRL DPO, standard (prompt/chosen/rejected as strings)",
    "trl-reward": "TRL reward modelling (conversational chosen/rejected + margin)",
    "trl-kto": "TRL KTO, unpaired (prompt/completion/label)",
    "sft-messages": "SFT messages from raters' rewrites",
    "hh-rlhf": "Anthropic HH-RLHF transcripts (chosen/rejected strings)",
    "openai-dpo": "OpenAI preference fine-tuning (input/preferred_output/non_preferred_output)",
    "raw-jsonl": "Raw votes, one row per judgment (JSON Lines)",
    "raw-csv": "Raw votes, one row per judgment (CSV)",
    "raw-parquet": "Raw votes, one row per judgment (Parquet)",
    "bon-sft": "Best-of-N SFT: each prompt's chosen sample as a messages conversation",
    "bon-dpo": "Best-of-N preference pairs: best vs worst sample (TRL DPO, conversational)",
    "ranking": "Raw rankings, one row per ranking (prompt, completions, ranks, shown order)",
    "ratings": "Raw ratings, one row per rated response with a column per aspect (HelpSteer-style)",
    "trl-stepwise": "TRL stepwise supervision (PRM): prompt, completions = steps, labels = booleans",
    "steps": "Raw step labels, one row per vote (every rater's +1 / 0 / -1 per step)",
    "conversations": "Live conversations, one row per conversation (every turn, both replies, "
    "the choice, the positions and what it continued with)",
}
RAW_FORMATS = {"raw-jsonl", "raw-csv", "raw-parquet"}
# Formats written from the stored best-of-N choices (annotate/exports/best_of_n.py), not votes.
BON_FORMATS = ("bon-sft", "bon-dpo")
BON_METHODS = ("majority", "judge", "verifier", "human")
# Filters that only the best-of-N formats read.
BON_FILTERS = ("bon_method", "bon_correct_only")
# Formats whose rows may carry a ``tie`` column (tie_policy "keep" marks the kept ties in it). The
# others have no place to say a row is a tie, so a kept tie would read as a real preference.
TIE_COLUMN_FORMATS = ("trl-dpo-conversational", "trl-dpo-standard", "trl-reward")
DEFAULT_FORMAT = "trl-dpo-conversational"
# Ranking campaigns: the raw format written from the rankings themselves (annotate/exports/
# rankings.py), and how the pairwise formats derive pairs from a ranking.
RANKING_FORMATS = ("ranking",)
RANKING_PAIRS = ("all", "best_vs_rest")
# Rating campaigns: the raw format (annotate/exports/ratings.py), and how the pairwise formats
# binarise the scores (annotate/protocols/rating.py). Filters only rating campaigns read.
RATING_FORMATS = ("ratings",)
RATING_PAIRS = ("best_vs_each", "best_vs_random")
RATING_FILTERS = ("rating_pairs", "rating_min_gap")
# Step-label campaigns (annotate/exports/steps.py): TRL's stepwise format and the raw labels; a
# neutral step (0) becomes True or False in TRL's booleans, or is left out of the row.
STEP_FORMATS = ("trl-stepwise", "steps")
# Live campaigns: whole conversations (annotate/exports/conversations.py); their per-turn pairs
# come out of every pairwise format.
CONVERSATION_FORMATS = ("conversations",)
# Formats of one row per vote, which can carry human and judge rows side by side (source=all).
ALL_SOURCE_FORMATS = (*RAW_FORMATS, "steps", "ratings")
STEP_NEUTRAL = ("true", "false", "drop")

METHODS = ("majority", "mean_strength", "dawid_skene", "mace")
# dawid_skene and mace are fitted to every counted vote at once (analytics/crowd_models.py).
TIE_POLICIES = ("drop", "keep", "split")
BOTH_BAD_POLICIES = ("drop", "rewrite")
SOURCES = ("human", "judge", "all")
# A pair an adjudicator settled (annotate/services/adjudication.py): its final label replaces the
# aggregate of the human votes ("prefer"), or the votes decide as if it were not there ("ignore").
ADJUDICATED = ("prefer", "ignore")
KTO_CONTESTED = ("drop", "desirable", "undesirable")
# Filters that only the KTO format reads (the card lists them for KTO exports only).
KTO_FILTERS = ("kto_contested", "kto_threshold")
MAX_VIEW = 2000  # characters of the ``view`` filter (a browse page's query string)


class ExportOptionsError(ValueError):
    """A bad format or filter. ``errors`` maps the field to a message a researcher can act on."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


@dataclass(frozen=True)
class ExportOptions:
    format: str = DEFAULT_FORMAT
    method: str = "majority"  # majority | mean_strength | dawid_skene | mace
    tie_policy: str = "drop"  # drop | keep | split
    both_bad_policy: str = "drop"  # drop | rewrite
    source: str = "human"  # human | judge | all (all: one-row-per-vote formats only)
    include_gold: bool = False
    min_gold_accuracy: float = 0.0  # raters below it on gold pairs are left out (0 = keep all)
    min_votes: int = 1  # pairs with fewer counted votes are left out
    test_fraction: float = 0.0  # share of PROMPTS in the test split (0 = train only)
    seed: int = 0
    # KTO: a completion is desirable when its win share is >= kto_threshold, undesirable when it
    # is <= 1 - kto_threshold; in between it is contested (see annotate/exports/kto.py).
    kto_threshold: float = 0.75
    kto_contested: str = "drop"  # drop | desirable | undesirable
    # Responses with a reasoning trace: the final answer only, unless asked for (then the trace
    # goes first in the assistant message, inside <think>…</think>).
    include_reasoning: bool = False
    # Best-of-N formats: whose choices, and only those matching the reference answer.
    bon_method: str = "majority"
    bon_correct_only: bool = False
    # Ranking campaigns: the pairs each ranking gives (all K(K-1)/2, or best vs each other).
    ranking_pairs: str = "all"
    # Rating campaigns: the best response against each lower one or one drawn with the seed,
    # when its aggregated score is at least rating_min_gap lower.
    rating_pairs: str = "best_vs_each"
    rating_min_gap: float = 1.0
    # Step-label campaigns, trl-stepwise: what a neutral step's boolean is (annotate/exports/steps.py).
    step_neutral: str = "true"
    # Crowd participants are named in the ``rater`` column by a salted pseudonym of their platform
    # id; a researcher who needs to join with the platform's own records asks for the raw id.
    raw_participant_ids: bool = False
    # Human-source exports: an adjudicated pair's final label over the aggregate of its votes.
    adjudicated: str = "prefer"
    # Only the pairs of a browse view (its query string, e.g. "q=sql&contested=on"): "export
    # exactly what this view shows". Checked against the campaign by annotate/selectors/browse.py.
    view: str = ""

    @property
    def is_raw(self) -> bool:
        return self.format in RAW_FORMATS

    @property
    def is_ranking(self) -> bool:
        return self.format in RANKING_FORMATS

    @property
    def is_rating(self) -> bool:
        return self.format in RATING_FORMATS

    @property
    def is_steps(self) -> bool:
        return self.format in STEP_FORMATS

    @property
    def is_conversations(self) -> bool:
        return self.format in CONVERSATION_FORMATS

    @property
    def is_best_of_n(self) -> bool:
        return self.format in BON_FORMATS

    def filters(self) -> dict[str, Any]:
        """The filters as stored on the Export row (everything but the format), stable key order."""
        data = asdict(self)
        data.pop("format")
        return dict(sorted(data.items()))


_DEFAULTS = ExportOptions()


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"1", "true", "yes", "on"}:
        return True
    if isinstance(value, str) and value.lower() in {"0", "false", "no", "off", ""}:
        return False
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError(f"expected true or false, got {value!r}")


def _number(raw: Any, *, whole: bool) -> float | int | str:
    """A finite number (an integer when ``whole``) from a form string or a JSON value; the error
    message (a str) when it is not one. NaN and infinities are refused: they compare false with
    every bound, so they would pass a range check and break the export (or its JSON row)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return f"expected a number, got {raw!r}"
    try:
        value = float(raw)
    except (ValueError, OverflowError):
        return f"expected a number, got {raw!r}"
    if not math.isfinite(value):
        return f"expected a finite number, got {raw!r}"
    if not whole:
        return value
    if isinstance(raw, str):
        try:
            return int(raw.strip())
        except ValueError:
            return f"expected a whole number, got {raw!r}"
    if not value.is_integer():
        return f"expected a whole number, got {raw!r}"
    return int(raw)


def parse_options(fmt: str | None, filters: dict[str, Any] | None) -> ExportOptions:
    """Validate a format + filters dict into ExportOptions, or raise ExportOptionsError listing every problem."""
    errors: dict[str, str] = {}
    filters = dict(filters or {})
    fmt = fmt or DEFAULT_FORMAT
    if fmt not in FORMATS:
        errors["format"] = f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}"

    known = set(_DEFAULTS.filters())
    for key in sorted(set(filters) - known):
        errors[key] = f"unknown filter; known filters: {', '.join(sorted(known))}"

    values: dict[str, Any] = {}

    def choice(name: str, allowed: tuple[str, ...]) -> None:
        if name in filters:
            value = filters[name]
            if value not in allowed:
                errors[name] = f"{value!r} is not one of: {', '.join(allowed)}"
            else:
                values[name] = value

    choice("method", METHODS)
    choice("tie_policy", TIE_POLICIES)
    choice("both_bad_policy", BOTH_BAD_POLICIES)
    choice("source", SOURCES)
    choice("kto_contested", KTO_CONTESTED)
    choice("ranking_pairs", RANKING_PAIRS)
    choice("adjudicated", ADJUDICATED)
    choice("rating_pairs", RATING_PAIRS)
    choice("step_neutral", STEP_NEUTRAL)

    for flag in ("include_gold", "include_reasoning", "bon_correct_only", "raw_participant_ids"):
        if flag in filters:
            try:
                values[flag] = _as_bool(filters[flag])
            except ValueError as exc:
                errors[flag] = str(exc)
    choice("bon_method", BON_METHODS)

    def number(
        name: str, whole: bool, low: float, high: float, *, low_open=False, high_open=False
    ) -> None:
        if name not in filters or filters[name] in ("", None):
            return
        value = _number(filters[name], whole=whole)
        if isinstance(value, str):
            errors[name] = value
            return
        if (
            value < low
            or value > high
            or (low_open and value == low)
            or (high_open and value == high)
        ):
            above = f"above {low}" if low_open else f"at least {low}"
            below = f"below {high}" if high_open else f"at most {high}"
            errors[name] = f"must be {above} and {below}, got {value}"
            return
        values[name] = value

    if "view" in filters:
        view = filters["view"]
        if not isinstance(view, str):
            errors["view"] = f"expected a browse page's query string, got {view!r}"
        elif len(view) > MAX_VIEW or any(c in view for c in "\r\n\x00"):
            errors["view"] = (
                f"a browse page's query string: one line, at most {MAX_VIEW} characters"
            )
        else:
            values["view"] = view.strip().lstrip("?")
    number("min_gold_accuracy", False, 0.0, 1.0)
    number("min_votes", True, 1, 1000)
    number("test_fraction", False, 0.0, 1.0, high_open=True)
    number("seed", True, 0, 2**31 - 1)
    number("kto_threshold", False, 0.5, 1.0, low_open=True)
    number("rating_min_gap", False, 0.0, 9.0)

    if values.get("tie_policy") == "keep" and fmt in ("hh-rlhf", "openai-dpo"):
        errors["tie_policy"] = (
            f"{fmt} has no tie column, so a kept tie would read as a preference; use drop "
            f"or split (keep is for {', '.join(TIE_COLUMN_FORMATS)})"
        )
    if values.get("view") and fmt in (*BON_FORMATS, *RANKING_FORMATS, *RATING_FORMATS):
        errors["view"] = "a browse view selects pairs and their votes; this format reads neither"
    if values.get("source") == "all" and fmt not in ALL_SOURCE_FORMATS:
        errors["source"] = (
            "human and judge labels are exported as separate sources; "
            "'all' is only for the raw-vote formats (raw-*, steps, ratings)"
        )
    # Like the KTO filters, the best-of-N filters are read by their formats only (the card lists
    # them there), and include_reasoning by every format that writes response texts (not raw).
    if errors:
        raise ExportOptionsError(errors)
    return ExportOptions(format=fmt, **values)


def describe_filters(filters: dict[str, Any]) -> str:
    """The filters that differ from the defaults, for lists of exports ("defaults" if none)."""
    defaults = _DEFAULTS.filters()
    changed = [f"{k}={v}" for k, v in sorted(filters.items()) if defaults.get(k) != v]
    return ", ".join(changed) or "defaults"
