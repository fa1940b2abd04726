"""Many raters ranking sets at once, each on its own thread and connection (ranking_claims.py runs
the same on SQLite). Returns plain numbers the callers assert on."""

from __future__ import annotations

from collections import Counter

from django.db.models import Count, F

from annotate.models import Campaign, CandidateSet, RankingVote, SetAssignment, User
from annotate.services.sets import ranking_vote_record, set_assignment_next
from tests import factories
from tests.concurrency.rating_load import _run_threads

LIVE = [SetAssignment.Status.ACTIVE, SetAssignment.Status.DONE]


def make_ranking_campaign(
    *, overlap: int, sets: int, raters: int, k: int, tag: str
) -> tuple[Campaign, list[User]]:
    campaign = factories.CampaignFactory(
        slug=f"rank-{tag}", overlap=overlap, protocol="ranking", ranking_k=max(3, k)
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


def rank_until_done(campaign: Campaign, users: list[User]) -> dict:
    """Every rater loops claim -> rank (the shown order, reversed) until no work is left."""

    def work(user):
        fresh = Campaign.objects.get(pk=campaign.pk)
        while (lease := set_assignment_next(campaign=fresh, rater=user)) is not None:
            ranking = [[n] for n in range(len(lease.shown_order), 0, -1)]
            ranking_vote_record(lease=lease, rater=user, campaign=fresh, ranking=ranking)

    errors = _run_threads(work, users)
    concurrent = RankingVote.objects.filter(campaign=campaign).count()
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
    votes = RankingVote.objects.filter(campaign=campaign)
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
