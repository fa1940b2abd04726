"""Benchmark: generation throughput and exactly-once under 429s and a kill -9.

    .venv/bin/python bench/generation.py [--prompts 2000] [--concurrency 8] [--latency 0.2]
                                         [--rate-429 0.1] [--skip-kill] [--keep]

Setting: PostgreSQL (its own database, ``annotate_bench_gen`` or $BENCH_DB_NAME, on
$BENCH_DATABASE_URL's server),
Redis ($BENCH_REDIS_URL, default redis://127.0.0.1:6379/1; the benchmark FLUSHES that database, so
give it one nothing else uses), the fake provider server of
tests/fakes on 127.0.0.1 answering the Anthropic Messages API after ``--latency`` seconds, with
``--rate-429`` of requests answered ``429`` + ``retry-after: 1`` at once, and 2 real ``celery worker``
subprocesses (thread pool, ``--concurrency`` each), which beat and sweep themselves (annotate/work).
The campaign has N prompts × 2 Anthropic generators; every request goes through the real
``anthropic`` SDK.

Two runs:
  steady   both workers throughout.
  kill     one worker is killed with SIGKILL half-way; the other carries on, and its sweep sends
           again what the dead worker held once its heartbeat has stopped for
           WORK_DEAD_AFTER_SECONDS (nobody presses "Resume"). If nothing at all moves for 30 s the
           bench presses "Resume" itself and counts it. bench/recovery.py times the recovery
           itself, for every kind of work, with the production settings.

The workers run with WORK_STALE_SECONDS=5 and a sweep every second, as this benchmark always has:
then a 429 retry still waiting after 5 s is sent again, which shortens the job's tail (the last few
rows, unlucky with several 429s in a row and a growing backoff), by a few seconds, i.e. a few points
of the steady figure (with the production settings, 390 s and 6 s, steady measures about 81 %, on
main as on this code: the rate up to the last 10 rows is the same).

Printed per run: wall time, throughput, throughput as a fraction of the ideal
(concurrency ÷ latency, i.e. every worker thread always waiting on a successful call), lost
candidates (not done at the end), duplicated candidates (rows beyond one per prompt × generator ×
sample; the unique key makes this 0), and repeated provider calls (successful calls beyond one per
candidate: what a crash can cost, at most the calls in flight at the kill).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

from worker_setup import drop_database, fresh_database, start_two_workers

DB_NAME = os.environ.get("BENCH_DB_NAME", "annotate_bench_gen")


def _campaign(slug: str, prompts: int):
    from annotate.models import Campaign, Generator, Prompt

    campaign = Campaign.objects.create(title=slug, slug=slug, status=Campaign.Status.DRAFT)
    rows = []
    for i in range(prompts):
        messages = [{"role": "user", "content": f"[{slug}] Question {i}: explain idea number {i}."}]
        digest = hashlib.sha256(json.dumps(messages).encode()).hexdigest()
        rows.append(Prompt(campaign=campaign, messages=messages, content_hash=digest))
    Prompt.objects.bulk_create(rows, batch_size=1000)
    for name, model in (("sonnet", "claude-sonnet-4-6"), ("haiku", "claude-haiku-4-5")):
        Generator.objects.create(
            campaign=campaign, name=name, provider=Generator.Provider.ANTHROPIC, model=model
        )
    return campaign


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its children, from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = sum(int(f) for f in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def _run(args, *, slug: str, kill: bool, fake, db_url: str, log: Path) -> dict:
    from django.conf import settings

    from annotate.models import Candidate
    from annotate.services.generation import generation_resume, generation_start
    from tests.fakes.worker import kill_hard, stop

    campaign = _campaign(slug, args.prompts)
    env = {
        "ANTHROPIC_API_KEY": "sk-bench",
        "ANTHROPIC_BASE_URL": fake.url,
        # As this benchmark always ran (see the docstring): figures stay comparable with its past.
        "WORK_STALE_SECONDS": "5",
        "WORK_SWEEP_SECONDS": "1",
    }
    workers = start_two_workers(
        db_url=db_url, slug=slug, env=env, concurrency=args.concurrency, log=log
    )
    try:
        served_before = sum(fake.served.values())
        cpu_before = sum(_cpu_seconds(w.pid) for w in workers)
        started = time.monotonic()
        job = generation_start(campaign=campaign, actor=None)
        total = job.total
        killed_at = None
        done = 0
        resumes = 0
        last_change = (0, time.monotonic())
        while True:
            time.sleep(0.25)
            job.refresh_from_db()
            if not job.is_active:
                break
            done = Candidate.objects.filter(job=job, status=Candidate.Status.DONE).count()
            if done != last_change[0]:
                last_change = (done, time.monotonic())
            elif time.monotonic() - last_change[1] > 30:
                # No progress for 30 s: messages were lost (e.g. someone flushed the broker). Do
                # what the admin's "Resume stalled work" does, and say so in the results.
                settings.WORK_STALE_SECONDS = 2
                generation_resume(campaign=campaign, actor=None)
                resumes += 1
                last_change = (done, time.monotonic())
            if kill and killed_at is None and done >= total // 2:
                kill_hard(workers[1])
                killed_at = time.monotonic() - started
        elapsed = time.monotonic() - started
        cpu = sum(_cpu_seconds(w.pid) for w in workers) - cpu_before
    finally:
        for w in workers:
            stop(w)
    candidates = Candidate.objects.filter(job=job)
    rows = candidates.count()
    done = candidates.filter(status=Candidate.Status.DONE).count()
    served = sum(fake.served.values()) - served_before
    ideal_rate = 2 * args.concurrency / args.latency
    return {
        "run": "kill" if kill else "steady",
        "candidates": total,
        "seconds": round(elapsed, 1),
        "per_second": round(done / elapsed, 1),
        "ideal_per_second": ideal_rate,
        "fraction_of_ideal": round(done / elapsed / ideal_rate, 3),
        "lost": total - done,
        "duplicated_rows": rows - total,
        "repeated_calls": served - done,
        "killed_at_s": round(killed_at, 1) if killed_at else None,
        "stall_resumes": resumes,
        # Worker CPU per candidate (a killed worker's CPU is lost from the sum).
        "worker_cpu_ms_per_candidate": round(1000 * cpu / max(done, 1), 1),
        "load_average": os.getloadavg()[0],
        "status": job.status,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--prompts", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8, help="threads per worker (2 workers)")
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--rate-429", type=float, default=0.1)
    parser.add_argument("--skip-kill", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    db_url = fresh_database(DB_NAME)
    from tests.fakes.provider_server import FakeProviderServer

    log = Path(os.environ.get("BENCH_LOG", "/tmp/bench-generation-workers.log"))
    log.unlink(missing_ok=True)
    import signal

    # A SIGTERM (e.g. from `timeout`) still stops the workers and drops the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    fake = FakeProviderServer(
        latency=args.latency, rate_429=args.rate_429, retry_after=1.0, seed=1
    ).start()
    results = []
    try:
        results.append(_run(args, slug="steady", kill=False, fake=fake, db_url=db_url, log=log))
        print(json.dumps(results[-1]), flush=True)
        if not args.skip_kill:
            results.append(_run(args, slug="kill", kill=True, fake=fake, db_url=db_url, log=log))
            print(json.dumps(results[-1]), flush=True)
    finally:
        fake.stop()
        if not args.keep:
            drop_database(DB_NAME)
    print()
    print(
        f"{'run':8} {'cands':>6} {'secs':>6} {'per s':>7} {'ideal':>6} {'of ideal':>9} {'lost':>5} {'dup rows':>9} {'repeat calls':>13}"
    )
    for r in results:
        print(
            f"{r['run']:8} {r['candidates']:>6} {r['seconds']:>6} {r['per_second']:>7} "
            f"{r['ideal_per_second']:>6.0f} {r['fraction_of_ideal']:>9.1%} {r['lost']:>5} "
            f"{r['duplicated_rows']:>9} {r['repeated_calls']:>13}"
        )
    for r in results:
        print(
            f"{r['run']}: worker CPU {r['worker_cpu_ms_per_candidate']} ms per candidate, "
            f"1-min load average at the end {r['load_average']:.1f} (2 cores)"
        )
    print(f"429s answered: {fake.status_counts[429]}")


if __name__ == "__main__":
    main()
