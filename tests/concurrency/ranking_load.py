"""Many raters ranking (or rating) sets at once, each on its own thread and connection
(ranking_claims.py runs the same on SQLite). Returns plain numbers the callers assert on.

``protocol="rating"`` runs the same scenarios on rating units (same leases, RatingVote rows)."""

from __future__ import annotations

from collections import Counter

from django.db.models import Count, F

from annotate.models import Campaign, CandidateSet, RankingVote, RatingVote, SetAssignment, User
from annotate.services.sets import ranking_vote_record, rating_vote_record, set_assignment_next
from tests import factories
from tests.concurrency.rating_load import _run_threads

LIVE = [SetAssignment.Status.ACTIVE, SetAssignment.Status.DONE]


def make_ranking_campaign(
    *, overlap: int, sets: int, raters: int, k: int, tag: str, protocol: str = "ranking"
) -> tuple[Campaign, list[User]]:
    campaign = factories.CampaignFactory(
        slug=f"{protocol[:4]}-{tag}",
        overlap=overlap,
        protocol=protocol,
        ranking_k=max(3, k),
        rating_k=k,
        aspects=["helpful", "honest"] if protocol == "rating" else [],
    )
    users = []
    for i in range(raters):
        user = factories.UserFactory(username=f"{tag}-r{i}")
        factories.EnrollmentFactory(campaign=campaign, rater=user)
        users.append(user)
    for _ in range(sets):
        factories.ranking_set(campaign=campaign, k=k)
    return campaign, users


def claim_sets_once(campaign: Campaign, users: list[User]) -> dict:
    got: dict[int, int | None] = {}

    def ask(user):
        lease = set_assignment_next(campaign=Campaign.objects.get(pk=campaign.pk), rater=user)
        got[user.pk] = lease.candidate_set_id if lease else None

    errors = _run_threads(ask, users)
    return {
        "errors": [repr(e) for e in errors],
        "claimed": sum(v is not None for v in got.values()),
    }


def vote_once(*, campaign: Campaign, lease: SetAssignment | int, user: User, k: int):
    """One vote on a lease of k responses: the shown order reversed (ranking) or each response
    scored by its number on every aspect (rating)."""
    if campaign.is_rating:
        scores = [
            {"number": n, "overall": n % 5 + 1, "aspects": dict.fromkeys(campaign.aspects, 3)}
            for n in range(1, k + 1)
        ]
        return rating_vote_record(lease=lease, rater=user, campaign=campaign, scores=scores)
    ranking = [[n] for n in range(k, 0, -1)]
    return ranking_vote_record(lease=lease, rater=user, campaign=campaign, ranking=ranking)


def vote_model(campaign: Campaign):
    return RatingVote if campaign.is_rating else RankingVote


def rank_until_done(campaign: Campaign, users: list[User]) -> dict:
    """Every rater loops claim -> vote until no work is left."""

    def work(user):
        fresh = Campaign.objects.get(pk=campaign.pk)
        while (lease := set_assignment_next(campaign=fresh, rater=user)) is not None:
            vote_once(campaign=fresh, lease=lease, user=user, k=len(lease.shown_order))

    errors = _run_threads(work, users)
    concurrent = vote_model(campaign).objects.filter(campaign=campaign).count()
    for user in users:
        work(user)
    return {"errors": [repr(e) for e in errors], "concurrent_votes": concurrent}


def set_invariants(campaign: Campaign) -> dict:
    sets = CandidateSet.objects.filter(campaign=campaign)
    needed = dict(sets.values_list("id", "needed"))
    per_set = (
        SetAssignment.objects.filter(campaign=campaign, status__in=LIVE)
        .values("candidate_set_id")
        .annotate(n=Count("id"))
    )
    votes = vote_model(campaign).objects.filter(campaign=campaign)
    # Position balance: per set, how often each candidate was shown in each position.
    unbalanced = 0
    for set_id in needed:
        orders = SetAssignment.objects.filter(candidate_set_id=set_id, status__in=LIVE).values_list(
            "shown_order", flat=True
        )
        seen = Counter((c, p) for order in orders for p, c in enumerate(order))
        unbalanced += bool(seen) and max(seen.values()) - min(seen.values() or [0]) > 1
    return {
        "over_k_leases": sum(1 for r in per_set if r["n"] > needed[r["candidate_set_id"]]),
        "over_k_votes": votes.values("candidate_set_id")
        .annotate(n=Count("id"))
        .filter(n__gt=campaign.overlap)
        .count(),
        "rater_twice": votes.values("candidate_set_id", "rater_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count(),
        "counter_mismatch": sets.exclude(assigned=F("completed")).count(),
        "incomplete": sets.exclude(completed=F("needed")).count(),
        "unbalanced": unbalanced,
        "votes": votes.count(),
    }
