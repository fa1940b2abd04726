"""The formats written from a rating campaign's scores: raw ``ratings`` and ``trl-kto``. Pure: rows
in (annotate/selectors/ratings.py), a folder out (the layout of rankings.write_records_export).

A ``ratings`` row (JSON Lines), one per rated response, HelpSteer-style::

    {"rating_id": 7, "set_id": 3, "prompt_id": 12, "prompt_external_id": "q1",
     "prompt": [{"role": "user", "content": "..."}],
     "response": "...", "generator": "model-a",
     "position": 0,                        # where the rater saw it on the page (0 = first)
     "overall": 4,                         # on the campaign's scale
     "helpful": 5, "honest": 4,            # one column per aspect, in the campaign's order
     "rationale": "", "rater": "rater-…", "source": "human",
     "time_on_task_ms": 5310, "created_at": "..."}

An aspect named like one of the other columns gets the column ``<aspect>_score``.

A rating campaign's ``trl-kto`` row is {"prompt", "completion", "label"} per (prompt, response):
the response's aggregated score (the mean of its counted overall scores) as a share of the scale
((score − low) / (high − low)) at or above ``kto_threshold`` is desirable, at or below
1 − ``kto_threshold`` undesirable; in between it is contested (``kto_contested``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import groupby
from pathlib import Path

import yaml

from annotate.exports.card import CardContext, front_matter
from annotate.exports.formats import prompt_messages
from annotate.exports.options import FORMATS, ExportOptions
from annotate.exports.rankings import write_records_export
from annotate.exports.summary import ExportSummary
from annotate.exports.texts import clean
from annotate.exports.validate import COLUMNS, RULES, Validator
from annotate.protocols.rating import aggregated_scores, normalised

RATING_COLUMNS = COLUMNS["ratings"]
LEFT_OUT = {
    "other_source": "from the other source (source filter)",
    "excluded_rater": "by raters below the gold accuracy threshold (min_gold_accuracy)",
    "contested": "on responses whose mean score is between the KTO thresholds (kto_contested)",
}


def aspect_columns(aspects: Iterable[str]) -> dict[str, str]:
    """aspect -> its column name (``<aspect>_score`` when it would clash with another column)."""
    return {a: f"{a}_score" if a in RATING_COLUMNS else a for a in aspects}


def _created(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def rating_record(row: dict, *, columns: dict[str, str], rater_names: dict) -> dict:
    score, facts = row["score"], row["prompt"]
    item = {"messages": facts["messages"], "system": facts["system"]}
    source = score["vote__source"]
    record = {
        "rating_id": score["vote_id"],
        "set_id": score["vote__candidate_set_id"],
        "prompt_id": row["prompt_id"],
        "prompt_external_id": facts["external_id"] or "",
        "prompt": prompt_messages(item),
        "response": row["text"],
        "generator": row["generator"],
        "position": list(score["vote__shown_order"]).index(score["candidate_id"]),
        "overall": score["overall"],
        "rationale": score["rationale"] or "",
        "rater": "judge" if source == "judge" else rater_names.get(score["vote__rater_id"], ""),
        "source": source,
        "time_on_task_ms": score["vote__time_on_task_ms"],
        "created_at": _created(score["vote__created_at"]),
    }
    for aspect, column in columns.items():
        record[column] = (score["aspects"] or {}).get(aspect)
    return record


def _left_out(score: dict, *, sources: tuple, excluded: frozenset) -> str | None:
    if score["vote__source"] not in sources:
        return "other_source"
    if score["vote__source"] == "human" and score["vote__rater_id"] in excluded:
        return "excluded_rater"
    return None


def _ratings_items(rows, *, options, columns, rater_names, excluded) -> Iterator[tuple]:
    sources = ("human", "judge") if options.source == "all" else (options.source,)
    for row in rows:
        why = _left_out(row["score"], sources=sources, excluded=excluded)
        record = None if why else rating_record(row, columns=columns, rater_names=rater_names)
        yield row["prompt_id"], row["prompt"]["content_hash"], record, why


def kto_label(share: float, *, threshold: float, contested: str) -> bool | None:
    """A response's label from its mean score as a share of the scale; None: left out."""
    if share >= threshold:
        return True
    if share <= 1 - threshold:
        return False
    if contested == "drop":
        return None
    return contested == "desirable"


