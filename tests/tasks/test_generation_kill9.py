"""kill -9 a worker subprocess in the middle of a job; a successor takes over, and the dead worker's
work comes back either by the admin's Resume or with nobody pressing anything: the successor's sweep
sees the dead worker's heartbeat stop and sends its work again. Every candidate is generated exactly
once (the unique key makes duplicate rows impossible; the fake server's per-prompt counter shows how
many provider calls were repeated, at most the calls in flight at the kill), and the progress says
that a worker was lost."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from annotate.models import Campaign, Candidate, GenerationJob, Generator, WorkRecovery
from annotate.selectors.generation import generation_progress
from annotate.services.generation import generation_resume, generation_start
from tests import factories
from tests.celery_broker import REDIS_URL, wait_for
from tests.fakes.fixtures import fake_server_fixture  # noqa: F401
from tests.fakes.worker import KillRig

PROMPTS = 60
CONCURRENCY = 4
# The workers beat every half second and are dead after 3 s without a beat (in production: every
# 3 s, dead after 12 s); the stale window stays at its production value, so only the heartbeat can
# bring the dead worker's claims back within the test.
HEARTBEAT = {
    "WORK_HEARTBEAT_SECONDS": "0.5",
    "WORK_DEAD_AFTER_SECONDS": "3",
    "WORK_SWEEP_SECONDS": "0.5",
}


def done_count(job) -> int:
    return Candidate.objects.filter(job=job, status=Candidate.Status.DONE).count()


@pytest.mark.slow
@pytest.mark.parametrize("recovery", ["resume", "heartbeat"])
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
    env = {"ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": fake_server.url}
    if recovery == "heartbeat":
        env.update(HEARTBEAT)
    database_url = f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}"
    log = tmp_path / "worker.log"
    notices: set[str] = set()

    rig = KillRig(
        app=redis_app, database_url=database_url, broker_url=REDIS_URL, env=env, log_path=log
    )
    with rig:
        job = generation_start(campaign=campaign, actor=admin_user)
        running = Candidate.objects.filter(job=job, status=Candidate.Status.RUNNING)
        wait_for(
            lambda: done_count(job) >= PROMPTS // 4 and running.count() >= 2,
            timeout=45,
            what="a quarter done, calls in flight",
            interval=0.02,
        )
        rig.kill_doomed()
        at_kill = done_count(job)
        in_flight = Candidate.objects.filter(job=job, status=Candidate.Status.RUNNING).count()
        assert at_kill < PROMPTS, "the worker finished before it could be killed"

        if recovery == "resume":
            # The dead worker's claims are stale after a second here; resume sends them again,
            # then the successor takes over the queue. (Resuming after it had started would also
            # re-send its own first claims, slow while it imports the SDK.)
            settings.WORK_STALE_SECONDS = 1
            time.sleep(1.1)
            generation_resume(campaign=campaign, actor=admin_user)
        rig.hand_over()

        def ended() -> bool:
            job.refresh_from_db()
            lost = generation_progress(job=job).lost_work
            if lost is not None:
                notices.add(lost.message)
            return not job.is_active

        wait_for(ended, timeout=60, what="the job to end", interval=0.1)

    job.refresh_from_db()
    assert job.status == GenerationJob.Status.DONE, log.read_text()[-2000:]
    candidates = Candidate.objects.filter(job=job)
    lost = candidates.exclude(status=Candidate.Status.DONE).count()
    assert (candidates.count(), lost) == (PROMPTS, 0)
    assert len(fake_server.served) == PROMPTS  # every prompt was answered
    repeated_calls = sum(fake_server.served.values()) - PROMPTS
    # Only calls cut off by the kill may have been paid twice.
    assert repeated_calls <= in_flight
    if recovery == "heartbeat":
        # The successor's sweep found the doomed worker dead and sent its claims again, and the
        # progress said so while the job ran.
        recovered = WorkRecovery.objects.filter(kind="candidate", job_id=job.id)
        assert sum(r.rows for r in recovered) == in_flight > 0
        assert any("A worker stop" in notice for notice in notices), notices
    print(
        f"kill -9 after {at_kill}/{PROMPTS} ({recovery}): {in_flight} in flight, 0 lost, "
        f"0 duplicated rows, {repeated_calls} repeated provider calls"
    )
