"""The raw ``conversations`` export of live campaigns: one row per conversation, every turn with
both replies, the vote and what the conversation continued with. Pure: rows in, a folder out (the
layout of pipeline.py: data/train.jsonl, data/test.jsonl, README.md, SHA256SUMS).

A row (JSON Lines)::

    {"conversation_id": 4, "rater": "rater-…", "status": "ended",
     "generators": ["model-a", "model-b"],          # reply 0 of every turn is generators[0]'s
     "system": "",
     "turns": [{"index": 1, "user": "Hello",
                "responses": ["...", "..."],         # generator a's reply, generator b's
                "stop_reasons": ["end_turn", "stopped_by_rater"],
                "shown_left": 1,                     # which response the rater saw on the left
                "choice": "b",                       # a | b | tie | both_bad ("" = no vote)
                "strength": 2,                       # graded scale; null on the binary one
                "rationale": "", "rewrite": "",
                "continued_with": "b",               # a | b | rewrite ("" = the conversation ended)
                "excluded": false}],                 # a reply named its model: vote left out
     "messages": [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "..."}],
     "created_at": "...", "ended_at": "..."}

``messages`` is the conversation as it went on: each user message, then the reply (or rewrite) it
continued with. The per-turn pairs of the same campaign come out of every pairwise format (TRL's
conversational prompt is the shared history through the user's message).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import yaml

from annotate.exports.card import CardContext, front_matter
from annotate.exports.options import FORMATS, ExportOptions
from annotate.exports.rankings import write_records_export
from annotate.exports.summary import ExportSummary
from annotate.exports.validate import Validator

LEFT_OUT = {"no_turns": "conversations without a turn"}


def _iso(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else (value or "")


def conversation_record(row: dict, rater_names: dict) -> dict:
    """``row``: a conversation (id, rater_id, status, generators, created_at, ended_at) and its
    ``turns`` in order, each with its prompt's system, both replies and the vote (or None)."""
    turns, messages = [], []
    for turn in row["turns"]:
        vote = turn["vote"] if not turn["excluded"] else None
        messages.append({"role": "user", "content": turn["user"]})
        if turn["continuation"]:
            messages.append({"role": "assistant", "content": turn["continuation"]})
        turns.append(
            {
                "index": turn["index"],
                "user": turn["user"],
                "responses": [turn["a_text"], turn["b_text"]],
                "stop_reasons": [turn["a_stop_reason"], turn["b_stop_reason"]],
                "shown_left": 0 if turn["left_is_a"] else 1,
                "choice": vote["choice"] if vote else "",
                "strength": vote["strength"] if vote else None,
                "rationale": (vote["rationale"] or "") if vote else "",
                "rewrite": (vote["rewrite"] or "") if vote else "",
                "continued_with": turn["continued_with"],
                "excluded": bool(turn["excluded"]),
            }
        )
    first = row["turns"][0] if row["turns"] else {}
    # A seeded conversation opens with the seed's turns: they belong to the transcript.
    opening = list(first.get("messages", []))[:-1]
    return {
        "conversation_id": row["id"],
        "rater": rater_names.get(row["rater_id"], ""),
        "status": row["status"],
        "generators": [row["a_generator"], row["b_generator"]],
        "system": first.get("system", "") or "",
        "turns": turns,
        "messages": [*opening, *messages],
        "created_at": _iso(row["created_at"]),
        "ended_at": _iso(row["ended_at"]),
    }


def write_conversations_export(
    rows: Iterable[dict],
    *,
    options: ExportOptions,
    out_dir: Path,
    context: CardContext,
    rater_names: dict | None = None,
) -> ExportSummary:
    def records():
        for row in rows:
            # The split goes by conversation: all its turns on one side.
            digest = hashlib.sha256(f"conversation:{row['id']}".encode()).hexdigest()
            if not row["turns"]:
                yield row["id"], digest, None, "no_turns"
                continue
            yield row["id"], digest, conversation_record(row, rater_names or {}), None

    return write_records_export(
        records(),
        validator=lambda: Validator("conversations"),
        options=options,
        out_dir=out_dir,
        card=lambda summary: _card(context, options, summary),
        left_out_labels=LEFT_OUT,
        what="conversations",
    )


def _card(context: CardContext, options: ExportOptions, summary: ExportSummary) -> str:
    meta = front_matter(context, options, summary)
    files = ", ".join(f'"{s}": "{p}"' for s, p in zip(summary.rows, summary.files, strict=True))
    splits = ", ".join(f"{s}: {n:,} rows" for s, n in summary.rows.items())
    doc = __doc__.split("A row (JSON Lines)::", 1)[1]
    return f"""---
{yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)}---

# {context.campaign_title} — {FORMATS[options.format]}

Live conversations from the annotate campaign `{context.campaign_slug}`: a rater chatted with two
anonymous models at once and chose the better reply at every turn. One row per conversation, not
aggregated.

```python
from datasets import load_dataset
ds = load_dataset("json", data_files={{{files}}})
```

- Splits: {splits} (by conversation).
- {summary.votes_seen:,} conversations read; {summary.row_count:,} written.

## Columns
{doc}"""
