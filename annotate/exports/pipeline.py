"""The export pipeline: vote rows (sorted by prompt, pair, then judgment id) in, a dataset folder out.

Pure and streaming: rows are grouped prompt by prompt, and within a prompt pair by pair, as they
arrive (``itertools.groupby``). Each pair is aggregated, each prompt's rows are built, checked
against the format's rules (validate.py) and written straight away, so memory holds one prompt and
one write buffer at a time. Whatever needs the prompt's pairs together lives at that level: KTO
pools every pair's evidence on a completion (kto.py), and a row already written for the prompt is
not written again. The folder it writes::

    <out>/README.md        dataset card (YAML front matter that `datasets` reads + prose)
    <out>/data/train.<ext> <out>/data/test.<ext> (only when a test split is asked and non-empty)
    <out>/SHA256SUMS

An export that would write no row raises EmptyExport (the reason comes from the funnel, see
summary.py), one whose row breaks its format's rules raises InvalidExport; neither writes a card.
Same rows + same options → same bytes in every file (no timestamps, deterministic order and split).
"""

from __future__ import annotations

import hashlib
import itertools
import operator
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from annotate.analytics.crowd_models import MODEL_METHODS, FittedLabels
from annotate.exports import formats
from annotate.exports.aggregate import Decision, aggregate_pair, counted_votes, signed_score
from annotate.exports.card import CardContext, render_card
from annotate.exports.kto import Completions
from annotate.exports.options import ExportOptions
from annotate.exports.summary import (
    EmptyExport,
    ExportFailed,
    ExportSummary,
    InvalidExport,
    empty_message,
)
from annotate.exports.texts import SeenOnce
from annotate.exports.validate import InvalidRow, Validator
from annotate.exports.writers import RowWriter, open_writer, write_sha256sums

ADJUDICATED = "adjudicated"  # Judgment.Source.ADJUDICATED (this module imports no model)

__all__ = ["EmptyExport", "ExportFailed", "ExportSummary", "InvalidExport", "write_export"]


def file_kind(fmt: str) -> str:
    return {"raw-csv": "csv", "raw-parquet": "parquet"}.get(fmt, "jsonl")


def in_test_split(prompt_hash: str, *, seed: int, test_fraction: float) -> bool:
    """Split BY PROMPT: a prompt's hash with the seed decides, so no prompt lands in both splits."""
    if test_fraction <= 0:
        return False
    digest = hashlib.sha256(f"{seed}:{prompt_hash}".encode()).hexdigest()
    return int(digest[:15], 16) / 16**15 < test_fraction


class _CheckedFile:
    """One split's file: each record is checked by the format's validator, then written."""

    def __init__(self, writer: RowWriter, validator: Validator, name: str):
        self.writer, self.validator, self.name = writer, validator, name

    @property
    def rows(self) -> int:
        return self.writer.rows

    def write(self, record: dict, group: int) -> None:
        try:
            self.validator.check(record, group=group)
        except InvalidRow as exc:
            raise self.invalid(exc) from None
        self.writer.write(record)

    def invalid(self, exc: InvalidRow) -> InvalidExport:
        return InvalidExport(f"{self.name} {exc}", file=self.name, broken=exc)

    def write_group(self, records: list[dict], group: int) -> None:
        """The records of one group (a prompt), checked together, then written together."""
        try:
            self.validator.check_group(records, group)
        except InvalidRow as exc:
            raise self.invalid(exc) from None
        self.writer.write_many(records)

    def close(self) -> None:
        self.writer.close()
        try:
            self.validator.close()
        except InvalidRow as exc:
            raise self.invalid(exc) from None


def write_export(
    rows: Iterable[dict],
    *,
    options: ExportOptions,
    out_dir: Path,
    context: CardContext,
    progress: Callable[[int], None] | None = None,
    progress_every: int = 5000,
    **build,
) -> ExportSummary:
    """Write the export folder; returns what was written. ``progress(pairs_seen)`` is called as it
    goes. ``build``: what write_rows takes besides the rows (rater names, excluded raters, fitted
    labels, generators)."""
    data_dir = Path(out_dir) / "data"
    summary = write_rows(
        rows,
        options=options,
        data_dir=data_dir,
        progress=progress,
        progress_every=progress_every,
        **build,
    )
    return finish_export(
        summary, options=options, out_dir=out_dir, context=context, progress=progress
    )


