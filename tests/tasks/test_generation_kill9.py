"""kill -9 a worker subprocess in the middle of a job; a successor takes over, and the dead worker's
work comes back either by the admin's Resume or by the periodic sweep (celery beat) with nobody
pressing anything: every candidate is generated exactly once (the unique key makes duplicate rows
impossible; the fake server's per-prompt counter shows how many provider calls were repeated, at
most the calls in flight at the kill)."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from annotate.models import Campaign, Candidate, GenerationJob, Generator
from annotate.services.generation import generation_resume, generation_start
from tests import factories
from tests.celery_broker import REDIS_URL, wait_for
from tests.fakes.fixtures import fake_server_fixture  # noqa: F401
from tests.fakes.worker import (
    kill_hard,
    node_name,
    start_beat_process,
    start_worker_process,
    stop,
    wait_ready,
)

PROMPTS = 60
CONCURRENCY = 4


def done_count(job) -> int:
    return Candidate.objects.filter(job=job, status=Candidate.Status.DONE).count()


@pytest.mark.slow
@pytest.mark.parametrize("recovery", ["resume", "sweep"])
def test_it_loses_and_duplicates_nothing_when_a_worker_is_killed(
    recovery, transactional_db, redis_app, fake_server, admin_user, settings, tmp_path
):
    fake_server.latency = 0.2
    campaign = factories.CampaignFactory(slug="kill9", status=Campaign.Status.DRAFT)
    factories.PromptFactory.create_batch(PROMPTS, campaign=campaign)
    factories.GeneratorFactory(
        campaign=campaign,
        name="claude",
        provider=Generator.Provider.ANTHROPIC,
        model="claude-sonnet-4-6",
    )
    worker_env = {"ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": fake_server.url}
    if recovery == "sweep":
        # The dead worker's claims are stale after 2 s (in production: the time limit + 30 s).
        worker_env.update(GENERATION_STALE_SECONDS="2", GENERATION_SWEEP_SECONDS="1")
    database_url = f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}"
    log = tmp_path / "worker.log"

    # Both workers start together (start-up imports the whole project, seconds on a busy machine);
    # the successor listens on an idle queue until the first one is dead, then takes over its queue.
    first = start_worker_process(
        database_url=database_url,
        broker_url=REDIS_URL,
        env=worker_env,
        concurrency=CONCURRENCY,
        name="doomed",
        log_path=log,
    )
    second = start_worker_process(
        database_url=database_url,
        broker_url=REDIS_URL,
        env=worker_env,
        concurrency=CONCURRENCY,
        name="successor",
        log_path=log,
        queues="standby",
    )
    beat = None
    if recovery == "sweep":
        # Nobody presses Resume: beat sends the sweep every second from the start.
        beat = start_beat_process(
            database_url=database_url,
            broker_url=REDIS_URL,
            schedule_path=tmp_path / "beat-schedule",
            env=worker_env,
            log_path=log,
        )
    try:
        wait_ready(redis_app, "doomed")
        job = generation_start(campaign=campaign, actor=admin_user)
        wait_for(
            lambda: done_count(job) >= PROMPTS // 4,
            timeout=45,
            what="a quarter done",
            interval=0.05,
        )
        kill_hard(first)
        at_kill = done_count(job)
        in_flight = Candidate.objects.filter(job=job, status=Candidate.Status.RUNNING).count()
        assert at_kill < PROMPTS, "the worker finished before it could be killed"

        if recovery == "resume":
            # The dead worker's claims are stale after a second (in production: after the task's
            # hard time limit); resume sends them again, then the successor takes over the queue.
            # Resuming after it had started would also re-send its own first claims, slow while it
            # imports the SDK.
            settings.GENERATION_STALE_SECONDS = 1
            time.sleep(1.1)
            generation_resume(campaign=campaign, actor=admin_user)
        wait_ready(redis_app, "successor")
        redis_app.control.add_consumer("celery", destination=[node_name("successor")], reply=True)
        wait_for(
            lambda: not GenerationJob.objects.get(id=job.id).is_active,
            timeout=45,
            what="the job to end",
            interval=0.05,
        )
    finally:
        stop(first)
        stop(second)
        if beat is not None:
            stop(beat)

    job.refresh_from_db()
    assert job.status == GenerationJob.Status.DONE, log.read_text()[-2000:]
    candidates = Candidate.objects.filter(job=job)
    lost = candidates.exclude(status=Candidate.Status.DONE).count()
    assert (candidates.count(), lost) == (PROMPTS, 0)
    assert len(fake_server.served) == PROMPTS  # every prompt was answered
    repeated_calls = sum(fake_server.served.values()) - PROMPTS
    # Only calls cut off by the kill may have been paid twice.
    assert repeated_calls <= in_flight
    print(
        f"kill -9 after {at_kill}/{PROMPTS} ({recovery}): {in_flight} in flight, 0 lost, "
        f"0 duplicated rows, {repeated_calls} repeated provider calls"
    )
