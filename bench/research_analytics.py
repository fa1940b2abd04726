"""Benchmark: the researcher dashboard over every vote of a big campaign, on PostgreSQL.

    .venv/bin/python bench/research_analytics.py [--pairs 200000] [--votes-per-pair 5] [--raters 500]
        [--keep] [--reuse] [--skip-direct]

Seeds its own database (``annotate_bench_research``, or $BENCH_RESEARCH_DB, on the server of
$BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432) with SQL ``INSERT … SELECT
generate_series``: 200,000 pairs of four generators, 5 first votes per pair from 500 raters
(1,000,000 votes) on the 7-point scale with ties and both-bad, 1 % of them revised after the
judge, 1 % gold pairs, texts of varied length, and a judge verdict on a quarter of the pairs.
Then:

  worker     a real `celery worker` subprocess (Redis, $BENCH_REDIS_URL, default
             redis://127.0.0.1:6379/11, FLUSHED) recomputes the figures (the Recompute button's
             path): the run's own duration (CampaignStats.duration_ms), wall time from the
             request to the row being written, and the worker's peak RSS. Target ≤ 60 s.
  dashboard  the analytics partial with warm caches, 20 requests through Django's test client
             in this process (server time: view + template; no network): median, p95, max.
             Target ≤ 1 s.
  direct     the same statistics computed directly on every vote row (the project's row-based
             functions in annotate/analytics on analytics_vote_rows, no cap: a million dicts),
             compared figure by figure with the cached ones: they must agree.

The figures are printed. The database is dropped at the end unless --keep (--reuse skips the seed).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = os.environ.get("BENCH_RESEARCH_DB", "annotate_bench_research")
SERVER = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")

FILL_SQL = """
SET session_replication_role = replica;  -- skip FK triggers while filling (superuser); reset below
SELECT setseed(0.42);
INSERT INTO annotate_user (password, is_superuser, username, first_name, last_name, email,
                           is_staff, is_active, date_joined, role)
SELECT '!', false, 'bench-rater-' || i, '', '', '', false, true, now(), 'rater'
FROM generate_series(0, {RATERS} - 1) AS i;
INSERT INTO annotate_user (password, is_superuser, username, first_name, last_name, email,
                           is_staff, is_active, date_joined, role)
VALUES ('!', false, 'bench-researcher', '', '', '', false, true, now(), 'researcher');

INSERT INTO annotate_generator (campaign_id, name, provider, model, base_url, endpoint, params,
                                system_prompt, samples_per_prompt, created_at)
SELECT c.id, 'gen-' || g, 'demo', 'model-' || g, '', '', '{}', '', 1, now()
FROM annotate_campaign c, generate_series(0, 3) AS g WHERE c.slug = 'bench-research';

INSERT INTO annotate_prompt (campaign_id, external_id, messages, system, metadata, content_hash,
                             rendered, created_at)
SELECT c.id, 'p' || i,
       jsonb_build_array(jsonb_build_object('role', 'user', 'content', 'Question ' || i || '?')),
       '', '{}', md5(i::text), '[]', now()
FROM annotate_campaign c, generate_series(0, {PAIRS} - 1) AS i WHERE c.slug = 'bench-research';

-- Two candidates per prompt from two different generators, of varied length.
INSERT INTO annotate_candidate (prompt_id, generator_id, sample_index, status, text, html,
    stop_reason, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd,
    request_id, error, attempts, self_identifies, reasoning, reasoning_html, reasoning_tokens,
    reasoning_cost_usd, final_answer, answer_rule)
SELECT p.id, g.id, 0, 'done', g.name || ' on ' || p.id || ': ' || repeat('word ', 3 + floor(random() * 60)::int),
       '', 'end_turn', 20, 80, 0, 0, 0, '', '', 1, false, '', '', 0, 0, '', ''
