"""Record builders, one per output format. Pure: a pair item + its Decision in, plain dicts out.

A *pair item* is a dict with ``pair_id, prompt_id, prompt_hash, messages, system, a_text, b_text,
a_generator, b_generator, gold_answer`` and ``votes`` (the raw vote dicts of that pair).
Records contain only the columns the trainer expects (plus ``margin`` for reward modelling and a
``tie`` flag when ties are kept), so TRL / OpenAI / ``datasets`` load them as they are.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from annotate.exports.aggregate import Decision, signed_score
from annotate.exports.options import ExportOptions

# Margin given to "rewrite ≻ response" comparisons made from a both-bad vote: one full step.
REWRITE_MARGIN = 1.0


def prompt_messages(item: dict) -> list[dict]:
    """The conversation as chat messages, the system prompt first when there is one."""
    messages = [{"role": m["role"], "content": m["content"]} for m in item["messages"]]
    if item.get("system"):
        return [{"role": "system", "content": item["system"]}, *messages]
    return messages


def _assistant(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def flatten_prompt(item: dict) -> str:
    """Plain-text prompt for the *standard* (string) formats.

    A single user turn without a system prompt is its text as is; anything longer is written as
    ``System: …`` / ``User: …`` / ``Assistant: …`` blocks ending in ``Assistant:`` so the
    completion continues it. Prefer the conversational format for multi-turn data.
    """
    messages = item["messages"]
    if not item.get("system") and len(messages) == 1:
        return messages[0]["content"]
    parts = [f"System: {item['system']}"] if item.get("system") else []
    for m in messages:
        parts.append(f"{m['role'].capitalize()}: {m['content']}")
    parts.append("Assistant:")
    return "\n\n".join(parts)


def hh_transcript(item: dict) -> str:
    """Anthropic HH-RLHF transcript prefix; a system prompt goes before the first Human turn."""
    out = item.get("system") or ""
    for m in item["messages"]:
        speaker = "Human" if m["role"] == "user" else "Assistant"
        out += f"\n\n{speaker}: {m['content']}"
    return out


def pair_rewrite(item: dict, votes: list[dict]) -> str:
    """The rewrite offered for a pair: the earliest counted vote that has one."""
    for vote in votes:
        if vote.get("rewrite"):
            return vote["rewrite"]
    return ""


def comparisons(
    item: dict, decision: Decision, votes: list[dict], options: ExportOptions
) -> list[tuple[str, str, float, bool]]:
    """(chosen, rejected, margin, is_tie) comparisons a pair contributes under the policies."""
    a, b = item["a_text"], item["b_text"]
    if decision.label == "a":
        return [(a, b, decision.margin, False)]
    if decision.label == "b":
        return [(b, a, decision.margin, False)]
    if decision.label == "tie":
        if options.tie_policy == "keep":
            return [(a, b, 0.0, True)]
        if options.tie_policy == "split":
            return [(a, b, 0.0, True), (b, a, 0.0, True)]
        return []
    if decision.label == "both_bad" and options.both_bad_policy == "rewrite":
        rewrite = pair_rewrite(item, votes)
        if rewrite:
            return [(rewrite, a, REWRITE_MARGIN, False), (rewrite, b, REWRITE_MARGIN, False)]
    return []


def preference_records(
    item: dict, decision: Decision, votes: list[dict], options: ExportOptions
) -> Iterator[dict]:
    """Records of a paired-preference format (DPO, reward, HH, OpenAI) for one pair."""
    fmt = options.format
    keep_tie = options.tie_policy == "keep"
    for chosen, rejected, margin, is_tie in comparisons(item, decision, votes, options):
        if fmt == "trl-dpo-conversational":
            record = {
                "prompt": prompt_messages(item),
                "chosen": _assistant(chosen),
                "rejected": _assistant(rejected),
            }
        elif fmt == "trl-dpo-standard":
            record = {"prompt": flatten_prompt(item), "chosen": chosen, "rejected": rejected}
        elif fmt == "trl-reward":
            record = {
                "prompt": prompt_messages(item),
                "chosen": _assistant(chosen),
                "rejected": _assistant(rejected),
                "margin": float(margin),
            }
        elif fmt == "hh-rlhf":
            prefix = hh_transcript(item)
            record = {
                "chosen": f"{prefix}\n\nAssistant: {chosen}",
                "rejected": f"{prefix}\n\nAssistant: {rejected}",
            }
        elif fmt == "openai-dpo":
            record = {
                "input": {"messages": prompt_messages(item)},
                "preferred_output": _assistant(chosen),
                "non_preferred_output": _assistant(rejected),
            }
        else:  # pragma: no cover - parse_options refuses unknown formats
            raise ValueError(f"not a paired format: {fmt}")
        if keep_tie:
            record["tie"] = is_tie
        yield record


def kto_records(
    item: dict, decision: Decision, votes: list[dict], options: ExportOptions
) -> Iterator[dict]:
    """Unpaired KTO rows: each response labelled desirable (True) or undesirable (False)."""
    prompt = prompt_messages(item)
    a, b = item["a_text"], item["b_text"]
    labelled: list[tuple[str, bool]] = []
    if decision.label == "a":
        labelled = [(a, True), (b, False)]
    elif decision.label == "b":
        labelled = [(b, True), (a, False)]
    elif decision.label == "tie" and options.tie_policy in ("keep", "split"):
        labelled = [(a, True), (b, True)]
    elif decision.label == "both_bad" and options.both_bad_policy == "rewrite":
        rewrite = pair_rewrite(item, votes)
        if rewrite:
            labelled = [(rewrite, True), (a, False), (b, False)]
    for text, label in labelled:
        yield {"prompt": prompt, "completion": _assistant(text), "label": label}


def sft_records(item: dict, votes: list[dict]) -> Iterator[dict]:
    """One SFT conversation per rewrite a rater wrote (latest vote per rater)."""
    prompt = prompt_messages(item)
    for vote in votes:
        if vote.get("rewrite"):
            yield {"messages": [*prompt, *_assistant(vote["rewrite"])]}


RAW_COLUMNS = [
    "judgment_id",
    "pair_id",
    "prompt_id",
    "prompt_external_id",
    "rater",
    "source",
    "choice",
    "strength",
    "scale_value",
    "aspects",
    "rationale",
    "rewrite",
    "shown_left",
    "time_on_task_ms",
    "judge_shown",
    "judge_verdict",
    "revises_id",
    "is_latest",
    "generator_a",
    "generator_b",
    "gold_answer",
    "created_at",
]


def raw_records(
    item: dict, rows: list[dict], rater_names: dict, judge_verdict: str | None
) -> Iterator[dict]:
    """One row per judgment, revisions included. ``rater`` is a pseudonym, never a username."""
    latest_ids = {}
    for row in rows:
        key = (row["source"], row["rater_id"])
        latest_ids[key] = max(latest_ids.get(key, 0), row["judgment_id"])
    for row in rows:
        score = signed_score(row["choice"], row["strength"])
        left = row["left_is_a"]
        yield {
            "judgment_id": row["judgment_id"],
            "pair_id": item["pair_id"],
            "prompt_id": item["prompt_id"],
            "prompt_external_id": item.get("prompt_external_id") or "",
            "rater": "judge" if row["source"] == "judge" else rater_names.get(row["rater_id"], ""),
            "source": row["source"],
            "choice": row["choice"],
            "strength": row["strength"],
            "scale_value": score,
            # A JSON string so CSV, Parquet and JSONL share one flat schema.
            "aspects": json.dumps(row.get("aspects") or {}, sort_keys=True, ensure_ascii=False),
            "rationale": row.get("rationale") or "",
            "rewrite": row.get("rewrite") or "",
            "shown_left": None if left is None else ("a" if left else "b"),
            "time_on_task_ms": row.get("time_on_task_ms"),
            "judge_shown": bool(row.get("judge_shown")),
            "judge_verdict": judge_verdict,
            "revises_id": row.get("revises_id"),
            "is_latest": latest_ids[(row["source"], row["rater_id"])] == row["judgment_id"],
            "generator_a": item["a_generator"],
            "generator_b": item["b_generator"],
            "gold_answer": item.get("gold_answer") or "",
            "created_at": _iso(row["created_at"]),
        }


def _iso(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value or "")
