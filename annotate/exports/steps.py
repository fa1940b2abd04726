"""Step-label exports: trace rows in (annotate/selectors/steps.py), a dataset folder out (the
layout of pipeline.py: data/train.jsonl, data/test.jsonl, README.md, SHA256SUMS). Pure.

``trl-stepwise`` — TRL's stepwise supervision (what ``PRMTrainer`` reads), one row per trace::

    {"prompt": "What is 12 * 3? ...",             # a string (TRL's standard format)
     "completions": ["12 * 3 = 36.", "So 36."],    # the steps, in order
     "labels": [true, true]}                       # one boolean per step: is the step right

* **Aggregation.** Per step, the majority of the counted raters' labels (raters who left the step
  unlabelled, after their first wrong step, do not vote on it); a tie goes to the lower label, so a
  step called wrong as often as right is not trusted. ``min_votes``: traces with fewer counted
  votes are left out.
* **The trace ends** at its first wrong step when the campaign says the first wrong step ends it
  (PRM800K's practice): the row's steps stop there, the last label false. Steps no counted rater
  labelled end the row too.
* **Neutral steps** (0) follow ``step_neutral``: ``true`` (default: a neutral step is no error, the
  reading PRM800K's "reasonable but not progressing" 0 gets when labels are made binary),
  ``false`` (only clearly right steps are positive), or ``drop`` (the step is left out of the row,
  so the next step follows the one before it).
* The prompt is written as TRL's standard (string) prompts are (formats.py ``flatten_prompt``).

``steps`` — the raw labels, one row per vote, not aggregated::

    {"vote_id": 7, "set_id": 3, "prompt_id": 12, "prompt_external_id": "q1",
     "prompt": [{"role": "user", "content": "..."}],
     "completions": ["...", "..."],                 # the steps as the raters saw them
     "generator": "model-a",
     "labels": [1, -1, null],                       # 1 correct, 0 neutral, -1 wrong, null unlabelled
     "notes": ["", "the carry is lost", ""],
     "rater": "rater-…", "source": "human", "time_on_task_ms": 5310,
     "gold_labels": null, "created_at": "..."}

Gold traces are left out unless include_gold; raters below min_gold_accuracy are left out;
``source`` picks human or judge votes (raw: or both).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import yaml

from annotate.exports.card import CardContext, front_matter
from annotate.exports.formats import flatten_prompt, prompt_messages, prompt_problem
from annotate.exports.options import FORMATS, ExportOptions
from annotate.exports.pipeline import _CheckedFile, in_test_split
from annotate.exports.summary import EmptyExport, ExportSummary
from annotate.exports.texts import SeenOnce, clean, usable_text
from annotate.exports.validate import RULES, Validator
from annotate.exports.writers import open_writer, write_sha256sums
from annotate.protocols.steps import trace_majority

LEFT_OUT = {
    "gold": "on gold traces (left out unless include_gold)",
    "other_source": "from the other source (source filter)",
    "excluded_rater": "by raters below the gold accuracy threshold (min_gold_accuracy)",
}
TRACES_LEFT_OUT = {
    "too_few_votes": "fewer counted votes than min_votes",
    "no_label": "no step left with a label (after the neutral rule)",
    "bad_text": "a step is empty or holds a NUL character",
    "prompt_invalid": "the prompt is not a conversation a trainer accepts",
    "duplicate": "the same prompt and steps were already written",
}
_NEUTRAL = {"true": True, "false": False}


def stepwise_record(
    row: dict, votes: list[dict], options: ExportOptions
) -> tuple[dict | None, str]:
    """The trace's TRL row from its counted votes, or (None, why it gives none)."""
    if len(votes) < max(1, options.min_votes):
        return None, "too_few_votes"
    steps = row["steps"]
    labels = trace_majority(
        [v["labels"] for v in votes], n=len(steps), stop_at_wrong=row["stop_at_wrong"]
    )
    completions, booleans = [], []
    for text, label in zip(steps, labels, strict=True):
        if label is None:
            break  # the trace ended (first wrong step) or no counted rater labelled on
        if label == 0 and options.step_neutral == "drop":
            continue
        completions.append(clean(text))
        booleans.append(label == 1 or (label == 0 and _NEUTRAL.get(options.step_neutral, True)))
    if not completions:
        return None, "no_label"
    if not all(usable_text(t) for t in completions):
        return None, "bad_text"
    return {"prompt": flatten_prompt(row), "completions": completions, "labels": booleans}, ""


def steps_record(row: dict, vote: dict, rater_names: dict) -> dict:
    created = vote["created_at"]
    return {
        "vote_id": vote["vote_id"],
        "set_id": row["set_id"],
        "prompt_id": row["prompt_id"],
        "prompt_external_id": row["prompt_external_id"],
        "prompt": prompt_messages(row),
        "completions": [clean(t) for t in row["steps"]],
        "generator": row["generator"],
        "labels": list(vote["labels"]),
        "notes": list(vote["notes"] or [""] * len(row["steps"])),
        "rater": "judge" if vote["source"] == "judge" else rater_names.get(vote["rater_id"], ""),
        "source": vote["source"],
        "time_on_task_ms": vote["time_on_task_ms"],
        "gold_labels": list(row["gold_labels"]) or None,
        "created_at": created.isoformat() if hasattr(created, "isoformat") else str(created),
    }


