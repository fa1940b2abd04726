"""Record builders, one per output format. Pure: a pair item + its Decision in, plain dicts out.

A *pair item* is a dict with ``pair_id, prompt_id, prompt_hash, messages, system, a_text, b_text,
a_generator, b_generator, gold_answer`` (the fields every vote row of the pair carries).
Records contain only the columns the trainer expects (plus ``margin`` for reward modelling and a
``tie`` flag when ties are kept), so TRL / OpenAI / ``datasets`` load them as they are.

What a pair contributes is first a list of *comparisons* (chosen, rejected, margin, is_tie) under
the tie and both-bad policies; ``usable`` then leaves out the comparisons no format may write
(the rules are in ``ROW_RULES``, which the dataset card prints), before a format turns the rest into
records. KTO turns them into evidence on each completion instead (kto.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import NamedTuple

from annotate.exports.aggregate import Decision, signed_score
from annotate.exports.options import TIE_COLUMN_FORMATS, ExportOptions
from annotate.exports.texts import BOM, SeenOnce, clean, same_text, text_problem, usable_text
from annotate.sides import left_and_right

# Margin given to "rewrite ≻ response" comparisons made from a both-bad vote: one full step.
REWRITE_MARGIN = 1.0
# What a message may not contain in an HH-RLHF transcript: the turn markers themselves (a reader
# splits the transcript on them, so a reply holding one would read as two turns).
HH_MARKERS = ("\n\nHuman:", "\n\nAssistant:")

# Why a prompt's pairs, or a comparison, are left out (also the dataset card's words).
PROMPT_RULES = {
    "prompt_invalid": (
        "the prompt is not a conversation a trainer accepts (an optional system prompt, then user "
        "and assistant turns alternating from user and ending with user, every text non-empty and "
        "without NUL characters)"
    ),
    "hh_marker": 'a text holds an HH-RLHF turn marker ("\\n\\nHuman:" or "\\n\\nAssistant:")',
}
ROW_RULES = {
    "same_text": "chosen and rejected are the same text (after folding white space)",
    "bad_text": "a response is empty or holds a NUL character",
    "hh_marker": PROMPT_RULES["hh_marker"],
    "duplicate": "the same row (same prompt, chosen and rejected) was already written",
}


class Comparison(NamedTuple):
    chosen: str
    rejected: str
    margin: float
    is_tie: bool


def _system(item: dict) -> str:
    """The prompt's system text, or "" when it has none (or only white space)."""
    system = clean(item.get("system") or "")
    return system if system and not system.isspace() else ""


def prompt_messages(item: dict) -> list[dict]:
    """The conversation as chat messages, the system prompt first when there is one."""
    messages = [{"role": m["role"], "content": clean(m["content"])} for m in item["messages"]]
    if system := _system(item):
        return [{"role": "system", "content": system}, *messages]
    return messages


def prompt_problem(item: dict, fmt: str) -> str | None:
    """Why no row of this prompt can be written in ``fmt`` (a key of PROMPT_RULES), or None.

    Prompt import already refuses most of this; the export checks again, so a prompt that came in
    another way (or before the import checked it) cannot produce an invalid row.
    """
    messages, system = item["messages"], item.get("system") or ""
    if type(messages) is not list or not messages or type(system) is not str:
        return "prompt_invalid"
    if "\x00" in system or len(messages) % 2 == 0:  # turns alternate from the user to the user
        return "prompt_invalid"
    for i, message in enumerate(messages):
        if type(message) is not dict or message.get("role") != _ROLES[i % 2]:
            return "prompt_invalid"
        content = message.get("content")
        if not usable_text(content) and not (
            type(content) is str and content.startswith(BOM) and usable_text(content[1:])
        ):
            return "prompt_invalid"
    if fmt == "hh-rlhf":
        if _has_hh_marker(system):
            return "hh_marker"
        for message in messages:
            if _has_hh_marker(message["content"]):
                return "hh_marker"
    return None


def _has_hh_marker(text: str) -> bool:
    return HH_MARKERS[0] in text or HH_MARKERS[1] in text


_ROLES = ("user", "assistant")


