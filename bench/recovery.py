"""Benchmark: how fast work held by a worker killed with ``kill -9`` comes back, for every kind.

    .venv/bin/python bench/recovery.py [--kinds generation,judging,export] [--prompts 600]
                                       [--pairs 150] [--votes 400] [--concurrency 8] [--keep]

Setting: PostgreSQL (its own database, ``annotate_bench_recovery`` or $BENCH_DB_NAME, on
$BENCH_DATABASE_URL's server), Redis ($BENCH_REDIS_URL, default redis://127.0.0.1:6379/1; FLUSHED,
give it one nothing else uses), the fake provider servers of tests/fakes answering after 0.2 s, and 2
real ``celery worker`` subprocesses (thread pool, ``--concurrency`` each) with the production
heartbeat settings (WORK_HEARTBEAT_SECONDS, WORK_DEAD_AFTER_SECONDS, WORK_SWEEP_SECONDS: 3, 12, 6 s
unless set in the environment). Nothing else runs: no beat, nobody presses "Resume".

Per kind, the same job twice: once with both workers throughout, once with worker 1 killed with
SIGKILL when about 40 % is done (an export: 1.5 s into its build; its votes are read at 10 ms each
through tests/fakes/slow_exports.py so that a build takes seconds). Printed per kind: the no-kill
time; for the kill run, seconds from the kill to the first resend (when the sweep sent the dead
worker's work again, ``WorkRecovery.at``) and to the job's end, the whole run's time, and lost,
duplicated and repeated work (provider calls beyond one per row: at most the calls in flight).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

from worker_setup import drop_database, fresh_database, start_two_workers

DB_NAME = os.environ.get("BENCH_DB_NAME", "annotate_bench_recovery")
LATENCY = 0.2


# --- the three jobs: start one, say when it is over and what it cost ----------------------------


class Generation:
    name = "generation"

    def __init__(self, args, fake) -> None:
        self.args, self.fake = args, fake

    def start(self, slug: str):
        import hashlib

        from annotate.models import Campaign, Generator, Prompt
        from annotate.services.generation import generation_start

        campaign = Campaign.objects.create(title=slug, slug=slug, status=Campaign.Status.DRAFT)
        rows = []
        for i in range(self.args.prompts):
            messages = [{"role": "user", "content": f"[{slug}] Question {i}."}]
            digest = hashlib.sha256(json.dumps(messages).encode()).hexdigest()
            rows.append(Prompt(campaign=campaign, messages=messages, content_hash=digest))
        Prompt.objects.bulk_create(rows)
        Generator.objects.create(
            campaign=campaign, name="g", provider=Generator.Provider.ANTHROPIC, model="m"
        )
        self.served_before = self.fake.total_served
        self.job = generation_start(campaign=campaign, actor=None)
        self.rows = self.job.total
        return self.job.id

    def progress(self) -> tuple[float, bool]:
        self.job.refresh_from_db()
        done = self.job.candidates.filter(status="done").count()
        return done / self.rows, not self.job.is_active

    def outcome(self) -> dict:
        rows = self.job.candidates
        done = rows.filter(status="done").count()
        return {
            "lost": self.rows - done,
            "duplicated_rows": rows.count() - self.rows,
            "repeated_calls": self.fake.total_served - self.served_before - done,
        }


class Judging:
    name = "judging"

    def __init__(self, args, fake) -> None:
        self.args, self.fake = args, fake

    def start(self, slug: str):
        from annotate.models import Campaign, Candidate, Generator, JudgeConfig, Pair, Prompt
        from annotate.services.judging import judge_pairs_start

        campaign = Campaign.objects.create(title=slug, slug=slug, status=Campaign.Status.OPEN)
        JudgeConfig.objects.create(campaign=campaign, provider="anthropic", model="m", mode="fast")
        one = Generator.objects.create(campaign=campaign, name="one", provider="demo", model="a")
        two = Generator.objects.create(campaign=campaign, name="two", provider="demo", model="b")
        for i in range(self.args.pairs):
            prompt = Prompt.objects.create(
                campaign=campaign,
                messages=[{"role": "user", "content": f"[{slug}] Question {i}."}],
                content_hash=f"{slug}-{i}",
            )
            a = Candidate.objects.create(
                prompt=prompt, generator=one, status="done", text="A careful answer. " * 3
            )
            b = Candidate.objects.create(prompt=prompt, generator=two, status="done", text="Short.")
            Pair.objects.create(campaign=campaign, prompt=prompt, candidate_a=a, candidate_b=b)
        self.calls_before = self.fake.judge_calls
        self.job = judge_pairs_start(campaign=campaign, actor=None)
        self.rows = self.job.total
        return self.job.id

    def progress(self) -> tuple[float, bool]:
        self.job.refresh_from_db()
        done = self.job.verdicts.filter(status="done").count()
        return done / self.rows, self.job.status not in ("queued", "running")

    def outcome(self) -> dict:
        from annotate.models import JudgeVerdict

        done = self.job.verdicts.filter(status="done").count()
        made = JudgeVerdict.objects.filter(campaign=self.job.campaign).count()
        return {
            "lost": self.rows - done,
            "duplicated_rows": made - self.rows,
            "repeated_calls": self.fake.judge_calls - self.calls_before - 2 * done,
        }


class Exporting:
    name = "export"

    def __init__(self, args, fake) -> None:
        self.args = args

    def start(self, slug: str):
        from annotate.models import Campaign, Candidate, Generator, Judgment, Pair, Prompt, User
        from annotate.services.exports import export_create

        campaign = Campaign.objects.create(title=slug, slug=slug, status=Campaign.Status.OPEN)
        raters = [
            User.objects.get_or_create(username=f"bench-rater-{i}", defaults={"role": "rater"})[0]
            for i in range(3)
        ]
        one = Generator.objects.create(campaign=campaign, name="one", provider="demo", model="a")
        two = Generator.objects.create(campaign=campaign, name="two", provider="demo", model="b")
        for i in range(max(1, self.args.votes // 3)):
            prompt = Prompt.objects.create(
                campaign=campaign,
                messages=[{"role": "user", "content": f"[{slug}] Question {i}."}],
                content_hash=f"{slug}-{i}",
            )
            a = Candidate.objects.create(prompt=prompt, generator=one, status="done", text="Yes.")
            b = Candidate.objects.create(prompt=prompt, generator=two, status="done", text="No.")
            pair = Pair.objects.create(
                campaign=campaign, prompt=prompt, candidate_a=a, candidate_b=b
            )
            Judgment.objects.bulk_create(
                Judgment(campaign=campaign, pair=pair, rater=r, choice="a", left_is_a=True)
                for r in raters
            )
        self.export = export_create(campaign=campaign, actor=None, format="trl-dpo-standard")
        self.rows = 1
        self.started = time.monotonic()
        return self.export.id

    def progress(self) -> tuple[float, bool]:
        self.export.refresh_from_db()
        running = self.export.status == "running"
        # "40 %": 1.5 s into a build (its own progress is written every 5,000 pairs).
        fraction = 0.4 if running and time.monotonic() - self.started > 1.5 else 0.0
        return fraction, self.export.status in ("done", "failed")

    def outcome(self) -> dict:
        from annotate.models import Export

        ok = self.export.status == "done"
        return {
            "lost": 0 if ok else 1,
            "duplicated_rows": Export.objects.filter(campaign=self.export.campaign).count() - 1,
            "repeated_calls": max(self.export.attempts - 1, 0),  # builds beyond the first
        }


KINDS = {"generation": Generation, "judging": Judging, "export": Exporting}
WORK_KIND = {"generation": "candidate", "judging": "verdict", "export": "export"}


def _holder(workers: list, kind_name: str, job_id: int):
    """The worker process holding a claim of the job (the one whose death the run is about)."""
    from annotate.models import WorkerProcess
    from annotate.work.kinds import all_kinds

    kind = next(k for k in all_kinds() if k.name == kind_name)
    holders = kind.rows(job_id).filter(status=kind.running).values_list("claimed_by", flat=True)
    pids = set(WorkerProcess.objects.filter(id__in=list(holders)).values_list("pid", flat=True))
    return next((w for w in workers if w.pid in pids), workers[0])


def _run(kind, *, slug: str, kill: bool, args, db_url: str, log: Path, env: dict) -> dict:
    from django.utils import timezone

    from annotate.models import WorkRecovery
    from tests.fakes.worker import kill_hard, stop

    workers = start_two_workers(
        db_url=db_url,
        slug=slug,
        env=env,
        concurrency=args.concurrency,
        log=log,
        app="tests.fakes.slow_exports",
    )
    killed_at = killed_wall = None
    try:
        started = time.monotonic()
        job_id = kind.start(slug)
        while True:
            time.sleep(0.05)
            fraction, ended = kind.progress()
            if ended:
                break
            if kill and killed_at is None and fraction >= 0.4:
                kill_hard(_holder(workers, WORK_KIND[kind.name], job_id))
                killed_at, killed_wall = time.monotonic(), timezone.now()
        ended_at = time.monotonic()
    finally:
        for worker in workers:
            stop(worker)
    result = {"kind": kind.name, "run": "kill" if kill else "steady", "rows": kind.rows}
    result["seconds"] = round(ended_at - started, 1)
    if kill:
        first: datetime | None = (
            WorkRecovery.objects.filter(kind=WORK_KIND[kind.name], job_id=job_id)
            .order_by("at")
            .values_list("at", flat=True)
            .first()
        )
        result["kill_to_resend_s"] = (
            round((first - killed_wall).total_seconds(), 1) if first else None
        )
        result["kill_to_done_s"] = round(ended_at - killed_at, 1) if killed_at else None
    result.update(kind.outcome())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kinds", default="generation,judging,export")
    parser.add_argument("--prompts", type=int, default=600, help="generation: candidates")
    parser.add_argument("--pairs", type=int, default=150, help="judging: verdicts (2 calls each)")
    parser.add_argument("--votes", type=int, default=400, help="export: votes to read")
    parser.add_argument("--concurrency", type=int, default=8, help="threads per worker (2 workers)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    db_url = fresh_database(DB_NAME)
    import signal

    from django.conf import settings

    from tests.fakes.judge_server import JudgeFakeServer
    from tests.fakes.provider_server import FakeProviderServer

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.environ["ANTHROPIC_API_KEY"] = "sk-bench"  # the judge refuses to start without one
    log = Path(os.environ.get("BENCH_LOG", "/tmp/bench-recovery-workers.log"))
    log.unlink(missing_ok=True)
    fake = FakeProviderServer(latency=LATENCY).start()
    judge = JudgeFakeServer(latency=LATENCY).start()
    export_root = Path(os.environ.get("BENCH_EXPORT_ROOT", "/tmp/bench-recovery-exports"))
    settings.EXPORT_ROOT = export_root
    env = {
        "ANTHROPIC_API_KEY": "sk-bench",
        "EXPORT_ROOT": str(export_root),
        "TEST_EXPORT_ROW_SECONDS": "0.01",
    }
    results = []
    try:
        for name in args.kinds.split(","):
            server = judge if name == "judging" else fake
            kind_env = {**env, "ANTHROPIC_BASE_URL": server.url}
            for kill in (False, True):
                kind = KINDS[name](args, server)
                slug = f"{name}-{'kill' if kill else 'steady'}"
                results.append(
                    _run(
                        kind, slug=slug, kill=kill, args=args, db_url=db_url, log=log, env=kind_env
                    )
                )
                print(json.dumps(results[-1]), flush=True)
    finally:
        fake.stop()
        judge.stop()
        if not args.keep:
            drop_database(DB_NAME)

    from annotate.work import workers

    print()
    print(
        f"heartbeat {workers.heartbeat_seconds():g} s, dead after "
        f"{workers.dead_after().total_seconds():g} s, sweep every {workers.sweep_seconds():g} s"
    )
    print(
        f"{'kind':11} {'rows':>5} {'no kill s':>10} {'kill→resend s':>14} {'kill→done s':>12} "
        f"{'with kill s':>12} {'lost':>5} {'dup':>4} {'repeated':>9}"
    )
    by_kind: dict[str, dict] = {}
    for r in results:
        by_kind.setdefault(r["kind"], {})[r["run"]] = r
    for name, runs in by_kind.items():
        steady, killed = runs.get("steady", {}), runs.get("kill", {})
        print(
            f"{name:11} {killed.get('rows', 0):>5} {steady.get('seconds', '-'):>10} "
            f"{killed.get('kill_to_resend_s', '-')!s:>14} {killed.get('kill_to_done_s', '-')!s:>12} "
            f"{killed.get('seconds', '-'):>12} {killed.get('lost', '-'):>5} "
            f"{killed.get('duplicated_rows', '-'):>4} {killed.get('repeated_calls', '-'):>9}"
        )


if __name__ == "__main__":
    main()