def write_steps_export(
    rows: Iterable[dict],
    *,
    options: ExportOptions,
    out_dir: Path,
    context: CardContext,
    rater_names: dict | None = None,
    excluded_raters: frozenset = frozenset(),
) -> ExportSummary:
    out_dir = Path(out_dir)
    data_dir = out_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    splits = ["train", "test"] if options.test_fraction > 0 else ["train"]
    files = {
        split: _CheckedFile(
            open_writer("jsonl", data_dir / f"{split}.jsonl"),
            Validator(options.format),
            f"data/{split}.jsonl",
        )
        for split in splits
    }
    summary = ExportSummary()
    left_out: Counter = Counter()
    sources = ("human", "judge") if options.source == "all" else (options.source,)
    seen = SeenOnce()
    last_prompt = None
    try:
        for row in rows:
            summary.pairs_seen += 1  # traces read
            summary.votes_seen += len(row["votes"])
            if row["prompt_id"] != last_prompt:
                last_prompt = row["prompt_id"]
                summary.prompts_seen += 1
                seen.clear()
            if row["gold_labels"] and not options.include_gold:
                left_out["gold"] += len(row["votes"])
                continue
            counted = []
            for vote in row["votes"]:
                if vote["source"] not in sources:
                    left_out["other_source"] += 1
                elif vote["source"] == "human" and vote["rater_id"] in excluded_raters:
                    left_out["excluded_rater"] += 1
                else:
                    counted.append(vote)
            summary.votes_counted += len(counted)
            if not counted:
                continue
            out = files[
                "test"
                if in_test_split(
                    row["prompt_hash"], seed=options.seed, test_fraction=options.test_fraction
                )
                else "train"
            ]
            if prompt_problem(row, options.format):
                summary.dropped["prompt_invalid"] += 1
                continue
            if options.format == "steps":
                for vote in counted:
                    out.write(steps_record(row, vote, rater_names or {}), row["prompt_id"])
                summary.pairs_exported += 1
                continue
            record, why = stepwise_record(row, counted, options)
            if record is not None and not seen.add(
                (record["prompt"], "\x1f".join(record["completions"]))
            ):
                record, why = None, "duplicate"
            if record is None:
                summary.dropped[why] += 1
                continue
            summary.labels.update(record["labels"])
            out.write(record, row["prompt_id"])
            summary.pairs_exported += 1
    except BaseException:
        for out in files.values():
            out.writer.close()
        raise
    for out in files.values():
        out.close()
    summary.votes_left_out = left_out
    for split, out in files.items():
        summary.rows[split] = out.rows
    if summary.row_count == 0:
        why = ", ".join(
            [f"{n} votes {LEFT_OUT[k]}" for k, n in left_out.items()]
            + [f"{n} traces: {TRACES_LEFT_OUT[k]}" for k, n in summary.dropped.items()]
        )
        raise EmptyExport(
            f"No rows to export: {summary.votes_seen} step votes read on "
            f"{summary.pairs_seen} traces ({why or 'none stored'}).",
            summary,
        )
    for split in [s for s, n in summary.rows.items() if n == 0]:
        (data_dir / f"{split}.jsonl").unlink()
        del summary.rows[split]
    summary.files = [f"data/{split}.jsonl" for split in summary.rows]
    summary.sizes = {
        s: (out_dir / f).stat().st_size for s, f in zip(summary.rows, summary.files, strict=True)
    }
    (out_dir / "README.md").write_text(_card(context, options, summary), encoding="utf-8")
    write_sha256sums(out_dir)
    return summary


def _card(context: CardContext, options: ExportOptions, summary: ExportSummary) -> str:
    meta = front_matter(context, options, summary)
    files = ", ".join(f'"{s}": "{p}"' for s, p in zip(summary.rows, summary.files, strict=True))
    splits = ", ".join(f"{s}: {n:,} rows" for s, n in summary.rows.items())
    left = "\n".join(
        f"  - −{n:,} votes {LEFT_OUT[k]}" for k, n in sorted(summary.votes_left_out.items())
    )
    dropped = "\n".join(
        f"  - −{n:,} traces: {TRACES_LEFT_OUT[k]}" for k, n in sorted(summary.dropped.items())
    )
    head, raw = __doc__.split("``steps`` — the raw labels", 1)
    doc = head.split("``trl-stepwise``", 1)[1] if options.format == "trl-stepwise" else raw
    rules = ("columns", "text", "stepwise_row", "duplicate")
    if options.format == "steps":
        rules = ("columns", "text", "message", "prompt_roles", "steps_row", "grouping")
    labels = ""
    if options.format == "trl-stepwise":
        labels = (
            f"- Step labels written: {summary.labels.get(True, 0):,} true, "
            f"{summary.labels.get(False, 0):,} false (step_neutral: `{options.step_neutral}`).\n"
        )
    return f"""---
{yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)}---

# {context.campaign_title} — {FORMATS[options.format]}

Step labels (correct +1 / neutral 0 / wrong −1 per step, as in PRM800K) from the annotate
campaign `{context.campaign_slug}`: {context.raters:,} raters, {context.overlap} wanted per trace.

```python
from datasets import load_dataset
ds = load_dataset("json", data_files={{{files}}})
```

- Splits: {splits}.
- {summary.votes_seen:,} step votes read on {summary.pairs_seen:,} traces of {summary.prompts_seen:,} prompts; {summary.votes_counted:,} counted.
{left}
{dropped}
{labels}
## Columns
``{options.format}`` —{doc}
## Row rules

Every row was checked before it was written:

{chr(10).join(f"- `{k}`: {RULES[k]}" for k in rules)}
"""