def _assistant(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def flatten_prompt(item: dict) -> str:
    """Plain-text prompt for the *standard* (string) formats.

    A single user turn without a system prompt is its text as is; anything longer is written as
    ``System: …`` / ``User: …`` / ``Assistant: …`` blocks ending in ``Assistant:`` so the
    completion continues it. Prefer the conversational format for multi-turn data.
    """
    messages, system = item["messages"], _system(item)
    if not system and len(messages) == 1:
        return clean(messages[0]["content"])
    parts = [f"System: {system}"] if system else []
    for m in messages:
        parts.append(f"{m['role'].capitalize()}: {clean(m['content'])}")
    parts.append("Assistant:")
    return "\n\n".join(parts)


def hh_transcript(item: dict) -> str:
    """Anthropic HH-RLHF transcript prefix. HH has no system turn: a system prompt is folded into
    the first Human turn, before its text and a blank line (so every row starts "\\n\\nHuman: ")."""
    out, system = "", _system(item)
    for i, m in enumerate(item["messages"]):
        speaker = "Human" if m["role"] == "user" else "Assistant"
        content = clean(m["content"])
        if i == 0 and system:
            content = f"{system}\n\n{content}"
        out += f"\n\n{speaker}: {content}"
    return out


def pair_rewrite(item: dict, votes: list[dict]) -> tuple[str, str | None]:
    """The rewrite offered for a pair, and why there is none: the earliest counted vote whose
    rewrite is a rewrite. A rewrite with the text of either response (after folding white space)
    is not one: it says nothing the responses do not, and "rewrite ≻ response" would then be a
    row whose chosen is its rejected."""
    unchanged = False
    for vote in votes:
        rewrite = clean(vote.get("rewrite") or "")
        if not rewrite or text_problem(rewrite):
            continue
        if same_text(rewrite, item["a_text"]) or same_text(rewrite, item["b_text"]):
            unchanged = True
            continue
        return rewrite, None
    return "", ("rewrite_unchanged" if unchanged else "both_bad_no_rewrite")


def comparisons(
    item: dict, decision: Decision, votes: list[dict], options: ExportOptions
) -> tuple[list[Comparison], str | None]:
    """The comparisons a pair contributes under the policies, or [] and the reason (a key of the
    summary's pair reasons) when it contributes none."""
    a, b = item["a_text"], item["b_text"]
    if a.startswith(BOM) or b.startswith(BOM):
        a, b = clean(a), clean(b)
    label = decision.label
    if label == "a":
        return [Comparison(a, b, decision.margin, False)], None
    if label == "b":
        return [Comparison(b, a, decision.margin, False)], None
    if label == "tie":
        if options.tie_policy == "keep":
            return [Comparison(a, b, 0.0, True)], None
        if options.tie_policy == "split":
            return [Comparison(a, b, 0.0, True), Comparison(b, a, 0.0, True)], None
        return [], "tie_policy"
    if options.both_bad_policy != "rewrite":
        return [], "both_bad_policy"
    rewrite, reason = pair_rewrite(item, votes)
    if not rewrite:
        return [], reason
    return [
        Comparison(rewrite, a, REWRITE_MARGIN, False),
        Comparison(rewrite, b, REWRITE_MARGIN, False),
    ], None


def usable(
    found: list[Comparison], seen: SeenOnce | None, left_out: dict, fmt: str
) -> list[Comparison]:
    """The comparisons that may be written; the others are counted in ``left_out`` by ROW_RULES
    key. ``seen`` holds what is already written for this prompt (None: no duplicate check, for
    KTO, which pools them). The two orders of a split tie stand or fall together (one alone
    would read as a preference)."""
    keep: list[Comparison] = []
    hh = fmt == "hh-rlhf"
    for c in found:
        if not (usable_text(c.chosen) and usable_text(c.rejected)):
            reason = "bad_text"
        elif hh and (_has_hh_marker(c.chosen) or _has_hh_marker(c.rejected)):
            reason = "hh_marker"
        elif same_text(c.chosen, c.rejected):
            reason = "same_text"
        elif seen is not None and (c.chosen, c.rejected) in seen:
            reason = "duplicate"
        else:
            keep.append(c)
            continue
        left_out[reason] = left_out.get(reason, 0) + 1
    if len(found) == 2 and found[0].is_tie and len(keep) == 1:
        left_out["duplicate"] = left_out.get("duplicate", 0) + 1
        keep = []
    if seen is not None:
        for c in keep:
            seen.record((c.chosen, c.rejected))
    return keep


def format_prompt(item: dict, fmt: str) -> list[dict] | str:
    """The prompt as ``fmt`` writes it: messages, a flattened string (trl-dpo-standard) or an
    HH-RLHF transcript prefix. Built once per prompt; every row of the prompt shares it."""
    if fmt == "trl-dpo-standard":
        return flatten_prompt(item)
    if fmt == "hh-rlhf":
        return hh_transcript(item)
    return prompt_messages(item)


def preference_records(
    prompt: list[dict] | str, found: list[Comparison], options: ExportOptions
) -> Iterator[dict]:
    """Records of a paired-preference format (DPO, reward, HH, OpenAI) for one pair, with the
    prompt as ``format_prompt`` built it."""
    fmt = options.format
    keep_tie = options.tie_policy == "keep" and fmt in TIE_COLUMN_FORMATS
    for chosen, rejected, margin, is_tie in found:
        if fmt == "trl-dpo-conversational":
            record = {
                "prompt": prompt,
                "chosen": _assistant(chosen),
                "rejected": _assistant(rejected),
            }
        elif fmt == "trl-dpo-standard":
            record = {"prompt": prompt, "chosen": chosen, "rejected": rejected}
        elif fmt == "trl-reward":
            record = {
                "prompt": prompt,
                "chosen": _assistant(chosen),
                "rejected": _assistant(rejected),
                "margin": float(margin),
            }
        elif fmt == "hh-rlhf":
            record = {
                "chosen": f"{prompt}\n\nAssistant: {chosen}",
                "rejected": f"{prompt}\n\nAssistant: {rejected}",
            }
        elif fmt == "openai-dpo":
            record = {
                "input": {"messages": prompt},
                "preferred_output": _assistant(chosen),
                "non_preferred_output": _assistant(rejected),
            }
        else:  # pragma: no cover - parse_options refuses unknown formats
            raise ValueError(f"not a paired format: {fmt}")
        if keep_tie:
            record["tie"] = is_tie
        yield record


def sft_records(
    prompt: list[dict], item: dict, votes: list[dict], seen: SeenOnce, left_out: dict
) -> Iterator[dict]:
    """One SFT conversation per distinct rewrite raters wrote (latest vote per rater). A rewrite
    with the text of a response, an empty one, or one already written for the prompt is left out."""
    for vote in votes:
        rewrite = clean(vote.get("rewrite") or "")
        if not rewrite.strip():
            continue
        if text_problem(rewrite):
            reason = "bad_text"
        elif same_text(rewrite, item["a_text"]) or same_text(rewrite, item["b_text"]):
            reason = "rewrite_unchanged"
        elif not seen.add((rewrite,)):
            reason = "duplicate"
        else:
            yield {"messages": [*prompt, *_assistant(rewrite)]}
            continue
        left_out[reason] = left_out.get(reason, 0) + 1


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
    # Provenance: each response's generator and what it cost, the judge rubric's version.
    "model_a",
    "model_b",
    "params_a",
    "params_b",
    "input_tokens_a",
    "output_tokens_a",
    "cost_usd_a",
    "input_tokens_b",
    "output_tokens_b",
    "cost_usd_b",
    "judge_rubric_version",
]


