"""kill -9 a worker in the middle of a judge job and of an export, nobody presses anything: the
live worker's sweep sees the dead one's heartbeat stop and sends its work again (the generation
case is tests/tasks/test_generation_kill9.py). Nothing is lost, nothing duplicated, and no provider
call repeated beyond those in flight. And a live worker in a call longer than the dead-after window
keeps its claim: nothing is sent twice."""

from __future__ import annotations

import zipfile
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection
from django.db.models.functions import Now

from annotate.models import (
    Campaign,
    Candidate,
    Export,
    GenerationJob,
    Generator,
    JudgeJob,
    JudgeVerdict,
    WorkRecovery,
)
from annotate.services.exports import export_create, export_lost_work
from annotate.services.generation import generation_start
from annotate.services.judging import judge_pairs_start
from annotate.work import sweep
from tests import factories
from tests.celery_broker import REDIS_URL, wait_for
from tests.exports.builders import campaign_with_votes
from tests.fakes.fixtures import anthropic_fake_fixture, fake_server_fixture  # noqa: F401
from tests.fakes.judge_fixtures import judge_config, judge_fake_fixture, make_pair  # noqa: F401
from tests.fakes.worker import KillRig
from tests.tasks.test_generation_kill9 import HEARTBEAT


def _database_url() -> str:
    return f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}"


@pytest.mark.slow
def test_a_judge_job_and_an_export_survive_a_killed_worker(
    transactional_db,
    redis_app,
    judge_fake,
    admin_user,
    researcher,
    campaign,
    settings,
    tmp_path,
    export_storage,
):
    pairs = 24
    judge_fake.latency = 0.2
    judge_config(campaign)  # fast mode: one task per verdict, both orders
    for i in range(pairs):
        make_pair(campaign, "A complete, careful answer " + "x" * i, "Short.")
    exported = factories.CampaignFactory(slug="exported")
    campaign_with_votes(exported, pairs=12)  # 36 votes, read at 0.1 s each: about 4 s a build
    env = {
        "ANTHROPIC_API_KEY": "sk-test",
        "ANTHROPIC_BASE_URL": judge_fake.url,
        # The workers' exports storage and scratch are the test's (tests/conftest.py).
        "EXPORT_ROOT": str(export_storage),
        "EXPORT_WORK_DIR": str(settings.EXPORT_WORK_DIR),
        "TEST_EXPORT_ROW_SECONDS": "0.1",
        **HEARTBEAT,
    }
    log = tmp_path / "worker.log"
    rig = KillRig(
        app=redis_app,
        database_url=_database_url(),
        broker_url=REDIS_URL,
        env=env,
        log_path=log,
        celery_app="tests.fakes.slow_exports",
    )
    with rig:
        export = export_create(campaign=exported, actor=researcher, format="trl-dpo-standard")
        job = judge_pairs_start(campaign=campaign, actor=admin_user)
        done = JudgeVerdict.objects.filter(job=job, status=JudgeVerdict.Status.DONE)
        builds = settings.EXPORT_WORK_DIR
        running = JudgeVerdict.objects.filter(job=job, status=JudgeVerdict.Status.RUNNING)
        # One of them claimed a moment ago, so its two calls (0.2 s each) are still under way at
        # the kill: verdicts started together end together, and a poll that saw them a
        # millisecond before they ended would kill a worker with none in flight.
        fresh = running.filter(claimed_at__gte=Now() - timedelta(seconds=0.1))
        wait_for(
            lambda: (
                done.count() >= 1
                and running.count() >= 2
                and fresh.exists()
                and any(builds.glob(f"export-{export.id}-*/*"))
            ),
            timeout=45,
            what="verdicts done and in flight, the export half written",
            interval=0.02,
        )
        rig.kill_doomed()
        in_flight = JudgeVerdict.objects.filter(job=job, status=JudgeVerdict.Status.RUNNING)
        in_flight = in_flight.count()
        assert done.count() < pairs, "the worker finished before it could be killed"
        rig.hand_over()
        notices: set[str] = set()

        def ended() -> bool:
            export.refresh_from_db()
            notices.add(export_lost_work(export))
            judged = JudgeJob.objects.get(id=job.id).status not in ("queued", "running")
            return judged and export.status in ("done", "failed")

        wait_for(ended, timeout=60, what="the judge job and the export to end")

    # The judge: every verdict once, no twin rows, only the calls cut off by the kill repeated.
    job.refresh_from_db()
    assert job.status == JudgeJob.Status.DONE, log.read_text()[-2000:]
    assert JudgeVerdict.objects.filter(campaign=campaign).count() == pairs
    assert done.count() == pairs
    assert 2 * pairs <= judge_fake.judge_calls <= 2 * (pairs + in_flight)
    recovered = WorkRecovery.objects.filter(kind="verdict", job_id=job.id)
    assert sum(r.rows for r in recovered) == in_flight > 0
    # The export: rebuilt from scratch by the other worker, with one folder and no half build left
    # behind; the zip is whole and loads. The page said what happened while it ran.
    assert (export.status, export.attempts, export.error) == ("done", 2, ""), log.read_text()[
        -2000:
    ]
    assert any("being built again from scratch (attempt 2 of 3)" in n for n in notices), notices
    assert export_lost_work(export).startswith("Built again after the worker building it stopped")
    assert Export.objects.count() == 1
    assert list(builds.iterdir()) == []  # the killed build's half folder was removed too
    assert [p.name for p in (export_storage / exported.slug).iterdir()] == [
        f"export-{export.id}.zip"
    ]
    with zipfile.ZipFile(export_storage / export.path) as archive:
        lines = archive.read(f"{exported.slug}-export-{export.id}/data/train.jsonl").splitlines()
    assert len(lines) == export.row_count > 0
    assert WorkRecovery.objects.filter(kind="export", job_id=export.id).count() == 1


@pytest.mark.slow
def test_a_live_worker_in_a_long_call_is_never_sent_twice(
    transactional_db, redis_app, anthropic_fake, admin_user, settings, monkeypatch
):
    # Each call takes 4 s, longer than the 1 s after which a silent worker counts as dead, and the
    # worker has threads to spare: a claim sent again while its call runs would be called twice.
    settings.WORK_HEARTBEAT_SECONDS = 0.2
    settings.WORK_DEAD_AFTER_SECONDS = 1
    settings.WORK_SWEEP_SECONDS = 0.2
    settings.PROVIDER_TIMEOUT_SECONDS = 30
    anthropic_fake.latency = 4.0
    campaign = factories.CampaignFactory(slug="slow-calls", status=Campaign.Status.DRAFT)
    factories.PromptFactory.create_batch(3, campaign=campaign)
    factories.GeneratorFactory(
        campaign=campaign, name="claude", provider=Generator.Provider.ANTHROPIC, model="m"
    )
    sweeps = []
    original = sweep.work_sweep
    monkeypatch.setattr(sweep, "work_sweep", lambda: sweeps.append(original()))
    with start_worker(redis_app, pool="threads", concurrency=6, perform_ping_check=False):
        job = generation_start(campaign=campaign, actor=admin_user)
        wait_for(
            lambda: not GenerationJob.objects.get(id=job.id).is_active,
            timeout=30,
            what="the slow job to end",
        )

    job.refresh_from_db()
    assert job.status == GenerationJob.Status.DONE
    assert len(sweeps) >= 5  # the worker swept all along, beside its calls
    assert set(Candidate.objects.filter(job=job).values_list("attempts", flat=True)) == {1}
    assert sorted(anthropic_fake.served.values()) == [1, 1, 1]  # each prompt asked once
    assert not WorkRecovery.objects.exists()
