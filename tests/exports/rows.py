"""Plain vote rows for the pure export/analytics tests (no Django needed)."""

from __future__ import annotations


def vote(
    judgment_id: int,
    *,
    pair_id: int = 1,
    rater_id: int | None = 1,
    choice: str = "a",
    strength: int | None = None,
    source: str = "human",
    **extra,
) -> dict:
    """One vote row as selectors.exports.export_vote_rows yields it (pair fields included)."""
    row = {
        "judgment_id": judgment_id,
        "pair_id": pair_id,
        "prompt_id": extra.pop("prompt_id", pair_id),
        "prompt_hash": extra.pop("prompt_hash", f"hash-{pair_id}"),
        "prompt_external_id": extra.pop("prompt_external_id", ""),
        "messages": extra.pop("messages", [{"role": "user", "content": f"Question {pair_id}?"}]),
        "system": extra.pop("system", ""),
        "a_text": extra.pop("a_text", f"A{pair_id}"),
        "b_text": extra.pop("b_text", f"B{pair_id}"),
        "a_generator": extra.pop("a_generator", "gen-a"),
        "b_generator": extra.pop("b_generator", "gen-b"),
        "gold_answer": extra.pop("gold_answer", ""),
        "rater_id": rater_id,
        "source": source,
        "choice": choice,
        "strength": strength,
        "aspects": extra.pop("aspects", {}),
        "rationale": extra.pop("rationale", ""),
        "rewrite": extra.pop("rewrite", ""),
        "left_is_a": extra.pop("left_is_a", True),
        "time_on_task_ms": extra.pop("time_on_task_ms", 1000),
        "judge_shown": extra.pop("judge_shown", False),
        "revises_id": extra.pop("revises_id", None),
        "created_at": extra.pop("created_at", "2026-01-01T00:00:00+00:00"),
    }
    assert not extra, f"unknown keys {extra}"
    return row
