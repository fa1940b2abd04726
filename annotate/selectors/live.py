"""Reads of live conversations: the rows of the ``conversations`` export."""

from __future__ import annotations

from collections.abc import Iterator

from annotate.models import Judgment, LiveConversation, LiveTurn
from annotate.selectors.exports import generator_names

_BATCH = 500


def conversation_rows(*, campaign_id: int) -> Iterator[dict]:
    """Every conversation of the campaign with its turns in order (both replies, the rater's vote,
    the continuation), read a batch of conversations at a time."""
    names = generator_names(campaign_id=campaign_id)
    ids = list(
        LiveConversation.objects.filter(campaign_id=campaign_id)
        .order_by("id")
        .values_list("id", flat=True)
    )
    for start in range(0, len(ids), _BATCH):
        batch = ids[start : start + _BATCH]
        conversations = LiveConversation.objects.filter(id__in=batch).order_by("id")
        turns: dict[int, list[dict]] = {cid: [] for cid in batch}
        rows = (
            LiveTurn.objects.filter(conversation_id__in=batch)
            .order_by("conversation_id", "index")
            .values(
                "conversation_id",
                "index",
                "user_message",
                "pair_id",
                "left_is_a",
                "continued_with",
                "continuation",
                "prompt__system",
                "prompt__messages",
                "pair__excluded",
                "reply_a__text",
                "reply_b__text",
                "reply_a__stop_reason",
                "reply_b__stop_reason",
            )
        )
        rows = list(rows)
        votes = {}
        for vote in (
            Judgment.objects.filter(
                pair_id__in=[r["pair_id"] for r in rows], source=Judgment.Source.HUMAN
            )
            .order_by("id")
            .values("pair_id", "choice", "strength", "rationale", "rewrite")
        ):
            votes[vote["pair_id"]] = vote  # the latest (a revision follows its first vote)
        for r in rows:
            turns[r["conversation_id"]].append(
                {
                    "index": r["index"],
                    "user": r["user_message"],
                    "system": r["prompt__system"],
                    "messages": r["prompt__messages"],
                    "a_text": r["reply_a__text"],
                    "b_text": r["reply_b__text"],
                    "a_stop_reason": r["reply_a__stop_reason"],
                    "b_stop_reason": r["reply_b__stop_reason"],
                    "left_is_a": r["left_is_a"],
                    "continued_with": r["continued_with"],
                    "continuation": r["continuation"],
                    "excluded": r["pair__excluded"],
                    "vote": votes.get(r["pair_id"]),
                }
            )
        for c in conversations.values(
            "id", "rater_id", "status", "generator_a_id", "generator_b_id", "created_at", "ended_at"
        ):
            yield {
                "id": c["id"],
                "rater_id": c["rater_id"],
                "status": c["status"],
                "a_generator": names.get(c["generator_a_id"], ""),
                "b_generator": names.get(c["generator_b_id"], ""),
                "created_at": c["created_at"],
                "ended_at": c["ended_at"],
                "turns": turns[c["id"]],
            }