FROM annotate_prompt p
JOIN annotate_generator g ON g.campaign_id = p.campaign_id
WHERE g.name IN ('gen-' || (p.id % 4), 'gen-' || ((p.id + 1 + (p.id / 4) % 3) % 4));

INSERT INTO annotate_pair (campaign_id, prompt_id, candidate_a_id, candidate_b_id, strategy,
    gold_answer, needed, assigned, completed, left_a_count, random_key, priority, excluded,
    created_at)
SELECT p.campaign_id, p.id, min(c.id), max(c.id), 'cross_generator',
       CASE WHEN p.id % 100 = 0 THEN 'a' ELSE '' END, {K}, {K}, {K}, 0, random(), 0, false, now()
FROM annotate_prompt p JOIN annotate_candidate c ON c.prompt_id = p.id
GROUP BY p.campaign_id, p.id;

-- K first votes per pair from K different raters: each pair leans to a side (its "truth"), the
-- better generator (lower number) more often; a rater follows the lean with some noise.
WITH lean AS MATERIALIZED (
    -- Each pair's truth: a or b (the better generator, lower number, wins 65 %), followed by a
    -- rater 80 % of the time.
    SELECT pr.campaign_id, pr.id AS pair_id,
           CASE WHEN random() < CASE WHEN ga.name < gb.name THEN 0.65 ELSE 0.35 END
                THEN 0.8 ELSE 0.2 END AS p_a
    FROM annotate_pair pr
    JOIN annotate_candidate ca ON ca.id = pr.candidate_a_id
    JOIN annotate_generator ga ON ga.id = ca.generator_id
    JOIN annotate_candidate cb ON cb.id = pr.candidate_b_id
    JOIN annotate_generator gb ON gb.id = cb.generator_id
)
INSERT INTO annotate_judgment (campaign_id, pair_id, rater_id, source, choice, strength, aspects,
    rationale, rewrite, left_is_a, time_on_task_ms, judge_shown, created_at)
SELECT v.campaign_id, v.pair_id, u.id, 'human',
       CASE WHEN v.r < 0.08 THEN 'tie' WHEN v.r < 0.11 THEN 'both_bad'
            WHEN v.r2 < v.p_a THEN 'a' ELSE 'b' END,
       CASE WHEN v.r < 0.11 THEN 0 ELSE 1 + floor(random() * 3)::int END,
       '{}', '', '', random() < 0.5, 800 + floor(random() * random() * 40000)::int, false,
       now() - random() * interval '14 days'
FROM (
    SELECT lean.campaign_id, lean.pair_id, lean.p_a, j, random() AS r, random() AS r2
    FROM lean CROSS JOIN generate_series(0, {K} - 1) AS j
) v
JOIN annotate_user u ON u.username = 'bench-rater-' || ((v.pair_id * 7 + v.j * 101) % {RATERS});

-- 1 % revised after the judge's reveal: a new row pointing at the first.
INSERT INTO annotate_judgment (campaign_id, pair_id, rater_id, source, choice, strength, aspects,
    rationale, rewrite, left_is_a, time_on_task_ms, judge_shown, created_at, revises_id)
SELECT campaign_id, pair_id, rater_id, 'human', CASE WHEN choice = 'a' THEN 'b' ELSE 'a' END, 1,
       '{}', '', '', left_is_a, 2000, true, created_at + interval '1 minute', id
FROM annotate_judgment WHERE id % 100 = 0;

SET session_replication_role = DEFAULT;
"""

VERDICT_SQL = """
SET session_replication_role = replica;
INSERT INTO annotate_judgeverdict (campaign_id, prompt_id, pair_id, candidate_a_id, candidate_b_id,
    rubric_id, provider, model, status, order1, order2, choice, consistent, aspects, rationale,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, error, attempts,
    finished_at, created_at)
SELECT pr.campaign_id, pr.prompt_id, pr.id, pr.candidate_a_id, pr.candidate_b_id, {RUBRIC},
       'demo', 'demo-judge', 'done',
       jsonb_build_object('choice', x.one), jsonb_build_object('choice', x.two),
       CASE WHEN x.one = x.two THEN x.one ELSE 'inconsistent' END, x.one = x.two, '{}', '',
       0, 0, 0, 0, 0, '', 1, now(), now()
