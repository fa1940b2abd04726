"""A real Celery worker on Redis judges a campaign through the real Anthropic SDK and the fake
server: fast mode with a provider fault and a malformed answer, and cheap mode through a Batch."""

from __future__ import annotations

import pytest
from celery.contrib.testing.worker import start_worker
from kombu import pools as kombu_pools

from annotate.models import JudgeJob, JudgeVerdict
from annotate.services.judging import judge_pairs_start
from tests.celery_broker import wait_for
from tests.fakes.judge_fixtures import judge_config, judge_fake_fixture, make_pair  # noqa: F401


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["fast", "cheap"])
def test_a_real_worker_judges_every_pair_exactly_once(
    transactional_db, redis_app, judge_fake, admin_user, campaign, mode
):
    # A worker stopped by an earlier test closes kombu's process-wide producer pools; start afresh.
    kombu_pools.reset()
    judge_config(campaign, mode=mode)
    judge_fake.retry_after = 0.1
    pairs = [
        make_pair(campaign, "A complete, careful answer " + "x" * i, "Short.") for i in range(4)
    ]
    biased = make_pair(campaign, "[[first]] one", "the other one")
    if mode == "fast":
        judge_fake.add_faults("529")
        judge_fake.add_verdict_faults("malformed")

    with start_worker(redis_app, pool="threads", concurrency=2, perform_ping_check=False):
        job = judge_pairs_start(campaign=campaign, actor=admin_user)
        wait_for(
            lambda: JudgeJob.objects.get(id=job.id).status in ("done", "failed"),
            timeout=90,
            what="the worker",
        )

    job.refresh_from_db()
    assert job.status == "done" and job.total == 5
    assert JudgeVerdict.objects.filter(job=job, status="done").count() == 5
    assert all(JudgeVerdict.objects.get(pair=p).choice == "a" for p in pairs)
    assert JudgeVerdict.objects.get(pair=biased).choice == "inconsistent"
    # Two orders per pair, plus one re-ask of the malformed answer in fast mode.
    assert judge_fake.judge_calls == 10 + (1 if mode == "fast" else 0)
    if mode == "cheap":
        assert len(job.provider_batch_ids) == 1
        assert judge_fake.calls_to("/v1/messages") == 0
