"""Reads behind the researcher dashboard: human votes with what the statistics need."""

from __future__ import annotations

from django.db.models.functions import Length

from annotate.models import Campaign, Judgment
from annotate.selectors.campaigns import campaign_voters, votes_per_day
from annotate.selectors.exports import generator_names

# The dashboard reads at most this many votes (the first ones, by pair); the page says so when hit.
ANALYTICS_ROW_LIMIT = 200_000


def analytics_vote_rows(*, campaign_id: int, limit: int = ANALYTICS_ROW_LIMIT) -> list[dict]:
    """Human votes with what the statistics need (no texts: lengths are computed by the database)."""
    names = generator_names(campaign_id=campaign_id)
    rows = list(
        Judgment.objects.filter(campaign_id=campaign_id, source=Judgment.Source.HUMAN)
        .annotate(
            a_len=Length("pair__candidate_a__text"),
            b_len=Length("pair__candidate_b__text"),
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
            "a_len",
            "b_len",
            "pair__gold_answer",
            "pair__candidate_a__generator_id",
            "pair__candidate_b__generator_id",
        )[:limit]
    )
    for row in rows:
        row["judgment_id"] = row.pop("id")
        row["gold_answer"] = row.pop("pair__gold_answer")
        row["a_generator"] = names.get(row.pop("pair__candidate_a__generator_id"), "")
        row["b_generator"] = names.get(row.pop("pair__candidate_b__generator_id"), "")
        row["source"] = "human"
    return rows


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