def _kto_items(rows, *, options, scale, excluded) -> Iterator[tuple]:
    low, high = scale
    for prompt_id, prompt_rows in groupby(rows, key=lambda r: r["prompt_id"]):
        prompt_rows = list(prompt_rows)
        facts = prompt_rows[0]["prompt"]
        prompt = prompt_messages({"messages": facts["messages"], "system": facts["system"]})
        scores: dict[int, list[float]] = {}
        texts: dict[int, str] = {}
        for row in prompt_rows:
            score = row["score"]
            why = _left_out(score, sources=(options.source,), excluded=excluded)
            if why:
                yield prompt_id, facts["content_hash"], None, why
                continue
            scores.setdefault(score["candidate_id"], []).append(float(score["overall"]))
            texts[score["candidate_id"]] = row["text"]
        for candidate, mean in sorted(aggregated_scores(scores).items()):
            label = kto_label(
                normalised(mean, low=low, high=high),
                threshold=options.kto_threshold,
                contested=options.kto_contested,
            )
            if label is None:
                yield prompt_id, facts["content_hash"], None, "contested"
                continue
            completion = [{"role": "assistant", "content": clean(texts[candidate])}]
            record = {"prompt": prompt, "completion": completion, "label": label}
            yield prompt_id, facts["content_hash"], record, None


def write_rating_export(
    rows: Iterable[dict],
    *,
    options: ExportOptions,
    out_dir: Path,
    context: CardContext,
    rater_names: dict | None = None,
    excluded_raters: frozenset = frozenset(),
) -> ExportSummary:
    """The ``ratings`` or (for a rating campaign) ``trl-kto`` folder of the campaign's scores."""
    if options.format == "trl-kto":
        items = _kto_items(
            rows, options=options, scale=context.rating_scale, excluded=excluded_raters
        )
        validator = lambda: Validator("trl-kto")  # noqa: E731
        what = "scores"
    else:
        columns = aspect_columns(context.aspects)
        items = _ratings_items(
            rows,
            options=options,
            columns=columns,
            rater_names=rater_names or {},
            excluded=excluded_raters,
        )
        validator = lambda: Validator("ratings", raw_columns=columns.values())  # noqa: E731
        what = "scores"
    return write_records_export(
        items,
        validator=validator,
        options=options,
        out_dir=out_dir,
        card=lambda summary: _card(context, options, summary),
        left_out_labels=LEFT_OUT,
        what=what,
    )


def _card(context: CardContext, options: ExportOptions, summary: ExportSummary) -> str:
    meta = front_matter(context, options, summary)
    files = ", ".join(f'"{s}": "{p}"' for s, p in zip(summary.rows, summary.files, strict=True))
    splits = ", ".join(f"{s}: {n:,} rows" for s, n in summary.rows.items())
    left = "\n".join(f"  - −{n:,} {LEFT_OUT[k]}" for k, n in sorted(summary.votes_left_out.items()))
    low, high = context.rating_scale
    aspects = ", ".join(f"`{a}`" for a in context.aspects) or "none (overall only)"
    if options.format == "trl-kto":
        doc = __doc__.split("A rating campaign's ``trl-kto`` row", 1)[1]
        body = (
            f"### KTO labels from scores (kto_threshold {options.kto_threshold:g}, "
            f"contested: {options.kto_contested})\n\nA row" + doc
        )
        rules = ("columns", "text", "completion", "label", "kto_one_label", "grouping")
    else:
        doc = __doc__.split("A ``ratings`` row (JSON Lines)", 1)[1].split("A rating campaign's", 1)[
            0
        ]
        body = "## Columns\n\nOne row per rated response (JSON Lines)" + doc
        rules = ("columns", "rating_row", "text", "grouping")
    return f"""---
{yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)}---

# {context.campaign_title} — {FORMATS[options.format]}

Ratings from the annotate campaign `{context.campaign_slug}`: raters scored each response from
{low} to {high}, overall and per aspect ({aspects}), up to {context.rating_k} responses per unit.

```python
from datasets import load_dataset
ds = load_dataset("json", data_files={{{files}}})
```

- Splits: {splits}.
- {summary.votes_seen:,} scores read on {summary.prompts_seen:,} prompts; {summary.row_count:,} rows written.
{left}

{body}
## Row rules

Every row was checked before it was written:

{chr(10).join(f"- `{k}`: {v}" for k, v in RULES.items() if k in rules)}
"""
