"""Reads about a campaign's progress and its raters: counts and aggregates for pages and the API."""

from __future__ import annotations

from django.db.models import Count, F, Max, Q
from django.db.models.functions import TruncDate

from annotate.models import Campaign, Judgment, Pair


def rater_gold_accuracy(*, campaign_id: int) -> dict[int, tuple[int, int]]:
    """rater id -> (correct, answered) on gold pairs, counting each rater's first (blind) vote."""
    rows = (
        Judgment.objects.filter(
            campaign_id=campaign_id, source=Judgment.Source.HUMAN, revises__isnull=True
        )
        .exclude(pair__gold_answer="")
        .values("rater_id")
        .annotate(
            answered=Count("id"), correct=Count("id", filter=Q(choice=F("pair__gold_answer")))
        )
    )
    return {r["rater_id"]: (r["correct"], r["answered"]) for r in rows}


def campaign_voters(*, campaign_id: int) -> list[dict]:
    """Raters who voted in the campaign, with their vote counts (username for researchers only)."""
    return list(
        Judgment.objects.filter(campaign_id=campaign_id, source=Judgment.Source.HUMAN)
        .values("rater_id", "rater__username")
        .annotate(votes=Count("id"), last_vote=Max("created_at"))
        .order_by("rater__username")
    )


def campaign_progress(*, campaign: Campaign) -> dict:
    """Pairs, votes, completion for the researcher page (a handful of aggregate queries)."""
    pairs = Pair.objects.filter(campaign=campaign).aggregate(
        total=Count("id"),
        gold=Count("id", filter=~Q(gold_answer="")),
        complete=Count("id", filter=Q(completed__gte=campaign.overlap)),
        started=Count("id", filter=Q(completed__gt=0)),
    )
    votes = Judgment.objects.filter(campaign=campaign).aggregate(
        human=Count("id", filter=Q(source=Judgment.Source.HUMAN, revises__isnull=True)),
        revisions=Count("id", filter=Q(source=Judgment.Source.HUMAN, revises__isnull=False)),
        judge=Count("id", filter=Q(source=Judgment.Source.JUDGE)),
    )
    wanted = pairs["total"] * campaign.overlap
    return {
        "pairs": pairs["total"],
        "gold_pairs": pairs["gold"],
        "pairs_complete": pairs["complete"],
        "pairs_started": pairs["started"],
        "votes": votes["human"],
        "revisions": votes["revisions"],
        "judge_labels": votes["judge"],
        "votes_wanted": wanted,
        "completion": (votes["human"] / wanted) if wanted else 0.0,
    }


def votes_per_day(*, campaign_id: int) -> list[tuple]:
    """(date, human first votes that day) in date order, for the progress-over-time plot."""
    return list(
        Judgment.objects.filter(
            campaign_id=campaign_id, source=Judgment.Source.HUMAN, revises__isnull=True
        )
        .annotate(day=TruncDate("created_at"))
        .values_list("day")
        .annotate(n=Count("id"))
        .order_by("day")
    )
