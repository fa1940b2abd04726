"""Benchmark: statements of annotate/sql beside the ORM code that would replace them, CPU per call.

    .venv/bin/python bench/sql_vs_orm.py [--calls 2000] [--rounds 3] [--keep]

For the statements whose place in annotate/sql rests on the ORM's cost per call (its compile and
model set-up, paid on every request that runs them), this times, in one process on its own
PostgreSQL database (``annotate_bench_sql_orm`` on $BENCH_DATABASE_URL's server), this thread's CPU
time per call of the statement the app runs and of the ORM query with the same result, alternating
rounds so a busy machine weighs on both alike (wall time, printed too, swings with the load):

  lookup      access.campaign_for_rater: the campaign by slug and the user's enrollment
              (annotate/sql/campaigns.py) vs ``Campaign.objects.annotate(Exists(...)).get(...)``
  left count  the claim's ``left_a_count + 1`` at k >= 2 (annotate/sql/leases.py) vs
              ``Pair.objects.filter(pk=...).update(left_a_count=F(...) + 1)``
  read time   the vote's minimum-read-time check (annotate/sql/votes.py) vs
              ``Assignment.objects.filter(...).values_list(created_at, Length + Length).first()``

Writes run inside a transaction that is rolled back. The database is dropped at the end unless
--keep.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

from worker_setup import drop_database, fresh_database

DB_NAME = "annotate_bench_sql_orm"


def _cases(campaign, user, pair, lease):
    """{name: (plain SQL, ORM)}: callables with the same result."""
    from django.db.models import Exists, F, OuterRef
    from django.db.models.functions import Length

    from annotate.models import Assignment, Campaign, Enrollment, Pair
    from annotate.sql import campaigns, leases, votes

    def lookup_orm():
        enrolled = Enrollment.objects.filter(campaign=OuterRef("pk"), rater=user)
        found = Campaign.objects.annotate(enrolled=Exists(enrolled)).get(slug=campaign.slug)
        return found, found.enrolled

    def read_time_orm():
        return (
            Assignment.objects.filter(pk=lease.pk, rater=user)
            .values_list(
                "created_at", Length("pair__candidate_a__text") + Length("pair__candidate_b__text")
            )
            .first()
        )

    return {
        "lookup": (lambda: campaigns.for_rater(user=user, slug=campaign.slug), lookup_orm),
        "left count": (
            lambda: leases.count_left_shown(pair_id=pair.pk),
            lambda: Pair.objects.filter(pk=pair.pk).update(left_a_count=F("left_a_count") + 1),
        ),
        "read time": (
            lambda: votes.read_time_facts(assignment_id=lease.pk, rater_id=user.pk),
            read_time_orm,
        ),
    }


def _setup():
    from django.utils import timezone

    from annotate.models import (
        Assignment,
        Campaign,
        Candidate,
        Enrollment,
        Generator,
        Pair,
        Prompt,
        User,
    )

    campaign = Campaign.objects.create(title="Bench", slug="bench", status="open", overlap=3)
    user = User.objects.create(username="rater", role=User.Role.RATER)
    Enrollment.objects.create(campaign=campaign, rater=user)
    prompt = Prompt.objects.create(
        campaign=campaign, messages=[{"role": "user", "content": "Hi?"}], content_hash="h"
    )
    a, b = (
        Candidate.objects.create(
            prompt=prompt,
            generator=Generator.objects.create(campaign=campaign, name=n, provider="demo", model=n),
            status="done",
            text=f"Answer {n}. " * 40,
        )
        for n in ("a", "b")
    )
    pair = Pair.objects.create(
        campaign=campaign, prompt=prompt, candidate_a=a, candidate_b=b, strategy="cross_generator",
        needed=3, assigned=1,
    )  # fmt: skip
    lease = Assignment.objects.create(
        campaign=campaign, pair=pair, rater=user, left_is_a=True,
        expires_at=timezone.now() + timedelta(minutes=5),
    )  # fmt: skip
    return campaign, user, pair, lease


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    fresh_database(DB_NAME)
    try:
        from django.db import transaction

        cases = _cases(*_setup())
        for name, (plain, orm) in cases.items():
            first = plain()
            assert first == orm() or name == "left count", (name, first)
            figures: dict[str, list[tuple[float, float]]] = {"sql": [], "orm": []}
            for _ in range(args.rounds):
                for kind, call in (("sql", plain), ("orm", orm)):
                    with transaction.atomic():
                        for _ in range(200):  # warm: prepared statements, caches
                            call()
                        cpu, wall = time.thread_time(), time.perf_counter()
                        for _ in range(args.calls):
                            call()
                        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
                        transaction.set_rollback(True)
                    figures[kind].append((cpu * 1e3 / args.calls, wall * 1e3 / args.calls))
            for kind, runs in figures.items():
                cpu = ", ".join(f"{c:.3f}" for c, _ in runs)
                wall = ", ".join(f"{w:.3f}" for _, w in runs)
                print(f"{name:<10} {kind}: CPU ms/call {cpu}; wall ms/call {wall}")
    finally:
        if not args.keep:
            drop_database(DB_NAME)


if __name__ == "__main__":
    main()