FROM annotate_pair pr,
     -- pr.id inside: a correlated subquery, drawn again for each pair (else it runs once).
     LATERAL (SELECT CASE WHEN random() + pr.id * 0 < 0.6 THEN 'a' ELSE 'b' END AS one,
                     CASE WHEN random() + pr.id * 0 < 0.85 THEN NULL ELSE 'b' END AS flip) r,
     LATERAL (SELECT r.one, coalesce(r.flip, r.one) AS two) x
WHERE pr.campaign_id = {CAMPAIGN} AND pr.id % 4 = 0;
SET session_replication_role = DEFAULT;
ANALYZE;
"""


def _django(db_url: str) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["CELERY_BROKER_URL"] = REDIS
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def seed(*, pairs: int, k: int, raters: int) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    _django(f"{SERVER}/{DB_NAME}")
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from annotate.models import Campaign

    started = time.perf_counter()
    Campaign.objects.create(
        title="Bench research",
        slug="bench-research",
        guidelines="Pick the better answer.",
        status="open",
        scale="graded7",
        allow_both_bad=True,
        overlap=k,
        judge_mode="after_vote",
    )
    sql = FILL_SQL.replace("{PAIRS}", str(pairs)).replace("{K}", str(k))
    with connection.cursor() as cursor:
        cursor.execute(sql.replace("{RATERS}", str(raters)))
    from annotate.services.campaign_stats import candidates_measure
    from annotate.services.judging import rubric_current

    campaign = Campaign.objects.get(slug="bench-research")
    # What every write path does (Candidate.read_length), done here for the rows the SQL wrote.
    measured = time.perf_counter()
    candidates_measure(campaign_id=campaign.id)
    print(f"reading lengths stored in {time.perf_counter() - measured:.1f}s")
    rubric = rubric_current(campaign=campaign)
    with connection.cursor() as cursor:
        cursor.execute(
            VERDICT_SQL.replace("{RUBRIC}", str(rubric.id)).replace("{CAMPAIGN}", str(campaign.id))
        )
    print(f"seeded {pairs:,} pairs, {pairs * k:,} votes in {time.perf_counter() - started:.1f}s")


def _rss_mib(pid: int, field: str = "VmHWM") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process (and its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def phase_worker(campaign) -> dict:
    """The Recompute button's path through a real worker subprocess; returns the timings."""
    import redis
    from celery import current_app

    from annotate.models import CampaignStats
    from annotate.services.campaign_stats import stats_request
    from tests.fakes.worker import start_worker_process, stop, wait_ready

    redis.Redis.from_url(REDIS).flushdb()
    proc = start_worker_process(
        database_url=os.environ["DATABASE_URL"],
        broker_url=REDIS,
        env={"DJANGO_SETTINGS_MODULE": "bench.settings"},
        concurrency=1,
        name="benchstats",
    )
    try:
        wait_ready(current_app, "benchstats")
        before = CampaignStats.objects.filter(campaign=campaign).values_list(
            "computed_at", flat=True
        )
        previous = before.first()
        CampaignStats.objects.filter(campaign=campaign).update(error="")
        cpu_before = _cpu_seconds(proc.pid)
        started = time.perf_counter()
        stats_request(campaign=campaign)
        while True:
            row = CampaignStats.objects.filter(campaign=campaign).first()
            if row and row.computed_at and row.computed_at != previous:
                break
            if row and row.error:
                raise RuntimeError(row.error)
            if time.perf_counter() - started > 600:
                raise RuntimeError("no figures after 600 s")
            time.sleep(0.2)
        wall = time.perf_counter() - started
        cpu = _cpu_seconds(proc.pid) - cpu_before
        rss = _rss_mib(proc.pid)
    finally:
        stop(proc)
    return {
        "wall": wall,
        "cpu": cpu,
        "run_ms": row.duration_ms,
        "votes": row.votes_seen,
        "rss_mib": rss,
    }


