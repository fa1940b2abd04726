"""Reads behind the researcher dashboard: human votes with what the statistics need."""

from __future__ import annotations

from annotate.models import Campaign, Candidate, Judgment, Pair
from annotate.reading import reading_length
from annotate.selectors.campaigns import campaign_voters, votes_per_day
from annotate.selectors.exports import generator_names

# The dashboard reads at most this many votes (the first ones, by pair); the page says so when hit.
ANALYTICS_ROW_LIMIT = 200_000


def analytics_vote_rows(*, campaign_id: int, limit: int = ANALYTICS_ROW_LIMIT) -> list[dict]:
    """Human votes with what the statistics need; ``a_len`` and ``b_len`` are the two responses'
    reading lengths (annotate/reading.py: fair across scripts, where a character count makes a
    Korean answer look shorter to read than an English one of the same content)."""
    names = generator_names(campaign_id=campaign_id)
    rows = list(
        # A pair left out (Pair.excluded: a live reply named its model) counts nowhere.
        Judgment.objects.filter(
            campaign_id=campaign_id, source=Judgment.Source.HUMAN, pair__excluded=False
        )
        .order_by("pair_id", "id")
        .values(
            "id",
            "pair_id",
            "rater_id",
            "choice",
            "strength",
            "left_is_a",
            "time_on_task_ms",
            "revises_id",
            "pair__gold_answer",
            "pair__candidate_a__generator_id",
            "pair__candidate_b__generator_id",
        )[:limit]
    )
    lengths = _pair_reading_lengths(campaign_id=campaign_id, pair_ids={r["pair_id"] for r in rows})
    for row in rows:
        row["a_len"], row["b_len"] = lengths.get(row["pair_id"], (None, None))
        row["judgment_id"] = row.pop("id")
        row["gold_answer"] = row.pop("pair__gold_answer")
        row["a_generator"] = names.get(row.pop("pair__candidate_a__generator_id"), "")
        row["b_generator"] = names.get(row.pop("pair__candidate_b__generator_id"), "")
        row["source"] = "human"
    return rows


def _pair_reading_lengths(*, campaign_id: int, pair_ids: set[int]) -> dict[int, tuple[int, int]]:
    """Pair id → (reading length of a, of b), each candidate's text measured once."""
    if not pair_ids:
        return {}
    pairs = Pair.objects.filter(campaign_id=campaign_id).values_list(
        "id", "candidate_a_id", "candidate_b_id"
    )
    wanted = [(pid, a, b) for pid, a, b in pairs if pid in pair_ids]
    candidate_ids = {c for _, a, b in wanted for c in (a, b)}
    texts = Candidate.objects.filter(prompt__campaign_id=campaign_id).values_list("id", "text")
    length = {cid: reading_length(text) for cid, text in texts.iterator() if cid in candidate_ids}
    return {pid: (length.get(a), length.get(b)) for pid, a, b in wanted}


def research_analytics(*, campaign: Campaign) -> dict:
    """Every statistic and figure of the researcher dashboard (annotate.analytics.dashboard)."""
    from annotate.analytics.dashboard import dashboard

    rows = analytics_vote_rows(campaign_id=campaign.id, limit=ANALYTICS_ROW_LIMIT)
    usernames = {
        v["rater_id"]: v["rater__username"] for v in campaign_voters(campaign_id=campaign.id)
    }
    days = votes_per_day(campaign_id=campaign.id)
    return {
        **dashboard(rows, days=days, usernames=usernames),
        "row_limit": ANALYTICS_ROW_LIMIT,
        "truncated": len(rows) >= ANALYTICS_ROW_LIMIT,
    }
