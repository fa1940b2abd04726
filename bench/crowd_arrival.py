"""Benchmark: what a crowd participant's arrival costs the server, from the study link to the first
unit, beside a no-op floor.

    .venv/bin/python bench/crowd_arrival.py [--participants 200] [--keep]

On a fresh PostgreSQL database (the name in $BENCH_DATABASE_URL, default bench_crowds; dropped at
the end unless --keep), in this process with Django's test client (no network, no web server: the
server's own cost), each new Prolific participant does what the browser does:

  GET  /p/<slug>/prolific/?PROLIFIC_PID=…   account + paused enrollment, login   (302)
  GET  /p/<slug>/                           which page next                      (302)
  GET  /p/<slug>/consent/                   the consent page                     (200)
  POST /p/<slug>/consent/  consent=yes      consent recorded, enrollment opened  (302)
  GET  /campaigns/<slug>/rate/              the first pair claimed and rendered  (200)

It prints the median and p95 of the whole arrival and of each step, and the floor: the same number
of requests to /bench/noop/ (session auth and nothing else, BENCH_HOOKS) with the same client.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_crowds")


def _setup(url: str) -> tuple[str, str]:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.strip("/") or "bench_crowds"
    server = f"{parts.scheme}://{parts.netloc}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    os.environ.update(
        DATABASE_URL=f"{server}/{name}",
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-only-not-secret"),
        DJANGO_SETTINGS_MODULE="bench.settings",
        LOG_LEVEL="WARNING",
        ALLOWED_HOSTS="testserver",
        DATA_DIR=os.environ.get("DATA_DIR", str(ROOT / "data" / "bench")),
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return server, name


def _campaign(participants: int):
    from annotate.markdown import render_markdown
    from annotate.models import CrowdSettings
    from tests import factories

    campaign = factories.CampaignFactory(slug="bench-study", title="Bench study")
    for _ in range(participants + 10):
        factories.PairFactory(campaign=campaign)
    crowd = CrowdSettings(
        campaign=campaign,
        enabled=True,
        completion_code="C0MPLETE",
        units_per_participant=20,
        consent="You agree that your **answers** are kept.",
    )
    crowd.full_clean()
    crowd.consent_html = render_markdown(crowd.consent)
    crowd.save()
    return campaign


def _ms(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"median {statistics.median(ordered) * 1000:6.2f} ms   p95 {p95 * 1000:6.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--participants", type=int, default=200)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    server, name = _setup(URL)
    from django.test import Client

    from annotate.models import Assignment, Participant
    from tests.fakes.crowd import prolific_id

    campaign = _campaign(args.participants)
    slug = campaign.slug
    steps = ["arrive", "next", "consent page", "consent", "first unit"]
    timings: dict[str, list[float]] = {s: [] for s in steps}
    totals: list[float] = []
    floors: list[float] = []
    for n in range(args.participants + 5):  # the first 5 warm up and are not counted
        client = Client()
        pid = prolific_id()
        calls = [
            (
                "arrive",
                lambda c=client, p=pid: c.get(
                    f"/p/{slug}/prolific/",
                    {"PROLIFIC_PID": p, "STUDY_ID": "a" * 24, "SESSION_ID": prolific_id()},
                ),
                302,
            ),
            ("next", lambda c=client: c.get(f"/p/{slug}/"), 302),
            ("consent page", lambda c=client: c.get(f"/p/{slug}/consent/"), 200),
            ("consent", lambda c=client: c.post(f"/p/{slug}/consent/", {"consent": "yes"}), 302),
            ("first unit", lambda c=client: c.get(f"/campaigns/{slug}/rate/"), 200),
        ]
        total = 0.0
        for step, call, status in calls:
            start = time.perf_counter()
            response = call()
            took = time.perf_counter() - start
            assert response.status_code == status, (step, response.status_code)
            total += took
            if n >= 5:
                timings[step].append(took)
        assert b'name="assignment"' in response.content  # a pair is on the page
        floor = 0.0
        for _ in calls:
            start = time.perf_counter()
            assert client.get("/bench/noop/").status_code == 200
            floor += time.perf_counter() - start
        if n >= 5:
            totals.append(total)
            floors.append(floor)
    counted = args.participants
    assert Participant.objects.count() == counted + 5
    assert Assignment.objects.filter(status="active").count() == counted + 5
    print(
        f"crowd arrival, study link -> first unit, {counted} participants (PostgreSQL, in-process)"
    )
    print(f"  whole arrival (5 requests)  {_ms(totals)}")
    for step in steps:
        print(f"    {step:<14}            {_ms(timings[step])}")
    print(f"  no-op floor (5 requests)    {_ms(floors)}")
    print(
        f"  arrival / floor (medians)   {statistics.median(totals) / statistics.median(floors):.1f}x"
    )
    print(f"  load average while running  {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    if not args.keep:
        import psycopg
        from django.db import connections

        connections.close_all()
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    main()