def phase_dashboard(campaign, *, runs: int = 20) -> list[float]:
    from django.conf import settings
    from django.test import Client
    from django.urls import reverse

    from annotate.models import User

    settings.ALLOWED_HOSTS = ["testserver"]
    client = Client()
    client.force_login(User.objects.get(username="bench-researcher"))
    url = reverse("annotate:research-analytics", args=[campaign.slug])
    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        response = client.get(url, headers={"HX-Request": "true"})
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
        assert "over 1,0" in response.content.decode() or "Computed" in response.content.decode()
    return times[1:]  # the first warms the template and the connection


def _close(name: str, got, want, tol: float = 1e-9) -> bool:
    if got is None or want is None:
        ok = got is None and want is None
    else:
        ok = math.isclose(got, want, rel_tol=tol, abs_tol=tol)
    print(f"  {'ok ' if ok else 'FAIL'} {name}: cached {got!r} · direct {want!r}")
    return ok


def phase_direct(campaign, figures: dict) -> bool:
    """Every figure again, straight from the vote rows with the row-based functions."""
    from annotate.analytics import agreement, bias, ranking
    from annotate.selectors import analytics as reads
    from annotate.selectors.judging import judge_analytics

    started = time.perf_counter()
    rows = reads.analytics_vote_rows(campaign_id=campaign.id)
    print(f"  read {len(rows):,} vote rows in {time.perf_counter() - started:.1f}s")
    ok = len(rows) == figures["vote_rows"]
    print(
        f"  {'ok ' if ok else 'FAIL'} votes: cached {figures['vote_rows']:,} · rows {len(rows):,}"
    )
    started = time.perf_counter()
    ok &= _close(
        "α (krippendorff package)", figures["alpha"]["alpha"], agreement.krippendorff_alpha(rows)
    )
    pos, length, timing = bias.position_bias(rows), bias.length_bias(rows), bias.time_on_task(rows)
    for name, mine, direct in (
        ("position: share left", figures["position"], pos["overall"]),
        ("length: share longer", figures["length"], length["overall"]),
    ):
        ok &= _close(name, mine["share"], direct["share"])
        ok &= _close(name + " p-value", mine["p_value"], direct["p_value"])
        ok &= mine["n"] == direct["n"]
    for q in ("median", "p10", "p90"):
        ok &= _close(f"time on task {q} (s)", figures["time"][q], timing["overall"][q])
    majority = agreement.rater_agreement_with_majority(rows)
    gold = agreement.gold_accuracy(rows)
    names = {r["name"]: r for r in figures["raters"]}
    from annotate.selectors.campaigns import campaign_voters

    usernames = {
        v["rater_id"]: v["rater__username"] for v in campaign_voters(campaign_id=campaign.id)
    }
    per_rater_ok = (
        all(
            names[usernames[rid]]["majority"]["agree"] == m["agree"]
            and names[usernames[rid]]["majority"]["compared"] == m["compared"]
            for rid, m in majority.items()
        )
        and all(
            names[usernames[rid]]["gold"]["correct"] == g["correct"]
            and names[usernames[rid]]["gold"]["answered"] == g["answered"]
            for rid, g in gold.items()
        )
        and all(
            names[usernames[rid]]["left"]["k"] == s["k"]
            and names[usernames[rid]]["left"]["n"] == s["n"]
            for rid, s in pos["raters"].items()
        )
        and all(
            names[usernames[rid]]["longer"]["k"] == s["k"]
            and names[usernames[rid]]["longer"]["n"] == s["n"]
            for rid, s in length["raters"].items()
        )
        and all(
            names[usernames[rid]]["time"][q] == s[q]
            for rid, s in timing["raters"].items()
            for q in ("n", "median", "p10", "p90")
        )
    )
    print(
        f"  {'ok ' if per_rater_ok else 'FAIL'} per rater ({len(names)}): majority agreement, "
        "gold, left picks, longer picks, time on task (n, median, p10, p90)"
    )
    ok &= per_rater_ok
    board = ranking.bradley_terry(rows)
    for mine, direct in zip(figures["leaderboard"], board, strict=True):
        ok &= mine["name"] == direct["name"]
        ok &= _close(f"BT {direct['name']} score", mine["score"], direct["score"])
        ok &= _close(f"BT {direct['name']} CI low", mine["low"], direct["low"])
        ok &= _close(f"BT {direct['name']} CI high", mine["high"], direct["high"])
    judge = judge_analytics(campaign=campaign)
    ok &= _close("judge κ", figures["judge"]["kappa"]["kappa"], judge["kappa"].kappa)
    ok &= _close("judge swap consistency", figures["judge"]["swap"]["rate"], judge["swap"].rate)
    print(f"  direct computation took {time.perf_counter() - started:.1f}s")
    return bool(ok)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=200_000)
    parser.add_argument("--votes-per-pair", type=int, default=5)
    parser.add_argument("--raters", type=int, default=500)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="skip the seed (a kept database)")
    parser.add_argument("--skip-direct", action="store_true", help="timings only")
    args = parser.parse_args()
    if args.reuse:
        _django(f"{SERVER}/{DB_NAME}")
    else:
        seed(pairs=args.pairs, k=args.votes_per_pair, raters=args.raters)
    from annotate.models import Campaign, CampaignStats

    campaign = Campaign.objects.get(slug="bench-research")
    try:
        print("worker: recompute over every vote (a real celery worker)")
        run = phase_worker(campaign)
        print(
            f"  run {run['run_ms'] / 1000:.1f}s over {run['votes']:,} votes (request → written "
            f"{run['wall']:.1f}s; target ≤ 60 s); the worker's CPU time {run['cpu']:.1f}s (the "
            f"rest is waiting: on PostgreSQL, or for a CPU on a busy machine); worker peak RSS "
            f"{run['rss_mib']:.0f} MiB"
        )
        print("dashboard: the analytics partial with warm caches (20 requests, server time)")
        times = phase_dashboard(campaign)
        p95 = sorted(times)[int(0.95 * (len(times) - 1))]
        print(
            f"  median {statistics.median(times) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
            f"max {max(times) * 1000:.0f} ms (target ≤ 1000 ms)"
        )
        figures = CampaignStats.objects.get(campaign=campaign).figures
        alpha = figures["alpha"]
        print("figures:")
        print(
            f"  α = {alpha['alpha']:.4f} (95% CI {alpha['low']:.4f} – {alpha['high']:.4f}) over "
            f"{alpha['pairs']:,} pairs"
        )
        print(
            f"  position: {figures['position']['share']:.4f} left of {figures['position']['n']:,}"
        )
        print(f"  length: {figures['length']['share']:.4f} longer of {figures['length']['n']:,}")
        t = figures["time"]
        print(
            f"  time on task: median {t['median']:.1f} s (p10 {t['p10']:.1f}, p90 {t['p90']:.1f})"
        )
        for row in figures["leaderboard"]:
            print(
                f"  BT {row['name']}: {row['score']:.1f} [{row['low']:.1f}, {row['high']:.1f}] "
                f"over {row['comparisons']:,.0f}"
            )
        k = figures["judge"]["kappa"]
        print(
            f"  judge κ {k['kappa']:.4f} [{k['low']:.4f}, {k['high']:.4f}] over {k['n']:,} pairs; "
            f"swap consistency {figures['judge']['swap']['rate']:.4f}"
        )
        if not args.skip_direct:
            print("direct: every figure from the vote rows")
            agree = phase_direct(campaign, figures)
            print("ALL FIGURES AGREE" if agree else "SOME FIGURES DISAGREE")
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            import psycopg

            with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    main()
