"""Benchmark: the researcher's pages at research scale on PostgreSQL. This part: browse and search.

    .venv/bin/python bench/research.py [--pairs 200000] [--votes-per-pair 5] [--raters 500]
                                       [--runs 40] [--keep] [--reuse]

It creates its own database (``annotate_bench_research`` on the server of $BENCH_DATABASE_URL,
default postgres://postgres@127.0.0.1:5432, or $BENCH_RESEARCH_DB), migrates it and fills it with
bench/research_seed.py (200,000 pairs and 1,000,000 votes over 500 raters by default: the seed's
figures include what the search triggers add to the pair and vote inserts). ``--reuse`` keeps a
database already filled by an earlier ``--keep`` run.

Then it times the browse page (``/campaigns/research/browse/``, the real view, template and
middleware, through Django's test client with a logged-in researcher) and the same list through
the API (``/api/campaigns/research/units/``): each case ``--runs`` times after one warm-up, and
prints the median, p95 and max in milliseconds, and the median CPU time of this process per request (view, template, driver; the database's CPU shows in the wall time only). Cases: a filter alone, a full-text query alone, a
filter with a full-text query, each on the first page and on a deep page (a cursor 90% of the way
through the matches, as the "next" links carry it), in the default order and newest first, and the
"best match" order (which ranks every match before it can show the first page). Target: p95 ≤ 200
ms for the filter + full-text cases, first and deep pages. The database is dropped at the end
unless --keep.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = os.environ.get("BENCH_RESEARCH_DB", "annotate_bench_research")
SERVER = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432")
TARGET_MS = 200


def _django(db_url: str) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    os.environ.setdefault("DATA_DIR", str(ROOT / "data" / "bench"))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _database(reuse: bool) -> bool:
    """Create the database (or keep a filled one with ``reuse``); True when it must be filled."""
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if exists and reuse:
            return False
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    return True


def _deep_cursor(campaign, query: str, sort: str) -> str:
    """The cursor of the row 90% of the way through the view's matches, in the view's order."""
    from annotate.selectors.browse import SORTS, _cursor, filtered_pairs, view_filters

    filters = view_filters(campaign, query)
    pairs = filtered_pairs(campaign, filters).order_by(*SORTS[sort])
    total = pairs.count()
    row = pairs[max(0, int(total * 0.9) - 1)]
    return _cursor(row, sort), total


def _time(
    client, url: str, runs: int, cpu: list[float] | None = None
) -> tuple[list[float], int, int]:
    """Wall milliseconds of each run; ``cpu`` gets this process's CPU milliseconds of each (the
    view, the template and the driver: PostgreSQL's own CPU is in the wall time only)."""
    response = client.get(url)  # warm-up (and the status the runs must keep)
    status, rows = response.status_code, _rows(response)
    times = []
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - cpu_started) * 1000)
        assert response.status_code == status == 200, (url, response.status_code)
    return times, status, rows


def _rows(response) -> int:
    """Rows listed by a page or an API answer (-1 for anything else, such as the floor)."""
    if response.get("Content-Type", "").startswith("application/json"):
        return len(response.json().get("results", []))
    context = getattr(response, "context", None)
    return len(context["page"].rows) if context and "page" in context else -1


def _p95(times: list[float]) -> float:
    return sorted(times)[max(0, int(len(times) * 0.95 + 0.5) - 1)]


CASES = [
    # (label, query string, sort); the deep page adds the cursor of the row 90% of the way in.
    ("filter (raters disagree)", "split=on", "id"),
    ("full text 'sql injection'", "q=sql+injection", "id"),
    ("filter + full text", "split=on&q=sql+injection", "id"),
    ("filter + full text, newest first", "split=on&q=sql+injection&sort=-id", "-id"),
    ("filter + full text, most votes", "status=complete&q=redis+timeouts&sort=-votes", "-votes"),
    ("common word 'answer' + filter", "split=on&q=answer", "id"),
    ("filter + phrase in rationales", 'split=on&q="ignores+deadlocks"', "id"),
    ("best match (ranks every match)", "split=on&q=sql+injection&sort=rank", "rank"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=200_000)
    parser.add_argument("--votes-per-pair", type=int, default=5)
    parser.add_argument("--raters", type=int, default=500)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()

    fill = _database(args.reuse)
    _django(f"{SERVER}/{DB_NAME}")
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from annotate.models import Campaign, Judgment, Pair, User

    if fill:
        call_command("migrate", verbosity=0)
        from bench.research_seed import seed

        started = time.perf_counter()
        figures = seed(pairs=args.pairs, votes_per_pair=args.votes_per_pair, raters=args.raters)
        print(f"seeded in {time.perf_counter() - started:.1f}s:")
        for name, seconds in figures.items():
            if name != "researcher_id":
                print(f"  {name:<32} {seconds:8.2f} s")
        for what in ("pairs", "votes"):
            bare, full = (
                figures[f"{what}/10, no search trigger"],
                figures[f"{what}/10, search trigger"],
            )
            print(
                f"  search triggers on the {what} insert: {full - bare:+.2f} s on a tenth "
                f"({full / bare:.2f}x the insert without them)"
            )
    campaign = Campaign.objects.get(slug="research")
    pairs = Pair.objects.filter(campaign=campaign).count()
    votes = Judgment.objects.filter(campaign=campaign).count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('annotate_pairsearch'))")
        size = cursor.fetchone()[0]
    print(f"campaign: {pairs:,} pairs, {votes:,} votes; search table and index: {size}")

    setup_test_environment()
    client = Client()
    client.force_login(User.objects.get(username="research-researcher"))
    browse = f"/campaigns/{campaign.slug}/browse/"
    api = f"/api/campaigns/{campaign.slug}/units/"
    floor, _, _ = _time(client, "/bench/noop/", args.runs)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\nfloor (/bench/noop/: session auth, middleware, nothing else): p50 "
        f"{statistics.median(floor):.1f} ms, p95 {_p95(floor):.1f} ms; load average {load} "
        f"on {os.cpu_count()} CPUs"
    )
    print(
        f"\n{'case':<44}{'page':>6}{'matches':>9}{'rows':>6}{'p50 ms':>9}{'p95 ms':>9}{'max':>8}"
        f"{'cpu p50':>9}"
    )
    worst = 0.0
    for label, query, sort in CASES:
        cursor, total = _deep_cursor(campaign, query, sort)
        for page, url_query in (("first", query), ("deep", f"{query}&after={cursor}")):
            for where, base in (("page", browse), ("api", api)):
                cpu: list[float] = []
                times, _, rows = _time(client, f"{base}?{url_query}", args.runs, cpu)
                p95 = _p95(times)
                if sort != "rank" and "full text" in label and "filter" in label:
                    worst = max(worst, p95)
                print(
                    f"{label if where == 'page' and page == 'first' else '':<44}"
                    f"{page + ' ' + where:>10}{total:>9,}{rows:>6}"
                    f"{statistics.median(times):>9.1f}{p95:>9.1f}{max(times):>8.1f}"
                    f"{statistics.median(cpu):>9.1f}"
                )
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average at the end: {load}")
    verdict = "meets" if worst <= TARGET_MS else "misses"
    print(f"\nfilter + full text, first and deep pages: worst p95 {worst:.1f} ms ({verdict} the "
          f"{TARGET_MS} ms target)")  # fmt: skip
    if not args.keep:
        connection.close()
        import psycopg

        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")


if __name__ == "__main__":
    main()
