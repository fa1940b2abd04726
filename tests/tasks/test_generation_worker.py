"""A real Celery worker on Redis generates a campaign through the real Anthropic SDK and the fake
server, with faults on the way: retries go through Celery's countdown, and every candidate ends
done exactly once."""

from __future__ import annotations

import pytest
from celery.contrib.testing.worker import start_worker

from annotate.models import Campaign, Candidate, GenerationJob, Generator
from annotate.services.generation import generation_start
from tests import factories
from tests.celery_broker import wait_for
from tests.fakes.fixtures import anthropic_fake_fixture, fake_server_fixture  # noqa: F401


@pytest.mark.slow
def test_it_generates_a_campaign_with_a_real_worker_on_redis(
    transactional_db, redis_app, anthropic_fake, admin_user
):
    campaign = factories.CampaignFactory(slug="worker", status=Campaign.Status.DRAFT)
    factories.PromptFactory.create_batch(6, campaign=campaign)
    factories.GeneratorFactory(
        campaign=campaign,
        name="claude",
        provider=Generator.Provider.ANTHROPIC,
        model="claude-sonnet-4-6",
    )
    factories.GeneratorFactory(
        campaign=campaign, name="demo", model="demo-thorough", samples_per_prompt=2
    )
    anthropic_fake.retry_after = 0.2
    anthropic_fake.add_faults("429", "529", "malformed")

    with start_worker(redis_app, pool="threads", concurrency=4, perform_ping_check=False):
        job = generation_start(campaign=campaign, actor=admin_user)
        wait_for(
            lambda: not GenerationJob.objects.get(id=job.id).is_active,
            timeout=60,
            what="the workers",
        )

    job.refresh_from_db()
    assert job.status == GenerationJob.Status.DONE
    assert job.total == 6 + 12
    assert Candidate.objects.filter(job=job, status=Candidate.Status.DONE).count() == 18
    # Three faulted calls were retried; every prompt was paid for exactly once by the Claude generator.
    assert anthropic_fake.calls_to("/v1/messages") == 6 + 3
    assert sorted(anthropic_fake.served.values()) == [1] * 6
    retried = Candidate.objects.filter(job=job, generator__name="claude", attempts__gt=1)
    assert retried.count() == 3
    assert all(c.html and c.request_id for c in Candidate.objects.filter(job=job))


@pytest.mark.slow
def test_it_runs_a_cheap_job_through_message_batches_with_a_real_worker(
    transactional_db, redis_app, anthropic_fake, admin_user, settings
):
    settings.GENERATION_BATCH_POLL_SECONDS = 0.3
    anthropic_fake.batch_ready_after = 0.5  # the first poll finds it in progress and re-schedules
    campaign = factories.CampaignFactory(slug="cheap-worker", status=Campaign.Status.DRAFT)
    factories.PromptFactory.create_batch(5, campaign=campaign)
    factories.GeneratorFactory(
        campaign=campaign,
        name="claude",
        provider=Generator.Provider.ANTHROPIC,
        model="claude-sonnet-4-6",
    )
    factories.GeneratorFactory(campaign=campaign, name="demo", model="demo-concise")

    with start_worker(redis_app, pool="threads", concurrency=2, perform_ping_check=False):
        job = generation_start(campaign=campaign, actor=admin_user, mode=GenerationJob.Mode.CHEAP)
        wait_for(
            lambda: not GenerationJob.objects.get(id=job.id).is_active,
            timeout=60,
            what="the workers",
        )

    job.refresh_from_db()
    assert job.status == GenerationJob.Status.DONE
    assert Candidate.objects.filter(job=job, status=Candidate.Status.DONE).count() == 10
    assert anthropic_fake.calls_to("/v1/messages") == 0  # Claude went through the batch only
    assert anthropic_fake.calls_to("/v1/messages/batches") == 1
    assert len(job.provider_batch_ids) == 1 and job.provider_batch_ids[0]["collected"]