def raw_provenance(item: dict, generators: dict[str, dict]) -> dict:
    """The pair's provenance columns: each side's generator model and parameters (from
    ``generators``, name -> provider/model/params), tokens and cost; the judge rubric's version."""
    out = {}
    for side in ("a", "b"):
        info = generators.get(item[f"{side}_generator"]) or {}
        cost = item.get(f"{side}_cost_usd")
        out[f"model_{side}"] = info.get("model", "")
        out[f"params_{side}"] = json.dumps(
            info.get("params") or {}, sort_keys=True, ensure_ascii=False
        )
        out[f"input_tokens_{side}"] = item.get(f"{side}_input_tokens")
        out[f"output_tokens_{side}"] = item.get(f"{side}_output_tokens")
        out[f"cost_usd_{side}"] = None if cost is None else float(cost)
    out["judge_rubric_version"] = item.get("judge_rubric_version")
    return out


def raw_records(
    item: dict,
    rows: list[dict],
    rater_names: dict,
    judge_verdict: str | None,
    generators: dict[str, dict] | None = None,
) -> Iterator[dict]:
    """One row per judgment, revisions included. ``rater`` is a pseudonym, never a username."""
    provenance = raw_provenance(item, generators or {})
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
            "rater": _raw_rater(row, rater_names),
            "source": row["source"],
            "choice": row["choice"],
            "strength": row["strength"],
            "scale_value": score,
            # A JSON string so CSV, Parquet and JSONL share one flat schema.
            "aspects": json.dumps(row.get("aspects") or {}, sort_keys=True, ensure_ascii=False),
            "rationale": row.get("rationale") or "",
            "rewrite": row.get("rewrite") or "",
            "shown_left": None if left is None else left_and_right("a", "b", left_is_a=left)[0],
            "time_on_task_ms": row.get("time_on_task_ms"),
            "judge_shown": bool(row.get("judge_shown")),
            "judge_verdict": judge_verdict,
            "revises_id": row.get("revises_id"),
            "is_latest": latest_ids[(row["source"], row["rater_id"])] == row["judgment_id"],
            "generator_a": item["a_generator"],
            "generator_b": item["b_generator"],
            "gold_answer": item.get("gold_answer") or "",
            "created_at": _iso(row["created_at"]),
            **provenance,
        }


def _raw_rater(row: dict, rater_names: dict) -> str:
    if row["source"] == "judge":
        return "judge"
    name = rater_names.get(row["rater_id"], "")
    if row["source"] == "adjudicated":  # an adjudicator need not be one of the campaign's raters
        return f"adjudicator:{name}" if name else "adjudicator"
    return name


def _iso(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value or "")
