"""The dataset card: README.md with YAML front matter that `datasets` and the Hub read, then prose.

The YAML carries one config named after the format with its data files per split, so
``load_dataset("<export folder>")`` finds the splits by itself. The card holds no export timestamp:
the export date lives on the Export row, so the same data gives the same bytes here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import yaml

from annotate.analytics.crowd_models import MODEL_METHODS, MODEL_RULES
from annotate.exports.aggregate import AGGREGATION_RULES
from annotate.exports.formats import PROMPT_RULES, ROW_RULES
from annotate.exports.kto import KTO_RULES
from annotate.exports.options import (
    BON_FILTERS,
    FORMATS,
    KTO_FILTERS,
    RATING_FILTERS,
    TIE_COLUMN_FORMATS,
    ExportOptions,
)
from annotate.exports.summary import funnel
from annotate.exports.validate import RULES

if TYPE_CHECKING:
    from annotate.exports.summary import ExportSummary

TAGS = {
    "trl-dpo-conversational": ["trl", "dpo", "preference"],
    "trl-dpo-standard": ["trl", "dpo", "preference"],
    "trl-reward": ["trl", "reward-modeling", "preference"],
    "trl-kto": ["trl", "kto", "preference"],
    "sft-messages": ["trl", "sft"],
    "hh-rlhf": ["preference", "hh-rlhf"],
    "openai-dpo": ["dpo", "preference", "openai"],
    "raw-jsonl": ["preference", "annotations"],
    "raw-csv": ["preference", "annotations"],
    "raw-parquet": ["preference", "annotations"],
    "bon-sft": ["trl", "sft", "best-of-n", "rejection-sampling"],
    "bon-dpo": ["trl", "dpo", "preference", "best-of-n"],
    "ranking": ["preference", "ranking", "annotations"],
    "ratings": ["preference", "rating", "annotations"],
    "trl-stepwise": ["trl", "prm", "stepwise-supervision", "process-supervision"],
    "steps": ["process-supervision", "step-labels", "annotations"],
    "conversations": ["preference", "dialogue", "chatbot-arena", "annotations"],
}
BUILDER = {"raw-csv": "csv", "raw-parquet": "parquet"}

RAW_GLOSSARY = """## Columns (raw votes)

