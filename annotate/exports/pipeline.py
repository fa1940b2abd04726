"""The export pipeline: vote rows (sorted by pair, then judgment id) in, a dataset folder out.

Pure and streaming: rows are grouped pair by pair as they arrive (``itertools.groupby``), each pair is
aggregated and written straight away, so memory holds one pair and one write buffer at a time.
The folder it writes::

    <out>/README.md        dataset card (YAML front matter that `datasets` reads + prose)
    <out>/data/train.<ext> <out>/data/test.<ext> (only when a test split is asked and non-empty)
    <out>/SHA256SUMS

Same rows + same options → same bytes in every file (no timestamps, deterministic order and split).
"""

from __future__ import annotations

import hashlib
import itertools
import operator
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from annotate.exports import formats
from annotate.exports.aggregate import aggregate_pair, counted_votes
from annotate.exports.card import CardContext, render_card
from annotate.exports.options import ExportOptions
from annotate.exports.writers import open_writer, write_sha256sums


@dataclass
class ExportSummary:
    pairs_seen: int = 0
    pairs_exported: int = 0
    votes_seen: int = 0
    votes_counted: int = 0
    rows: dict[str, int] = field(default_factory=dict)  # split -> rows written
    sizes: dict[str, int] = field(default_factory=dict)  # split -> file bytes
    labels: Counter = field(default_factory=Counter)  # aggregated label -> pairs
    dropped: Counter = field(default_factory=Counter)  # reason -> pairs
    agreement_sum: float = 0.0
    multi_vote_pairs: int = 0
    unanimous_pairs: int = 0
    generator_wins: Counter = field(default_factory=Counter)  # (winner, loser) model -> count
    files: list[str] = field(default_factory=list)

    @property
    def row_count(self) -> int:
        return sum(self.rows.values())

    @property
    def mean_agreement(self) -> float | None:
        return self.agreement_sum / self.multi_vote_pairs if self.multi_vote_pairs else None


def file_kind(fmt: str) -> str:
    return {"raw-csv": "csv", "raw-parquet": "parquet"}.get(fmt, "jsonl")


def in_test_split(prompt_hash: str, *, seed: int, test_fraction: float) -> bool:
    """Split BY PROMPT: a prompt's hash with the seed decides, so no prompt lands in both splits."""
    if test_fraction <= 0:
        return False
    digest = hashlib.sha256(f"{seed}:{prompt_hash}".encode()).hexdigest()
    return int(digest[:15], 16) / 16**15 < test_fraction


def _pair_items(rows: Iterable[dict]) -> Iterable[tuple[dict, list[dict]]]:
    """(pair item, its rows). Every row carries its pair's fields, so the first row is the item."""
    for _, group in itertools.groupby(rows, key=operator.itemgetter("pair_id")):
        votes = list(group)
        yield votes[0], votes


def write_export(
    rows: Iterable[dict],
    *,
    options: ExportOptions,
    out_dir: Path,
    context: CardContext,
    rater_names: dict | None = None,
    excluded_raters: frozenset = frozenset(),
    progress: Callable[[int], None] | None = None,
    progress_every: int = 5000,
) -> ExportSummary:
    """Write the export folder; returns what was written. ``progress(pairs_seen)`` is called as it goes."""
    out_dir = Path(out_dir)
    data_dir = out_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    kind = file_kind(options.format)
    summary = ExportSummary()
    writers = {"train": open_writer(kind, data_dir / f"train.{kind}")}
    if options.test_fraction > 0:
        writers["test"] = open_writer(kind, data_dir / f"test.{kind}")
    rater_names = rater_names or {}

    for item, rows_of_pair in _pair_items(rows):
        summary.pairs_seen += 1
        summary.votes_seen += len(rows_of_pair)
        if progress and summary.pairs_seen % progress_every == 0:
            progress(summary.pairs_seen)
        if item["gold_answer"] and not options.include_gold:
            summary.dropped["gold"] += 1
            continue
        split = (
            "test"
            if in_test_split(
                item["prompt_hash"], seed=options.seed, test_fraction=options.test_fraction
            )
            else "train"
        )
        writer = writers[split]
        before = writer.rows
        _write_pair(item, rows_of_pair, writer, options, summary, rater_names, excluded_raters)
        if writer.rows > before:
            summary.pairs_exported += 1

    for split, writer in writers.items():
        writer.close()
        summary.rows[split] = writer.rows
    if "test" in writers and writers["test"].rows == 0:
        # An empty split file would not load; leave it out (the card then lists train only).
        (data_dir / f"test.{kind}").unlink()
        del summary.rows["test"]
    summary.files = [f"data/{split}.{kind}" for split in summary.rows]
    summary.sizes = {
        split: (out_dir / f).stat().st_size
        for split, f in zip(summary.rows, summary.files, strict=True)
    }
    if progress:
        progress(summary.pairs_seen)

    (out_dir / "README.md").write_text(render_card(context, options, summary), encoding="utf-8")
    write_sha256sums(out_dir)
    return summary


def _write_pair(item, rows_of_pair, writer, options, summary, rater_names, excluded_raters):
    if options.is_raw:
        sources = ("human", "judge") if options.source == "all" else (options.source,)
        # The judge's verdict on the pair: its JudgeVerdict when the row carries one, else the
        # latest judge-source label (auto-label / RLAIF rows).
        judge_rows = [r for r in rows_of_pair if r["source"] == "judge"]
        verdict = item.get("judge_verdict") or (
            max(judge_rows, key=lambda r: r["judgment_id"])["choice"] if judge_rows else None
        )
        kept = [
            r
            for r in rows_of_pair
            if r["source"] in sources
            and not (r["source"] == "human" and r["rater_id"] in excluded_raters)
        ]
        summary.votes_counted += len(kept)
        for record in formats.raw_records(item, kept, rater_names, verdict):
            writer.write(record)
        return

    votes = counted_votes(rows_of_pair, source=options.source, excluded_raters=excluded_raters)
    summary.votes_counted += len(votes)
    if options.format == "sft-messages":
        for record in formats.sft_records(item, votes):
            writer.write(record)
        return
    if len(votes) < max(1, options.min_votes):
        summary.dropped["too_few_votes"] += 1
        return
    decision = aggregate_pair(votes, method=options.method)
    if decision.n_votes > 1:
        summary.multi_vote_pairs += 1
        summary.agreement_sum += decision.agreement
        summary.unanimous_pairs += decision.agreement == 1.0
    if decision.label is None:
        summary.dropped["no_majority"] += 1
        return
    summary.labels[decision.label] += 1
    if decision.label in ("a", "b"):
        win, lose = (
            (item["a_generator"], item["b_generator"])
            if decision.label == "a"
            else (item["b_generator"], item["a_generator"])
        )
        summary.generator_wins[(win, lose)] += 1
    build = formats.kto_records if options.format == "trl-kto" else formats.preference_records
    wrote = 0
    for record in build(item, decision, votes, options):
        writer.write(record)
        wrote += 1
    if not wrote:
        summary.dropped[f"{decision.label}_policy"] += 1
