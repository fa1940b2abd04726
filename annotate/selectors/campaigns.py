"""Reads about campaigns: which ones a user sees, the campaign page's counts, progress and raters
(counts and aggregates for pages, the API and the exports)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, F, Max, Q, QuerySet, Sum
from django.db.models.functions import Least, TruncDate
from django.utils import timezone

from annotate.models import Campaign, Candidate, Enrollment, Generator, Judgment, Pair, User


def campaigns_for(*, user: User) -> QuerySet[Campaign]:
    """The campaigns a user lands on: all of them for researchers and admins; for a rater, those
    they are enrolled in that are past draft."""
    if user.is_researcher:
        return Campaign.objects.all()
    return Campaign.objects.filter(enrollments__rater=user).exclude(status=Campaign.Status.DRAFT)


@dataclass(frozen=True)
class CampaignGlance:
    """A campaign at a glance on the campaign list: units voted of units wanted (pairs or sets,
    each counted to its k), units finished in the last hour, the money spent on it, and the raters'
    α from the cached figures (None: not computed yet, or not defined)."""

    done: int = 0
    wanted: int = 0
    last_hour: int = 0
    cost_usd: Decimal = Decimal("0")
    alpha: float | None = None

    @property
    def share(self) -> float | None:
        return self.done / self.wanted if self.wanted else None

    @property
    def eta_hours(self) -> float | None:
        """Hours to the last vote at the last hour's pace (None without a pace or work left)."""
        left = self.wanted - self.done
        return round(left / self.last_hour, 1) if left > 0 and self.last_hour else None


def campaign_glances(*, campaign_ids: list[int], now=None) -> dict[int, CampaignGlance]:
    """Campaign id -> CampaignGlance, in seven grouped queries whatever the number of campaigns.
    Units are pairs and candidate sets (every protocol leases one or the other); the pace is the
    leases completed in the last hour, so it counts every protocol's votes alike."""
    from annotate.models import Assignment, CandidateSet, JudgeVerdict, SetAssignment

    now = now or timezone.now()
    hour_ago = now - timedelta(hours=1)
    found: dict[int, dict] = {i: {} for i in campaign_ids}

    def add(rows, **names):
        for row in rows:
            into = found[row["campaign_id"]]
            for key, column in names.items():
                into[key] = into.get(key, 0) + (row[column] or 0)

    for units in (Pair, CandidateSet):
        add(
            units.objects.filter(campaign_id__in=campaign_ids)
            .values("campaign_id")
            .annotate(done=Sum(Least("completed", "needed")), wanted=Sum("needed")),
            done="done",
            wanted="wanted",
        )
    for leases in (Assignment, SetAssignment):
        add(
            leases.objects.filter(campaign_id__in=campaign_ids, completed_at__gte=hour_ago)
            .values("campaign_id")
            .annotate(n=Count("id")),
            last_hour="n",
        )
    add(
        Candidate.objects.filter(prompt__campaign_id__in=campaign_ids)
        .values(campaign_id=F("prompt__campaign_id"))
        .annotate(cost=Sum("cost_usd")),
        cost_usd="cost",
    )
    add(
        JudgeVerdict.objects.filter(campaign_id__in=campaign_ids)
        .values("campaign_id")
        .annotate(cost=Sum("cost_usd")),
        cost_usd="cost",
    )
    from annotate.selectors.analytics import campaign_alphas

    for campaign_id, alpha in campaign_alphas(campaign_ids=campaign_ids).items():
        found[campaign_id]["alpha"] = alpha
    return {i: CampaignGlance(**values) for i, values in found.items()}


def campaigns_with_counts() -> QuerySet[Campaign]:
    """Every campaign with its ``prompt_count`` and ``pair_count`` (the API's campaign list)."""
    return Campaign.objects.annotate(
        prompt_count=Count("prompts", distinct=True), pair_count=Count("pairs", distinct=True)
    )


def campaign_enrollments(*, campaign: Campaign) -> QuerySet[Enrollment]:
    """The campaign's enrollments with their raters, by username."""
    return campaign.enrollments.select_related("rater").order_by("rater__username")


def campaign_counts(*, campaign: Campaign) -> dict:
    """The campaign page's counts: prompts; responses (done, failed, naming a model, duplicates);
    pairs (naming a model, complete)."""
    done = Q(status=Candidate.Status.DONE)
    candidate_counts = Candidate.objects.filter(prompt__campaign=campaign).aggregate(
        total=Count("id"),
        done=Count("id", filter=done),
        failed=Count("id", filter=Q(status=Candidate.Status.FAILED)),
        flagged=Count("id", filter=done & Q(self_identifies=True)),
        duplicates=Count("id", filter=done & Q(duplicate_of__isnull=False)),
    )
    pair_counts = Pair.objects.filter(campaign=campaign).aggregate(
        total=Count("id"),
        flagged=Count(
            "id", filter=Q(candidate_a__self_identifies=True) | Q(candidate_b__self_identifies=True)
        ),
        complete=Count("id", filter=Q(completed__gte=F("needed"))),
    )
    return {
        "prompt_count": campaign.prompts.count(),
        "candidate_counts": candidate_counts,
        "pair_counts": pair_counts,
    }


def generators_with_counts(*, campaign: Campaign) -> QuerySet[Generator]:
    """The campaign's generators, each with its ``done`` and ``failed`` responses."""
    return campaign.generators.annotate(
        done=Count("candidates", filter=Q(candidates__status=Candidate.Status.DONE)),
        failed=Count("candidates", filter=Q(candidates__status=Candidate.Status.FAILED)),
    )


def self_identifying_candidates(*, campaign: Campaign, limit: int) -> list[Candidate]:
    """Finished responses that name a model (at most ``limit``), with their prompt and generator."""
    return list(
        Candidate.objects.filter(
            prompt__campaign=campaign, status=Candidate.Status.DONE, self_identifies=True
        ).select_related("prompt", "generator")[:limit]
    )


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
        adjudicated=Count("pair", filter=Q(source=Judgment.Source.ADJUDICATED), distinct=True),
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
        "adjudicated_pairs": votes["adjudicated"],
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