| column | meaning |
|---|---|
| `judgment_id`, `pair_id`, `prompt_id`, `prompt_external_id` | ids of the vote, the pair and the prompt |
| `rater` | pseudonymous rater id (stable within this server; never a username; a crowd participant's is a salted pseudonym of their platform id, or the id itself with `raw_participant_ids`), `judge` for AI labels |
| `source` | `human`, `judge` (RLAIF), or `adjudicated` (an adjudicator's final label, with `source: all`) |
| `choice`, `strength` | a / b / tie / both_bad in the pair's canonical terms; 1–3 on the graded scale |
| `scale_value` | signed score for A: +strength for a, −strength for b, 0 tie, empty for both_bad |
| `aspects` | per-aspect choices as a JSON object |
| `rationale`, `rewrite` | the rater's reason and rewritten response, if any |
| `shown_left` | which candidate (a or b) was on the left |
| `time_on_task_ms`, `judge_shown` | time spent; whether the judge's verdict was visible |
| `judge_verdict` | the AI judge's verdict on the pair, if it judged it |
| `revises_id`, `is_latest` | a revision points at the first vote; `is_latest` marks the vote that counts |
| `generator_a`, `generator_b`, `gold_answer`, `created_at` | who wrote a and b; the gold answer; when |
| `model_a`, `model_b`, `params_a`, `params_b` | each generator's model and its parameters (a JSON object) |
| `input_tokens_*`, `output_tokens_*`, `cost_usd_*` | what generating each response took and cost (USD; 0 for an imported response) |
| `judge_rubric_version` | the version of the rubric of the judge's verdict on the pair, if it judged it |

"""


@dataclass
class CardContext:
    campaign_title: str
    campaign_slug: str
    guidelines: str = ""
    scale: str = "binary"
    aspects: list[str] = field(default_factory=list)
    overlap: int = 1
    judge_mode: str = "off"
    judge_model: str = ""  # provider/model of the campaign's AI judge, when one is configured
    generators: list[dict] = field(default_factory=list)  # {"name", "provider", "model"}
    raters: int = 0
    excluded_raters: int = 0
    alpha: float | None = None  # Krippendorff's α (ordinal) over the campaign's human votes
    alpha_low: float | None = None  # its 95% bootstrap interval (pairs resampled)
    alpha_high: float | None = None
    alpha_votes: int = 0  # the human votes it was computed over (every one of them)
    protocol: str = "pairwise"  # ranking: the pairs were derived from rankings (see below)
    ranking_k: int = 0
    generation_cost_usd: float = 0.0  # every candidate the campaign generated
    judge_cost_usd: float = 0.0  # every verdict of the campaign's AI judge
    rating_k: int = 0
    rating_scale: tuple[int, int] = (1, 5)


def size_category(n: int) -> str:
    for limit, label in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
    ):
        if n < limit:
            return label
    return "n>1T" if n > 10**12 else "10M<n<100M"


def raw_features() -> list[dict]:
    """`datasets` feature list of the raw-vote columns (so CSV/JSONL nulls keep their types)."""
    from annotate.exports.writers import raw_schema

    dtypes = {"int64": "int64", "double": "float64", "string": "string", "bool": "bool"}
    return [{"name": f.name, "dtype": dtypes[str(f.type)]} for f in raw_schema()]


def front_matter(context: CardContext, options: ExportOptions, summary: ExportSummary) -> dict:
    data_files = [{"split": s, "path": p} for s, p in zip(summary.rows, summary.files, strict=True)]
    config: dict = {"config_name": options.format, "default": True, "data_files": data_files}
    info: dict = {"config_name": options.format}
    if options.is_raw:
        info["features"] = raw_features()
    info["splits"] = [
        {"name": s, "num_bytes": summary.sizes.get(s, 0), "num_examples": n}
        for s, n in summary.rows.items()
    ]
    return {
        "pretty_name": f"{context.campaign_title} ({options.format})",
        "tags": TAGS[options.format] + ["human-feedback" if options.source != "judge" else "rlaif"],
        "annotations_creators": [
            "machine-generated" if options.source == "judge" else "crowdsourced"
        ],
        "task_categories": ["text-generation"],
        "size_categories": [size_category(summary.row_count)],
        "configs": [config],
        "dataset_info": info,
    }


def _guidelines_summary(text: str, limit: int = 600) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text or "(none written)"
    return text[:limit].rsplit(" ", 1)[0] + " …"


def _bullets(rules: dict[str, str]) -> str:
    return "\n".join(f"- `{key}`: {text}" for key, text in rules.items())


def _format_rules(options: ExportOptions) -> str:
    """What only this format does with the data."""
    if options.format == "trl-kto":
        return f"### KTO labels (threshold {options.kto_threshold:g}, contested: {options.kto_contested})\n\n{KTO_RULES}\n"
    if options.format == "hh-rlhf":
        return (
            "### HH-RLHF transcripts\n\nHH-RLHF has no system turn. A system prompt is folded into "
            "the first Human turn: `\\n\\nHuman: <system prompt>\\n\\n<first user message>`, so "
            "every transcript starts with `\\n\\nHuman: `. chosen and rejected share the transcript "
            "up to their final `\\n\\nAssistant: ` turn.\n"
        )
    if options.format == "trl-dpo-standard":
        return (
            "### Standard (string) prompts\n\nA single user turn without a system prompt is its "
            "text; anything longer is written as `System:` / `User:` / `Assistant:` blocks ending "
            "in `Assistant:`.\n"
        )
    return ""


def rating_pairs_note(context: CardContext, options: ExportOptions) -> str:
    """How a rating campaign's pairs were derived."""
    low, high = context.rating_scale
    how = (
        "against every other response of the prompt"
        if options.rating_pairs == "best_vs_each"
        else f"against one other response of the prompt, drawn with seed {options.seed} "
        "(the same seed draws the same pairs)"
    )
    return f"""### Pairs derived from ratings (rating_pairs: `{options.rating_pairs}`, rating_min_gap: `{options.rating_min_gap:g}`)

Raters scored responses (up to {context.rating_k} per unit) from {low} to {high}, overall and
per aspect. Per prompt, each response's **aggregated score** is the mean of its counted human
overall scores. The response with the highest aggregated score (a tie goes to the earlier
response) is the chosen one, paired {how} whose aggregated score is at least
{options.rating_min_gap:g} lower (UltraFeedback-style binarisation); responses closer than that
give no pair. One pair is one derived vote whose strength (the reward margin) is the score gap,
so `min_votes` counts pairs, not raters. The raw scores are the `ratings` format.

"""


def _ranking_note(context: CardContext, options: ExportOptions) -> str:
    """How a ranking or rating campaign's pairs were derived (nothing for a pairwise campaign)."""
    if context.protocol == "rating":
        return rating_pairs_note(context, options)
    if context.protocol != "ranking":
        return ""
    how = (
        "every pair of the set: K(K-1)/2 comparisons from one ranking"
        if options.ranking_pairs == "all"
        else "each top-ranked response against every lower one (K-1 per ranking without a tie "
        "at the top; responses tied at the top are not compared with each other)"
    )
    return f"""### Pairs derived from rankings (ranking_pairs: `{options.ranking_pairs}`)

Raters ranked sets of up to {context.ranking_k} responses of a prompt, best to worst, ties
allowed. Each ranking gave {how}. A pair's vote is a, b or tie (tied responses), or both bad when
the rater marked the whole set all bad; its strength is the **rank distance** (how many ranks apart
the two responses were), so under majority the margin is the mean rank distance of the winning
side's votes times their share. Per pair, each rater's ranking is one vote; ties follow the tie
policy. A derived pair's `pair_id` is set id × 100 + the two members' slots; `shown_left` says
which of the two the rater saw first. The raw rankings are the `ranking` format.

"""


_REASONING_NOTE = """### Reasoning traces

include_reasoning is on: a response that came with a reasoning trace is written as `<think>`, the
trace, `</think>`, a blank line, then the reply (without it, only the reply is written).
"""


def _cost_line(context: CardContext, summary: ExportSummary) -> str:
    total = context.generation_cost_usd + context.judge_cost_usd
    line = (
        f"Model cost of the campaign: ${total:,.4f} (generation ${context.generation_cost_usd:,.4f}, "
        f"AI judge ${context.judge_cost_usd:,.4f})"
    )
    if summary.pairs_exported:
        line += f"; ${total / summary.pairs_exported:,.4f} per labelled pair in this export"
    return line + ". Raters' pay is not included."


def _model_note(options: ExportOptions) -> str:
    if options.method not in MODEL_METHODS:
        return ""
    return (
        f"\n**This export's method is `{options.method}`**: a model fitted to every counted human "
        f"vote of the campaign at once (crowd-kit), not the majority of rule 3.\n\n{MODEL_RULES}\n\n"
        "Margin: the mean strength of the votes for the label (1 on the binary scale) times the "
        "model's probability of the label; agreement: the share of the pair's votes that chose it.\n"
    )


def _view_note(options: ExportOptions) -> str:
    if not options.view:
        return ""
    return (
        f"Only the pairs of the browse view `?{options.view}` were read (the campaign's browse "
        "page with these filters, as they matched when the export was built).\n\n"
    )


def _adjudication_note(options: ExportOptions, summary: ExportSummary) -> str:
    if options.is_raw:
        return (
            "Adjudicators' final labels are rows of their own (`source: adjudicated`, the reason "
            "in `rationale`) when `source` is `all`.\n\n"
        )
    if options.source != "human":
        return ""
    if options.adjudicated == "ignore":
        return (
            "Adjudicators' final labels are not used (`adjudicated: ignore`): the votes decide.\n\n"
        )
    return (
        "A pair an adjudicator settled takes the adjudicator's latest label instead of the "
        "aggregate of its votes (`adjudicated: prefer`), whatever the number of votes; its "
        "margin is that label's strength, as for one vote; earlier adjudications of the pair are "
        f"its audit trail. Pairs labelled so: {summary.adjudicated_pairs:,}.\n\n"
    )


def render_card(context: CardContext, options: ExportOptions, summary: ExportSummary) -> str:
    meta = yaml.safe_dump(
        front_matter(context, options, summary), sort_keys=False, allow_unicode=True, width=1000
    )
    splits = ", ".join(f"{s}: {n:,} rows" for s, n in summary.rows.items())
    filters = "\n".join(
        f"| `{k}` | `{v}` |"
        for k, v in options.filters().items()
        if (options.format == "trl-kto" or k not in KTO_FILTERS)
        and k not in BON_FILTERS
        and (context.protocol == "ranking" or k != "ranking_pairs")
        and (context.protocol == "rating" or k not in RATING_FILTERS)
        and k != "step_neutral"
    )
    labels = ", ".join(f"{k}: {v:,}" for k, v in sorted(summary.labels.items())) or "none"
    gens = "\n".join(
        f"- `{g['name']}` — {g['provider']} / `{g['model']}`" for g in context.generators
    )
    wins = "\n".join(
        f"| `{w}` | `{lo}` | {n:,} |" for (w, lo), n in sorted(summary.generator_wins.items())
    )
    agreement = (
        f"{summary.mean_agreement:.1%} mean share of votes agreeing with the label over "
        f"{summary.multi_vote_pairs:,} pairs with two or more votes "
        f"({summary.unanimous_pairs:,} unanimous)"
        if summary.mean_agreement is not None
        else "no pair has two or more counted votes, so agreement is not measured"
    )
    if context.alpha is None:
        alpha = "not defined for these votes (it needs pairs with two or more votes that differ)"
    else:
        alpha = f"{context.alpha:.3f}"
        if context.alpha_low is not None and context.alpha_high is not None:
            alpha += f" (95% bootstrap CI {context.alpha_low:.3f} – {context.alpha_high:.3f})"
        alpha += f" over all {context.alpha_votes:,} human votes"
    source = {
        "human": "human raters",
        "judge": "the AI judge (RLAIF labels)",
        "all": "human raters and the AI judge (see the `source` column)",
    }[options.source]
    split = (
        f"by prompt: a prompt is in the test split when sha256(`{options.seed}:<prompt hash>`) "
        f"falls in the first {options.test_fraction:.0%}; no prompt is in both splits, and a "
        "split left with no row is not written (it would not load)"
        if options.test_fraction > 0
        else "none (train only)"
    )
    return f"""---
{meta}---

# {context.campaign_title} — {FORMATS[options.format]}

Preference data collected in the annotate campaign `{context.campaign_slug}`. Labels come from
{source}.

```python
from datasets import load_dataset
ds = load_dataset("path/to/this/folder")  # reads the configs above
# or, file by file:
ds = load_dataset("{BUILDER.get(options.format, "json")}", data_files={{{", ".join(f'"{s}": "{p}"' for s, p in zip(summary.rows, summary.files, strict=True))}}})
```

## Files and counts

- Splits: {splits}. Split: {split}.
- Aggregated labels of the pairs: {labels}.
- `SHA256SUMS` lists a checksum for every file (`sha256sum -c SHA256SUMS`).

What was read, and what each filter and rule left out:

{chr(10).join(funnel(summary, options))}

## Campaign

- Rating scale: `{context.scale}`; aspects: {", ".join(context.aspects) or "none"};
  votes wanted per pair (k): {context.overlap}; AI judge mode: `{context.judge_mode}`{f" (`{context.judge_model}`)" if context.judge_model else ""}.
- Raters who voted: {context.raters:,}; excluded by the gold-accuracy filter: {context.excluded_raters:,}.
- {_cost_line(context, summary)}

### Guidelines (summary)

{_guidelines_summary(context.guidelines)}

### Generators

{gens or "- (none)"}

| winner | loser | pairs |
|---|---|---|
{wins or "| – | – | 0 |"}

{RAW_GLOSSARY if options.is_raw else ""}## Aggregation

{"Raw votes are not aggregated: every judgment is a row (revisions too, `is_latest` marks the vote that counts); the rules below are what the aggregated formats apply." if options.is_raw else ""}

Filters of this export:

| filter | value |
|---|---|
{filters}

{AGGREGATION_RULES}
{_model_note(options)}
Tie policy `{options.tie_policy}`: drop leaves tied pairs out; keep writes them once (A as chosen)
with `tie: true` (only formats with a `tie` column: {", ".join(TIE_COLUMN_FORMATS)}); split writes
both orders (margin 0 in reward rows). Both-bad policy `{options.both_bad_policy}`: drop leaves
them out; rewrite writes "rater's rewrite ≻ each response" from the earliest counted vote whose
rewrite is a rewrite. A rewrite with the text of either response (after folding white space) is
not a rewrite: raters cannot submit one (the vote is refused with a message), and one stored
before that rule is not used for any row. Gold pairs are
{"included" if options.include_gold else "excluded"}. {f"Raters whose accuracy on gold pairs (first, blind votes) is below {options.min_gold_accuracy:.0%} are left out; raters who answered no gold pair are kept." if options.min_gold_accuracy > 0 else "No rater is left out for gold accuracy."}

{_view_note(options)}{_adjudication_note(options, summary)}{_ranking_note(context, options)}{_format_rules(options)}{_REASONING_NOTE if options.include_reasoning else ""}
## Row rules

What is left out before anything is written (counted above when it happens):

{_bullets({**PROMPT_RULES, **ROW_RULES})}
- Texts are written as stored, except a leading byte-order mark (U+FEFF), which is removed.
  "The same text" means equal after Unicode NFC normalisation and folding every run of white
  space into one space.

Every row written was then checked against the format's rules; an export with a row that breaks
one fails instead of being published:

{_bullets(RULES)}

## Agreement

- Among raters on the same pair: {agreement}.
- Krippendorff's α (ordinal, all human votes of the campaign): {alpha}.
"""
