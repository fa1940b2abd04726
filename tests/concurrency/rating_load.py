"""Many raters asking for work at the same instant, each on its own thread and DB connection.

Shared by the Postgres tests (pytest-django's database) and the SQLite run (a subprocess with its own
file database, see sqlite_claims.py). Returns plain numbers the callers assert on.
"""

from __future__ import annotations

import threading
import uuid

from django.db import connection
from django.db.models import Count, F

from annotate.models import Assignment, Campaign, Judgment, Pair, User
from annotate.services.assignment import assignment_next
from annotate.services.judgments import judgment_record
from tests import factories


def make_campaign(
    *, overlap: int, pairs: int, raters: int, tag: str
) -> tuple[Campaign, list[User]]:
    campaign = factories.CampaignFactory(slug=f"load-{tag}", overlap=overlap)
    users = []
    for i in range(raters):
        user = factories.UserFactory(username=f"{tag}-r{i}")
        factories.EnrollmentFactory(campaign=campaign, rater=user)
        users.append(user)
    for _ in range(pairs):
        factories.PairFactory(campaign=campaign)
    return campaign, users


def _run_threads(target, users) -> list[BaseException]:
    barrier = threading.Barrier(len(users))
    errors: list[BaseException] = []

    def run(user):
        try:
            barrier.wait(timeout=30)
            target(user)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


def claim_once(campaign: Campaign, users: list[User]) -> dict:
    """Every rater asks for one pair at the same instant."""
    got: dict[int, int | None] = {}

    def ask(user):
        lease = assignment_next(campaign=Campaign.objects.get(pk=campaign.pk), rater=user)
        got[user.pk] = lease.pair_id if lease else None

    errors = _run_threads(ask, users)
    return {
        "errors": [repr(e) for e in errors],
        "claimed": sum(v is not None for v in got.values()),
    }


def rate_until_done(campaign: Campaign, users: list[User]) -> dict:
    """Every rater loops claim -> vote until there is no work left for them."""

    def work(user):
        fresh = Campaign.objects.get(pk=campaign.pk)
        while (lease := assignment_next(campaign=fresh, rater=user)) is not None:
            judgment_record(
                assignment=lease,
                rater=user,
                campaign=fresh,
                choice="a",
                idempotency_key=uuid.uuid4().hex,
            )

    errors = _run_threads(work, users)
    concurrent_votes = Judgment.objects.filter(campaign=campaign).count()
    # Under heavy contention a claim may give up after its retries; a calm final pass finishes.
    for user in users:
        work(user)
    return {"errors": [repr(e) for e in errors], "concurrent_votes": concurrent_votes}


def invariants(campaign: Campaign) -> dict:
    """Counted from the database: the numbers that must be zero (or equal)."""
    pairs = Pair.objects.filter(campaign=campaign)
    per_pair = (
        Assignment.objects.filter(campaign=campaign)
        .exclude(
            status__in=[
                Assignment.Status.EXPIRED,
                Assignment.Status.RELEASED,
                Assignment.Status.SKIPPED,
            ]
        )
        .values("pair_id")
        .annotate(n=Count("id"))
    )
    needed = dict(pairs.values_list("id", "needed"))
    votes = Judgment.objects.filter(campaign=campaign)
    return {
        "pairs": pairs.count(),
        "over_k_leases": sum(1 for row in per_pair if row["n"] > needed[row["pair_id"]]),
        "over_k_votes": votes.values("pair_id")
        .annotate(n=Count("id"))
        .filter(n__gt=campaign.overlap)
        .count(),
        "rater_twice": votes.values("pair_id", "rater_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count(),
        "counter_mismatch": pairs.exclude(assigned=F("completed")).count(),
        "votes": votes.count(),
        "incomplete": pairs.exclude(completed=F("needed")).count(),
    }
