"""The raw ``ranking`` export: one row per ranking, as raters gave it. Pure: rows in, a folder out
(the layout of pipeline.py: data/train.jsonl, data/test.jsonl, README.md, SHA256SUMS).

A row (JSON Lines)::

    {"vote_id": 7, "set_id": 3, "prompt_id": 12, "prompt_external_id": "q1",
     "prompt": [{"role": "user", "content": "..."}],
     "completions": ["...", "...", "..."],          # the set's responses, in slot order
     "generators": ["model-a", "model-b", "model-a"],
     "ranks": [2, 1, 2],                            # 1 = best; tied completions share a rank
     "shown_order": [1, 0, 2],                      # completion indices as the rater saw them
     "all_bad": false, "aspects": {"honest": 1},    # aspect -> index of the best completion
     "rater": "rater-…", "source": "human", "rationale": "", "rewrite": "",
     "time_on_task_ms": 5310, "gold_ranks": null, "created_at": "..."}

Ranks are dense (a tie shares a rank and the next rank follows it: 1, 2, 2, 3). Gold sets are left
out unless include_gold; raters below min_gold_accuracy are left out; ``source`` picks human, judge
or both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import yaml

from annotate.exports.card import CardContext, front_matter
from annotate.exports.formats import prompt_messages
from annotate.exports.options import FORMATS, ExportOptions
from annotate.exports.pipeline import _CheckedFile, in_test_split
from annotate.exports.summary import EmptyExport, ExportSummary
from annotate.exports.validate import COLUMNS, RULES, Validator
from annotate.exports.writers import open_writer, write_sha256sums

RANKING_COLUMNS = COLUMNS["ranking"]
LEFT_OUT = {
    "gold": "on gold sets (left out unless include_gold)",
    "other_source": "from the other source (source filter)",
    "excluded_rater": "by raters below the gold accuracy threshold (min_gold_accuracy)",
}


def dense_ranks(groups: list[list[int]], members: list[int]) -> list[int]:
    """Rank (1 = best) of each member, in members' order; tied members share a rank."""
    rank = {c: i + 1 for i, group in enumerate(groups) for c in group}
    return [rank[m] for m in members]


def ranking_record(row: dict, rater_names: dict) -> dict:
    vote, facts, members = row["vote"], row["set"], row["members"]
    ids = [m["candidate_id"] for m in members]
    index = {cid: i for i, cid in enumerate(ids)}
    item = {"messages": facts["prompt__messages"], "system": facts["prompt__system"]}
    gold = facts["gold_ranking"]
    return {
        "vote_id": vote["id"],
        "set_id": facts["id"],
        "prompt_id": facts["prompt_id"],
        "prompt_external_id": facts["prompt__external_id"] or "",
        "prompt": prompt_messages(item),
        "completions": [m["text"] for m in members],
        "generators": [m["generator"] for m in members],
        "ranks": dense_ranks(vote["ranking"], ids),
        "shown_order": [index[c] for c in vote["shown_order"]],
        "all_bad": bool(vote["all_bad"]),
        "aspects": {k: index[v] for k, v in sorted((vote["aspects"] or {}).items()) if v in index},
        "rater": "judge" if vote["source"] == "judge" else rater_names.get(vote["rater_id"], ""),
        "source": vote["source"],
        "rationale": vote["rationale"] or "",
        "rewrite": vote["rewrite"] or "",
        "time_on_task_ms": vote["time_on_task_ms"],
        "gold_ranks": dense_ranks(gold, ids) if gold else None,
        "created_at": vote["created_at"].isoformat()
        if hasattr(vote["created_at"], "isoformat")
        else str(vote["created_at"]),
    }


