"""Best-of-N exports: the stored choices in, a dataset folder out (the layout of pipeline.py). Pure.

* ``bon-sft`` — rejection-sampling fine-tuning data: per (prompt, generator) the sample the method
  chose, as ``{"messages": [...prompt, {"role": "assistant", "content": ...}]}`` (TRL's SFT
  conversational format). With ``bon_correct_only`` only choices that match the reference answer.
* ``bon-dpo`` — best vs worst: the chosen sample against the one the method likes least, as
  TRL's conversational preference rows (``prompt``, ``chosen``, ``rejected``). A prompt whose worst
  is no worse by the method's own evidence (or has the same text) gives no row.

A row is a dict with ``prompt_id, prompt_hash, messages, system, correct, best_text,
best_reasoning, worst_text, worst_reasoning`` (annotate/selectors/ttc.py ``bon_choice_rows``),
sorted by prompt. ``include_reasoning`` puts a sample's trace first in its message, inside
``<think>…</think>`` (``with_reasoning``). Rows are checked by the validator of the format they
take (sft-messages, trl-dpo-conversational) before they are written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import yaml

from annotate.exports.card import CardContext, front_matter
from annotate.exports.formats import prompt_messages, prompt_problem
from annotate.exports.options import FORMATS, ExportOptions
from annotate.exports.pipeline import _CheckedFile, in_test_split
from annotate.exports.summary import EmptyExport, ExportSummary
from annotate.exports.texts import SeenOnce, clean, same_text, usable_text
from annotate.exports.validate import RULES, Validator
from annotate.exports.writers import open_writer, write_sha256sums

# The format whose rows each best-of-N format writes (and whose validator checks them).
SHAPE = {"bon-sft": "sft-messages", "bon-dpo": "trl-dpo-conversational"}
LEFT_OUT = {
    "no_choice": "the method chose no sample (no evidence, or no answer in any sample)",
    "not_correct": "the chosen sample's answer does not match the reference (bon_correct_only)",
    "no_worst": "no sample is worse than the chosen one by the method's evidence",
    "same_text": "best and worst are the same text (after folding white space)",
    "bad_text": "a text is empty or holds a NUL character",
    "prompt_invalid": "the prompt is not a conversation a trainer accepts",
    "duplicate": "the same row was already written for the prompt",
}


def with_reasoning(text: str, reasoning: str) -> str:
    """The message a trainer sees when the trace is asked for: ``<think>`` trace ``</think>``,
    a blank line, then the reply; the reply alone when there is no trace."""
    reasoning = clean(reasoning or "").strip()
    return f"<think>\n{reasoning}\n</think>\n\n{text}" if reasoning else text


def _assistant(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def _records(row: dict, options: ExportOptions, left_out: Counter, seen: SeenOnce) -> list[dict]:
    if prompt_problem(row, "sft-messages"):
        left_out["prompt_invalid"] += 1
        return []
    if options.bon_correct_only and row["correct"] is not True:
        left_out["not_correct"] += 1
        return []
    keep = options.include_reasoning
    best = clean(row["best_text"] or "")
    best_shown = with_reasoning(best, row["best_reasoning"]) if keep else best
    prompt = prompt_messages(row)
    if options.format == "bon-sft":
        if not usable_text(best):
            left_out["bad_text"] += 1
            return []
        if not seen.add((best_shown,)):
            left_out["duplicate"] += 1
            return []
        return [{"messages": [*prompt, *_assistant(best_shown)]}]
    if row["worst_text"] is None:
        left_out["no_worst"] += 1
        return []
    worst = clean(row["worst_text"])
    worst_shown = with_reasoning(worst, row["worst_reasoning"]) if keep else worst
    if not (usable_text(best) and usable_text(worst)):
        left_out["bad_text"] += 1
        return []
    if same_text(best_shown, worst_shown):
        left_out["same_text"] += 1
        return []
    if not seen.add((best_shown, worst_shown)):
        left_out["duplicate"] += 1
        return []
    return [
        {"prompt": prompt, "chosen": _assistant(best_shown), "rejected": _assistant(worst_shown)}
    ]


def write_best_of_n_export(
    rows: Iterable[dict], *, options: ExportOptions, out_dir: Path, context: CardContext
) -> ExportSummary:
    out_dir = Path(out_dir)
    data_dir = out_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    shape = SHAPE[options.format]
    splits = ["train", "test"] if options.test_fraction > 0 else ["train"]
    files = {
        split: _CheckedFile(
            open_writer("jsonl", data_dir / f"{split}.jsonl"),
            Validator(shape),
            f"data/{split}.jsonl",
        )
        for split in splits
    }
    summary = ExportSummary()
    left_out: Counter = Counter()
    seen = SeenOnce()
    prompt_id = None
    try:
        for row in rows:
            if row["prompt_id"] != prompt_id:
                prompt_id = row["prompt_id"]
                summary.prompts_seen += 1
                seen.clear()
            summary.pairs_seen += 1  # here: choices read
            records = _records(row, options, left_out, seen)
            if not records:
                continue
            summary.pairs_exported += 1
            test = in_test_split(
                row["prompt_hash"], seed=options.seed, test_fraction=options.test_fraction
            )
            for record in records:
                files["test" if test else "train"].write(record, row["prompt_id"])
    except BaseException:
        for out in files.values():
            out.writer.close()
        raise
    for out in files.values():
        out.close()
    summary.rows_left_out = left_out
    for split, out in files.items():
        summary.rows[split] = out.rows
    if summary.row_count == 0:
        why = ", ".join(f"{n} {LEFT_OUT[k]}" for k, n in left_out.items()) or "no choices stored"
        raise EmptyExport(
            f"No rows to export: {summary.pairs_seen} {options.bon_method} choices read ({why}). "
            "Store the choices on the test-time compute page first.",
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
    meta["annotations_creators"] = [
        "crowdsourced" if options.bon_method == "human" else "machine-generated"
    ]
    left = "\n".join(f"  - −{n:,} {LEFT_OUT[k]}" for k, n in sorted(summary.rows_left_out.items()))
    filters = "\n".join(f"| `{k}` | `{v}` |" for k, v in options.filters().items())
    files = ", ".join(f'"{s}": "{p}"' for s, p in zip(summary.rows, summary.files, strict=True))
    splits = ", ".join(f"{s}: {n:,} rows" for s, n in summary.rows.items())
    return f"""---
{yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)}---

# {context.campaign_title} — {FORMATS[options.format]}

Best-of-N data from the annotate campaign `{context.campaign_slug}`: per prompt and generator, the
sample chosen by **{options.bon_method}** (annotate/analytics/ttc.py documents each method and its
tie rule){" and the sample it likes least" if options.format == "bon-dpo" else ""}.
{"Only choices whose final answer matches the reference answer are kept (rejection sampling)." if options.bon_correct_only else "Choices are kept whether or not their answer matches a reference."}
{"Reasoning traces are included: each assistant message starts with `<think>`, the trace, `</think>`, a blank line, then the reply." if options.include_reasoning else "Assistant messages hold the final reply only (reasoning traces are left out)."}

```python
from datasets import load_dataset
ds = load_dataset("json", data_files={{{files}}})
```

- Splits: {splits}.
- {summary.pairs_seen:,} choices read on {summary.prompts_seen:,} prompts; {summary.pairs_exported:,} gave a row.
{left}

| filter | value |
|---|---|
{filters}

## Row rules

Every row was checked against the `{SHAPE[options.format]}` format's rules before it was written:

{chr(10).join(f"- `{k}`: {v}" for k, v in RULES.items())}
"""