def write_rows(
    rows: Iterable[dict],
    *,
    options: ExportOptions,
    data_dir: Path,
    suffix: str = "",
    rater_names: dict | None = None,
    excluded_raters: frozenset = frozenset(),
    progress: Callable[[int], None] | None = None,
    progress_every: int = 5000,
    fitted: FittedLabels | None = None,
    generators: dict[str, dict] | None = None,
) -> ExportSummary:
    """The data files of an export: each split's rows checked and written to
    ``data_dir/<split><suffix>.<ext>``; returns the summary of what was read and written (its
    ``rows``). ``fitted``: the pairs' labels from a model method (dawid_skene, mace), fitted
    before. ``generators``: name -> provider, model and parameters, for the raw formats'
    provenance. A part of an export (services/export_parts.py) is the same with a ``suffix``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    kind = file_kind(options.format)
    summary = ExportSummary()
    splits = ["train", "test"] if options.test_fraction > 0 else ["train"]
    files = {
        split: _CheckedFile(
            open_writer(kind, data_dir / f"{split}{suffix}.{kind}"),
            Validator(
                options.format, tie_policy=options.tie_policy, raw_columns=formats.RAW_COLUMNS
            ),
            f"data/{split}.{kind}",
        )
        for split in splits
    }
    prompt_rows = _PromptRows(
        options=options,
        summary=summary,
        rater_names=rater_names or {},
        excluded_raters=excluded_raters,
        fitted=fitted,
        generators=generators or {},
    )
    next_report = progress_every

    def flush() -> None:
        item, records = prompt_rows.finish()
        if not records:
            return
        test = in_test_split(
            item["prompt_hash"], seed=options.seed, test_fraction=options.test_fraction
        )
        files["test" if test else "train"].write_group(records, item["prompt_id"])

    try:
        # One pass: pairs as they arrive (every row carries its pair's and prompt's fields), and
        # a prompt's records written once its last pair is read.
        prompt_id = None
        for _, group in itertools.groupby(rows, key=operator.itemgetter("pair_id")):
            votes = list(group)
            item = votes[0]
            if item["prompt_id"] != prompt_id:
                if prompt_id is not None:
                    flush()
                prompt_id = item["prompt_id"]
                prompt_rows.start(item)
            prompt_rows.pair(item, votes)
            if progress and summary.pairs_seen >= next_report:
                progress(summary.pairs_seen)
                next_report = (summary.pairs_seen // progress_every + 1) * progress_every
        if prompt_id is not None:
            flush()
    except BaseException:
        for out in files.values():
            out.writer.close()
        raise
    for out in files.values():
        out.close()
    for split, out in files.items():
        summary.rows[split] = out.rows
    return summary


def finish_export(
    summary: ExportSummary,
    *,
    options: ExportOptions,
    out_dir: Path,
    context: CardContext,
    progress: Callable[[int], None] | None = None,
) -> ExportSummary:
    """The folder around the data files write_rows wrote: an empty split left out, then the card
    and SHA256SUMS. EmptyExport when no row was written."""
    out_dir = Path(out_dir)
    kind = file_kind(options.format)
    if summary.row_count == 0:
        raise EmptyExport(empty_message(summary, options), summary)
    for split in [split for split, n in summary.rows.items() if n == 0]:
        # An empty split file would not load (a small export's prompts may all fall in one
        # split); leave it out, and the card lists the other split only.
        (out_dir / "data" / f"{split}.{kind}").unlink()
        del summary.rows[split]
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


class _PromptRows:
    """Builds the records of one prompt from its vote rows, counting what is left out and why."""

    def __init__(
        self, *, options, summary, rater_names, excluded_raters, fitted=None, generators=None
    ):
        self.options = options
        self.generators = generators or {}
        if (options.method in MODEL_METHODS and not options.is_raw) != (fitted is not None):
            raise ValueError(f"method {options.method!r} needs its fitted labels, and only it")
        self.fitted = fitted
        self.summary = summary
        self.rater_names = rater_names
        self.excluded = excluded_raters
        self.kto = Completions() if options.format == "trl-kto" else None
        self.is_raw, self.is_sft = options.is_raw, options.format == "sft-messages"
        self.item: dict = {}
        self.records: list[dict] = []
        self.seen = SeenOnce()  # what is already written for this prompt
        self.problem: str | None | bool = False  # the prompt's problem, looked at once
        self.prompt = None  # the prompt as the format writes it, built once, shared by its rows
        # A one-vote pair's Decision depends on the vote's (choice, strength) only: made once per
        # kind of vote and shared (nothing changes a Decision), not once per pair.
        self.single: dict[tuple, object] = {}

    def start(self, item: dict) -> None:
        """A new prompt begins with this pair item (the last one's records are written)."""
        self.item = item
        self.records = []
        self.seen.clear()
        self.problem = False
        self.prompt = None
        self.summary.prompts_seen += 1

    def _prompt(self, item: dict):
        if self.prompt is None:
            self.prompt = formats.format_prompt(item, self.options.format)
        return self.prompt

    def pair(self, item: dict, votes: list[dict]) -> None:
        """Add one pair's rows (all its votes) to the prompt."""
        s, options = self.summary, self.options
        s.pairs_seen += 1
        s.votes_seen += len(votes)
        if item["gold_answer"] and not options.include_gold:
            s.dropped["gold"] += 1
            s.votes_left_out["gold"] += len(votes)
            return
        if self.is_raw:
            self.records += self._raw(item, votes)
            return
        final = self._adjudicated(votes)
        counted = self._counted(votes)
        if not counted and final is None:
            s.dropped["no_votes"] += 1
            return
        if self.is_sft:
            if self._prompt_refused(item):
                return
            left_out = sum(s.rows_left_out.values())
            found = list(
                formats.sft_records(self._prompt(item), item, counted, self.seen, s.rows_left_out)
            )
            rewrites = len(found) + sum(s.rows_left_out.values()) - left_out
            s.comparisons += rewrites
            s.pairs_compared += bool(rewrites)
            s.pairs_exported += bool(found)
            self.records += found
            return
        found = self._comparisons(item, counted, final)
        if not found or self._prompt_refused(item):
            return
        s.pairs_compared += 1
        s.comparisons += len(found)
        if self.kto is not None:
            # KTO pools the comparisons (kto.py): the same row rules, duplicates merge.
            kept = formats.usable(found, None, s.rows_left_out, options.format)
            for c in kept:
                self.kto.add(c)
        else:
            kept = formats.usable(found, self.seen, s.rows_left_out, options.format)
            self.records += formats.preference_records(self._prompt(item), kept, options)
        s.pairs_exported += bool(kept)

    def _prompt_refused(self, item: dict) -> bool:
        """Whether no row of this prompt can be written (looked at once per prompt, and only for
        a pair that has something to write)."""
        if self.problem is False:
            self.problem = formats.prompt_problem(item, self.options.format)
        if self.problem:
            self.summary.dropped[self.problem] += 1
            return True
        return False

    def finish(self) -> tuple[dict, list[dict]]:
        """The prompt's first pair item and every record it gives, in pair order."""
        if self.kto is not None and self.kto:
            self.records = self._kto_records(self.item)
        return self.item, self.records

    def _adjudicated(self, votes: list[dict]) -> dict | None:
        """The pair's final label when an adjudicator settled it and the export prefers that
        (human source only): the latest adjudicated row; the earlier ones are its audit trail."""
        if self.options.adjudicated != "prefer" or self.options.source != "human":
            return None
        if len(votes) == 1 and votes[0]["source"] != ADJUDICATED:  # the common case, kept cheap
            return None
        final = None
        for vote in votes:
            if vote["source"] == ADJUDICATED and (
                final is None or vote["judgment_id"] > final["judgment_id"]
            ):
                final = vote
        return final

    def _counted(self, votes: list[dict]) -> list[dict]:
        options, s = self.options, self.summary
        counted = counted_votes(votes, source=options.source, excluded_raters=self.excluded)
        s.votes_counted += len(counted)
        if len(counted) != len(votes):
            adjudicated = (
                sum(1 for v in votes if v["source"] == ADJUDICATED)
                if options.adjudicated == "prefer" and options.source == "human"
                else 0
            )
            s.adjudication_rows += adjudicated
            other = sum(1 for v in votes if v["source"] != options.source) - adjudicated
            excluded = sum(
                1
                for v in votes
                if v["source"] == options.source == "human" and v["rater_id"] in self.excluded
            )
            s.votes_left_out["other_source"] += other
            s.votes_left_out["excluded_rater"] += excluded
            s.votes_left_out["superseded"] += (
                len(votes) - len(counted) - other - excluded - adjudicated
            )
        return counted

    def _comparisons(
        self, item: dict, votes: list[dict], final: dict | None = None
    ) -> list[formats.Comparison]:
        """The pair's comparisons from its counted votes, or from ``final``, the adjudicator's
        label, when there is one (it stands whatever the number of votes)."""
        options, s = self.options, self.summary
        if final is not None:
            decision = aggregate_pair([final], method=options.method)
            s.adjudicated_pairs += 1
        elif len(votes) < max(1, options.min_votes):
            s.dropped["too_few_votes"] += 1
            return []
        elif self.fitted is not None:
            decision = self._fitted(item["pair_id"], votes)
        elif len(votes) == 1:
            key = (votes[0]["choice"], votes[0]["strength"])
            decision = self.single.get(key)
            if decision is None:
                decision = self.single[key] = aggregate_pair(votes, method=options.method)
        else:
            decision = aggregate_pair(votes, method=options.method)
        if decision.n_votes > 1:
            s.multi_vote_pairs += 1
            s.agreement_sum += decision.agreement
            s.unanimous_pairs += decision.agreement == 1.0
        if decision.label is None:
            s.dropped["no_majority"] += 1
            return []
        s.labels[decision.label] += 1
        if decision.label in ("a", "b"):
            win, lose = (
                (item["a_generator"], item["b_generator"])
                if decision.label == "a"
                else (item["b_generator"], item["a_generator"])
            )
            s.generator_wins[(win, lose)] += 1
        found, reason = formats.comparisons(item, decision, votes, options)
        if reason:
            s.dropped[reason] += 1
        return found

    def _fitted(self, pair_id: int, votes: list[dict]) -> Decision:
        """The model's label for the pair. Margin: the mean strength of the votes for the label
        (1 on the binary scale) times the model's probability of it, as majority discounts its
        margin by disagreement; agreement is the share of the votes that chose it."""
        label, probability = self.fitted.labels.get(pair_id, (None, 0.0))
        counts = Counter(v["choice"] for v in votes)
        margin = 0.0
        if label in ("a", "b"):
            strengths = [
                abs(signed_score(label, v["strength"])) for v in votes if v["choice"] == label
            ]
            margin = (sum(strengths) / len(strengths) if strengths else 1.0) * probability
        agreement = counts[label] / len(votes) if label else 0.0
        return Decision(label, round(margin, 6), round(agreement, 6), len(votes), dict(counts))

    def _kto_records(self, item: dict) -> list[dict]:
        prompt = self._prompt(item)
        labelled = self.kto.labelled(
            threshold=self.options.kto_threshold,
            contested=self.options.kto_contested,
            counts=self.summary.kto,
        )
        records = [
            {
                "prompt": prompt,
                "completion": [{"role": "assistant", "content": text}],
                "label": label,
            }
            for text, label in labelled
        ]
        self.kto.clear()
        return records

    def _raw(self, item: dict, rows_of_pair: list[dict]) -> list[dict]:
        options, s = self.options, self.summary
        sources = ("human", "judge", ADJUDICATED) if options.source == "all" else (options.source,)
        # The judge's verdict on the pair: its JudgeVerdict when the row carries one, else the
        # latest judge-source label (auto-label / RLAIF rows).
        judge_rows = [r for r in rows_of_pair if r["source"] == "judge"]
        verdict = item.get("judge_verdict") or (
            max(judge_rows, key=lambda r: r["judgment_id"])["choice"] if judge_rows else None
        )
        kept = []
        for r in rows_of_pair:
            if r["source"] not in sources:
                s.votes_left_out["other_source"] += 1
            elif r["source"] == "human" and r["rater_id"] in self.excluded:
                s.votes_left_out["excluded_rater"] += 1
            else:
                kept.append(r)
        s.votes_counted += len(kept)
        if not kept:
            s.dropped["no_votes"] += 1
            return []
        s.pairs_exported += 1
        return list(formats.raw_records(item, kept, self.rater_names, verdict, self.generators))