def write_ranking_export(
    rows: Iterable[dict],
    *,
    options: ExportOptions,
    out_dir: Path,
    context: CardContext,
    rater_names: dict | None = None,
    excluded_raters: frozenset = frozenset(),
) -> ExportSummary:
    sources = ("human", "judge") if options.source == "all" else (options.source,)

    def records():
        for row in rows:
            vote, facts = row["vote"], row["set"]
            if facts["gold_ranking"] and not options.include_gold:
                why = "gold"
            elif vote["source"] not in sources:
                why = "other_source"
            elif vote["source"] == "human" and vote["rater_id"] in excluded_raters:
                why = "excluded_rater"
            else:
                why = None
            record = None if why else ranking_record(row, rater_names or {})
            yield facts["prompt_id"], facts["prompt__content_hash"], record, why

    return write_records_export(
        records(),
        validator=lambda: Validator("ranking"),
        options=options,
        out_dir=out_dir,
        card=lambda summary: _card(context, options, summary),
        left_out_labels=LEFT_OUT,
        what="rankings",
    )


def write_records_export(
    items: Iterable[tuple[int, str, dict | None, str | None]],
    *,
    validator: Callable[[], Validator],
    options: ExportOptions,
    out_dir: Path,
    card: Callable[[ExportSummary], str],
    left_out_labels: dict[str, str],
    what: str,
) -> ExportSummary:
    """A folder of JSON Lines records (the formats written from a protocol's own votes: ranking,
    ratings, a rating campaign's KTO). ``items``: (prompt id, prompt hash, record or None, why it
    was left out or None) in prompt order; each record is checked, then written to its split."""
    out_dir = Path(out_dir)
    data_dir = out_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    splits = ["train", "test"] if options.test_fraction > 0 else ["train"]
    files = {
        split: _CheckedFile(
            open_writer("jsonl", data_dir / f"{split}.jsonl"), validator(), f"data/{split}.jsonl"
        )
        for split in splits
    }
    summary = ExportSummary()
    left_out: Counter = Counter()
    last_prompt = None
    try:
        for prompt_id, prompt_hash, record, why in items:
            summary.votes_seen += 1
            if prompt_id != last_prompt:
                last_prompt = prompt_id
                summary.prompts_seen += 1
            if why:
                left_out[why] += 1
                continue
            summary.votes_counted += 1
            test = in_test_split(
                prompt_hash, seed=options.seed, test_fraction=options.test_fraction
            )
            files["test" if test else "train"].write(record, prompt_id)
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
        why = ", ".join(f"{n} {left_out_labels[k]}" for k, n in left_out.items()) or "none stored"
        raise EmptyExport(f"No rows to export: {summary.votes_seen} {what} read ({why}).", summary)
    for split in [s for s, n in summary.rows.items() if n == 0]:
        (data_dir / f"{split}.jsonl").unlink()
        del summary.rows[split]
    summary.files = [f"data/{split}.jsonl" for split in summary.rows]
    summary.sizes = {
        s: (out_dir / f).stat().st_size for s, f in zip(summary.rows, summary.files, strict=True)
    }
    (out_dir / "README.md").write_text(card(summary), encoding="utf-8")
    write_sha256sums(out_dir)
    return summary


def _card(context: CardContext, options: ExportOptions, summary: ExportSummary) -> str:
    meta = front_matter(context, options, summary)
    files = ", ".join(f'"{s}": "{p}"' for s, p in zip(summary.rows, summary.files, strict=True))
    splits = ", ".join(f"{s}: {n:,} rows" for s, n in summary.rows.items())
    left = "\n".join(f"  - −{n:,} {LEFT_OUT[k]}" for k, n in sorted(summary.votes_left_out.items()))
    doc = __doc__.split("A row (JSON Lines)::", 1)[1]
    return f"""---
{yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)}---

# {context.campaign_title} — {FORMATS[options.format]}

Rankings of K responses per prompt from the annotate campaign `{context.campaign_slug}`, one row
per ranking, not aggregated and not turned into pairs (the pairwise formats of the same campaign
derive pairs from these rankings; their cards say how).

```python
from datasets import load_dataset
ds = load_dataset("json", data_files={{{files}}})
```

- Splits: {splits}.
- {summary.votes_seen:,} rankings read on {summary.prompts_seen:,} prompts; {summary.row_count:,} written.
{left}

## Columns
{doc}
## Row rules

Every row was checked before it was written:

{chr(10).join(f"- `{k}`: {v}" for k, v in RULES.items() if k in ("columns", "ranking_row", "text", "grouping"))}
"""
