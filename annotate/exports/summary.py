"""What an export read, what each filter and rule left out, and what it wrote. Pure.

The same *funnel* (votes read → after each filter → pairs → rows) goes into the dataset card, the
command's output and, when nothing is left, the reason an export failed: an empty dataset does
not load (``load_dataset`` refuses it), so it is never marked done.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from annotate.exports.formats import PROMPT_RULES, ROW_RULES
from annotate.exports.options import ExportOptions


class ExportFailed(Exception):
    """The export wrote nothing a trainer may use; the message says why."""

    def __init__(self, message: str, summary: ExportSummary | None = None):
        super().__init__(message)
        self.summary = summary


class EmptyExport(ExportFailed):
    """The filters and rules left no row."""


class InvalidExport(ExportFailed):
    """A written row broke its format's rules (annotate/exports/validate.py): a bug, never shipped.
    ``file`` and ``broken`` (validate.InvalidRow: the row's number in that file, the rule): where,
    when a row is to blame."""

    def __init__(
        self, message: str, summary: ExportSummary | None = None, *, file: str = "", broken=None
    ):
        super().__init__(message, summary)
        self.file, self.broken = file, broken


@dataclass
class ExportSummary:
    prompts_seen: int = 0
    pairs_seen: int = 0
    votes_seen: int = 0
    votes_counted: int = 0
    votes_left_out: Counter = field(default_factory=Counter)  # reason -> votes
    dropped: Counter = field(default_factory=Counter)  # reason -> pairs
    pairs_compared: int = 0  # pairs that gave at least one comparison (SFT: rewrite)
    comparisons: int = 0  # rows built from the pairs, before the row rules
    pairs_exported: int = 0  # pairs with at least one row written (KTO: pooled evidence)
    rows_left_out: Counter = field(default_factory=Counter)  # reason -> rows
    kto: Counter = field(default_factory=Counter)  # see kto.Completions.labelled
    rows: dict[str, int] = field(default_factory=dict)  # split -> rows written
    sizes: dict[str, int] = field(default_factory=dict)  # split -> file bytes
    labels: Counter = field(default_factory=Counter)  # aggregated label -> pairs
    agreement_sum: float = 0.0
    multi_vote_pairs: int = 0
    unanimous_pairs: int = 0
    generator_wins: Counter = field(default_factory=Counter)  # (winner, loser) model -> count
    adjudication_rows: int = 0  # adjudicators' rows read (adjudicated=prefer), audit trail included
    adjudicated_pairs: int = 0  # pairs labelled by their adjudicator instead of the votes
    files: list[str] = field(default_factory=list)

    @property
    def row_count(self) -> int:
        return sum(self.rows.values())

    @property
    def mean_agreement(self) -> float | None:
        return self.agreement_sum / self.multi_vote_pairs if self.multi_vote_pairs else None


def merge_summaries(parts: list[ExportSummary]) -> ExportSummary:
    """One summary of an export built in parts (services/export_parts.py): every count added up,
    in the parts' order; the files are the whole export's, named later."""
    merged = ExportSummary()
    for part in parts:
        for name, value in vars(part).items():
            mine = getattr(merged, name)
            if isinstance(value, Counter):
                mine.update(value)
            elif isinstance(value, dict):
                for key, n in value.items():
                    mine[key] = mine.get(key, 0) + n
            elif isinstance(value, int | float) and not isinstance(value, bool):
                setattr(merged, name, mine + value)
    return merged


def _vote_reasons(options: ExportOptions) -> dict[str, str]:
    source = {"human": "human raters", "judge": "the AI judge", "all": "either source"}
    return {
        "gold": "on gold pairs (left out unless include_gold)",
        "other_source": f"not from {source[options.source]} (source={options.source})",
        "excluded_rater": (
            f"by raters below the gold accuracy of {options.min_gold_accuracy:g} "
            "(min_gold_accuracy)"
        ),
        "superseded": "replaced by the same rater's later vote (a revision after the reveal)",
    }


def _pair_reasons(options: ExportOptions) -> dict[str, str]:
    return {
        "no_votes": "with no counted vote",
        "too_few_votes": f"with fewer than {options.min_votes} counted votes (min_votes)",
        "no_majority": "with no majority (the top count is shared)",
        "tie_policy": "tied (tie_policy=drop)",
        "both_bad_policy": "both bad (both_bad_policy=drop)",
        "both_bad_no_rewrite": "both bad, and no rater wrote a rewrite",
        "rewrite_unchanged": "both bad, and every rewrite is the text of a response",
        "prompt_invalid": "whose " + PROMPT_RULES["prompt_invalid"].removeprefix("the "),
        "hh_marker": "where " + PROMPT_RULES["hh_marker"],
    }


ROW_REASONS = {**ROW_RULES, "rewrite_unchanged": "the rewrite is the text of a response"}


def _lines(counter: Counter, labels: dict[str, str], unit: str) -> list[str]:
    return [
        f"  - −{counter[key]:,} {unit} {label}" for key, label in labels.items() if counter[key]
    ]


def funnel(summary: ExportSummary, options: ExportOptions) -> list[str]:
    """The funnel as markdown list lines: each stage and what each filter or rule left out."""
    s = summary
    out = [f"- {s.votes_seen:,} votes read on {s.pairs_seen:,} pairs of {s.prompts_seen:,} prompts"]
    out += _lines(s.votes_left_out, _vote_reasons(options), "votes")
    with_votes = s.pairs_seen - s.dropped["gold"] - s.dropped["no_votes"]
    out.append(f"- {s.votes_counted:,} votes counted, on {with_votes:,} pairs")
    if s.adjudication_rows:
        out.append(
            f"- {s.adjudication_rows:,} adjudication rows read; the latest of each pair is its "
            "final label (adjudicated=prefer)"
        )
    if options.is_raw:
        out.append(f"- {s.row_count:,} rows written (one per counted vote, revisions included)")
        return out
    reasons = _pair_reasons(options)
    reasons.pop("no_votes")
    out += _lines(s.dropped, reasons, "pairs")
    what = "rewrites" if options.format == "sft-messages" else "comparisons"
    if s.adjudicated_pairs:
        out.append(
            f"- {s.adjudicated_pairs:,} pairs take their adjudicator's label instead of the "
            "aggregate of their votes"
        )
    out.append(f"- {s.pairs_compared:,} pairs give {s.comparisons:,} {what}")
    out += _lines(s.rows_left_out, ROW_REASONS, "rows:")
    if options.format == "trl-kto":
        k = s.kto
        contested = (
            f"{k['contested']:,} contested (left out)"
            if options.kto_contested == "drop"
            else f"{k['contested_labelled']:,} contested (labelled {options.kto_contested})"
        )
        out.append(
            f"- {k['sides']:,} comparison sides pooled into {k['completions']:,} distinct "
            f"(prompt, completion) pairs: {k['desirable']:,} desirable, "
            f"{k['undesirable']:,} undesirable, {contested}"
        )
    out.append(f"- {s.row_count:,} rows written, from {s.pairs_exported:,} pairs")
    return out


def empty_reason(summary: ExportSummary, options: ExportOptions) -> str:
    """Why an export has no row: the first stage of the funnel that left nothing."""
    s = summary
    if s.votes_seen == 0:
        return "the campaign has no votes yet"
    left = s.votes_seen - s.votes_left_out["gold"]
    if left == 0:
        return "every vote is on a gold pair, and gold pairs are left out (include_gold is off)"
    if s.votes_counted == 0:
        if s.votes_left_out["other_source"] and options.source == "judge":
            return (
                "no vote comes from the AI judge: source=judge exports the judge's own labels, "
                "which exist only once the judge has auto-labelled pairs (judge page)"
            )
        if s.votes_left_out["other_source"] and not s.votes_left_out["excluded_rater"]:
            return f"no vote comes from the {options.source} source"
        return (
            f"every rater who voted is below the gold accuracy of {options.min_gold_accuracy:g} "
            "(min_gold_accuracy)"
        )
    if options.format == "sft-messages" and s.comparisons == 0:
        return "no rater wrote a rewrite (sft-messages exports raters' rewrites)"
    if s.comparisons == 0:
        reasons = _pair_reasons(options)
        parts = [f"{reasons[k]}: {n:,}" for k, n in s.dropped.items() if n and k in reasons]
        return "every pair was left out — " + "; ".join(parts)
    if options.format == "trl-kto" and s.kto["contested"]:
        return (
            f"every completion is contested (win share between {1 - options.kto_threshold:g} and "
            f"{options.kto_threshold:g}) and kto_contested=drop leaves them out"
        )
    parts = [f"{ROW_REASONS[k]}: {n:,}" for k, n in s.rows_left_out.items() if n]
    return "every row was left out — " + "; ".join(parts)


def empty_message(summary: ExportSummary, options: ExportOptions) -> str:
    stages = f"{summary.votes_seen:,} votes read → {summary.votes_counted:,} counted"
    if not options.is_raw:
        stages += f" → {summary.comparisons:,} rows built"
    return f"No rows to export: {empty_reason(summary, options)}. ({stages} → 0 rows written)"
