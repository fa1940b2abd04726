"""Reads about rating: a rater's own votes and progress (the workbench, My history), and who holds
which pair and how each rater is doing (the admin's leases page)."""

from __future__ import annotations

from django.db.models import Count, QuerySet, Sum

from annotate.models import Assignment, Campaign, Enrollment, Judgment, Pair, User
from annotate.selectors.campaigns import campaign_enrollments, rater_gold_accuracy


def rater_history(*, campaign: Campaign, rater: User, limit: int = 100) -> list[dict]:
    """The rater's own votes, newest first, in stored terms: ``choice``/``strength`` with the
    ``left_is_a`` they were shown with, for the page to label as the rater saw them."""
    rows = (
        Judgment.objects.filter(campaign=campaign, rater=rater, source=Judgment.Source.HUMAN)
        .select_related("pair__prompt")
        .only(
            "choice",
            "strength",
            "left_is_a",
            "rationale",
            "time_on_task_ms",
            "created_at",
            "revises_id",
            "pair__prompt__messages",
        )
        .order_by("-created_at")[:limit]
    )
    return [
        {
            "when": j.created_at,
            "prompt": j.pair.prompt.last_user_text[:160],
            "choice": j.choice,
            "strength": j.strength,
            "left_is_a": j.left_is_a,
            "rationale": j.rationale,
            "seconds": (j.time_on_task_ms or 0) / 1000,
            "revision": j.revises_id is not None,
        }
        for j in rows
    ]


def rater_vote_count(*, campaign: Campaign, rater: User) -> int:
    """The rater's own votes in the campaign (revisions after a judge reveal not counted): the
    enrollment's counter, which each vote keeps in step, instead of counting every vote."""
    votes = Enrollment.objects.filter(campaign_id=campaign.pk, rater_id=rater.pk).values_list(
        "votes", flat=True
    )
    return next(iter(votes[:1]), 0)


def rater_progress(*, campaign: Campaign, rater: User) -> dict:
    """The rater's first votes, and the campaign's votes done of those wanted."""
    mine = Judgment.objects.filter(
        campaign=campaign, rater=rater, source=Judgment.Source.HUMAN, revises__isnull=True
    ).count()
    totals = Pair.objects.filter(campaign=campaign).aggregate(
        done=Sum("completed"), wanted=Sum("needed"), pairs=Count("id")
    )
    done, wanted = totals["done"] or 0, totals["wanted"] or 0
    return {
        "mine": mine,
        "campaign_done": done,
        "campaign_wanted": wanted,
        "campaign_percent": round(100 * done / wanted) if wanted else 0,
    }


def active_leases(*, campaign: Campaign) -> QuerySet[Assignment]:
    """The campaign's live leases with their rater and prompt, the soonest to expire first."""
    return (
        Assignment.objects.filter(campaign=campaign, status=Assignment.Status.ACTIVE)
        .select_related("rater", "pair__prompt")
        .only(
            "id", "created_at", "expires_at", "pair_id", "rater__username", "pair__prompt__messages"
        )
        .order_by("expires_at")
    )


def enrolled_raters(*, campaign: Campaign) -> list[dict]:
    """Every enrollment of the campaign, by username, with the rater's first votes and their gold
    accuracy ((correct, answered), or None before any gold pair)."""
    votes = dict(
        Judgment.objects.filter(
            campaign=campaign, source=Judgment.Source.HUMAN, revises__isnull=True
        )
        .values_list("rater_id")
        .annotate(n=Count("id"))
    )
    gold = rater_gold_accuracy(campaign_id=campaign.id)
    return [
        {
            "enrollment": e,
            "votes": votes.get(e.rater_id, 0),
            "gold": gold.get(e.rater_id),
        }
        for e in campaign_enrollments(campaign=campaign)
    ]
