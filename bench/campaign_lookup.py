"""Benchmark: the rating pages' campaign lookup, plain SQL (annotate/sql/campaigns.py) beside the ORM.

    .venv/bin/python bench/campaign_lookup.py [--calls 3000] [--rounds 3] [--keep]

``access.campaign_for_rater`` runs first on every rating request. This times, in one process on its
own PostgreSQL database (``annotate_bench_lookup`` on $BENCH_DATABASE_URL's server), the CPU and wall
time per call of the statement the app uses and of the ORM query that would replace it,
``Campaign.objects.annotate(enrolled=Exists(<enrollment>)).get(slug=...)``, alternating rounds so a
busy machine weighs on both alike. CPU time (this thread's) is the figure to compare: wall time
swings with the machine's load. The database is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import time

from worker_setup import drop_database, fresh_database

DB_NAME = "annotate_bench_lookup"


def _orm_lookup(user, slug):
    """What the ORM version of the lookup would run: the campaign and its enrollment flag."""
    from django.db.models import Exists, OuterRef

    from annotate.models import Campaign, Enrollment

    enrolled = Enrollment.objects.filter(campaign=OuterRef("pk"), rater=user)
    campaign = Campaign.objects.annotate(enrolled=Exists(enrolled)).get(slug=slug)
    return campaign, campaign.enrolled


def _sql_lookup(user, slug):
    from annotate.sql import campaigns

    return campaigns.for_rater(user=user, slug=slug)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    fresh_database(DB_NAME)
    try:
        from annotate.models import Campaign, Enrollment, User

        campaign = Campaign.objects.create(title="Lookup", slug="lookup", status="open")
        user = User.objects.create(username="rater", role=User.Role.RATER)
        Enrollment.objects.create(campaign=campaign, rater=user)
        assert _sql_lookup(user, "lookup")[1] and _orm_lookup(user, "lookup")[1]
        figures: dict[str, list[tuple[float, float]]] = {"sql": [], "orm": []}
        for _ in range(args.rounds):
            for name, lookup in (("sql", _sql_lookup), ("orm", _orm_lookup)):
                for _ in range(200):  # warm: prepared statements, caches
                    lookup(user, "lookup")
                cpu, wall = time.thread_time(), time.perf_counter()
                for _ in range(args.calls):
                    lookup(user, "lookup")
                cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
                figures[name].append((cpu * 1e3 / args.calls, wall * 1e3 / args.calls))
        for name, runs in figures.items():
            cpu = ", ".join(f"{c:.3f}" for c, _ in runs)
            wall = ", ".join(f"{w:.3f}" for _, w in runs)
            print(f"{name}: CPU ms/call {cpu}; wall ms/call {wall}")
    finally:
        if not args.keep:
            drop_database(DB_NAME)


if __name__ == "__main__":
    main()
