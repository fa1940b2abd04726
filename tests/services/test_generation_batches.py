"""Cheap mode: Message Batches submitted, polled and mapped back by custom_id, with the real SDK."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db.models import F
from django.utils import timezone

from annotate import tasks
from annotate.models import Campaign, Candidate, GenerationJob, Generator
from annotate.providers.anthropic_api import AnthropicProvider
from annotate.services.generation import generation_cancel, generation_resume, generation_start
from annotate.services.generation_batches import (
    batch_cancel,
    batch_poll,
    batches_recover,
    batches_submit,
)
from annotate.work.sweep import work_sweep
from tests import factories
from tests.fakes.fixtures import anthropic_fake_fixture, fake_server_fixture  # noqa: F401


@pytest.fixture
def cheap_job(db, anthropic_fake, admin_user, settings, django_capture_on_commit_callbacks):
    settings.GENERATION_BATCH_CHUNK = 3
    campaign = factories.CampaignFactory(slug="cheap", status=Campaign.Status.DRAFT)
    factories.PromptFactory.create_batch(4, campaign=campaign)
    factories.GeneratorFactory(
        campaign=campaign,
        name="claude",
        provider=Generator.Provider.ANTHROPIC,
        model="claude-sonnet-4-6",
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = generation_start(campaign=campaign, actor=admin_user, mode=GenerationJob.Mode.CHEAP)
    assert len(callbacks) == 1  # one submit task, no per-candidate tasks
    return job


def _poll_all(job: GenerationJob) -> None:
    job.refresh_from_db()
    for entry in list(job.provider_batch_ids):
        if not entry.get("collected"):
            assert batch_poll(job_id=job.id, batch_id=entry["id"]) is None


def test_it_submits_chunks_with_candidate_ids_and_writes_results_at_half_price(
    cheap_job, anthropic_fake
):
    assert batches_submit(job_id=cheap_job.id).batches == 2  # 4 requests in chunks of 3
    cheap_job.refresh_from_db()
    assert [e["size"] for e in cheap_job.provider_batch_ids] == [3, 1]
    sent = [
        r["custom_id"]
        for _, path, body in anthropic_fake.requests
        if path == "/v1/messages/batches"
        for r in body["requests"]
    ]
    assert sorted(map(int, sent)) == sorted(cheap_job.candidates.values_list("id", flat=True))
    assert set(cheap_job.candidates.values_list("status", flat=True)) == {Candidate.Status.RUNNING}
    _poll_all(cheap_job)
    cheap_job.refresh_from_db()
    assert cheap_job.status == GenerationJob.Status.DONE
    for c in cheap_job.candidates.all():
        assert c.status == Candidate.Status.DONE and c.html
        full = (Decimal(3) * c.input_tokens + Decimal(15) * c.output_tokens) / 10**6
        assert c.cost_usd == (full * Decimal("0.5")).quantize(Decimal("0.000001"))
    # A redelivered poll after collection changes nothing and asks the API nothing.
    calls = len(anthropic_fake.requests)
    assert batch_poll(job_id=cheap_job.id, batch_id=cheap_job.provider_batch_ids[0]["id"]) is None
    assert len(anthropic_fake.requests) == calls


def test_it_polls_again_while_the_batch_is_in_progress(cheap_job, anthropic_fake, settings):
    settings.GENERATION_BATCH_POLL_SECONDS = 7
    anthropic_fake.batch_ready_after = 60
    batches_submit(job_id=cheap_job.id)
    cheap_job.refresh_from_db()
    assert batch_poll(job_id=cheap_job.id, batch_id=cheap_job.provider_batch_ids[0]["id"]) == 7


def test_it_resubmits_errored_and_expired_items_and_fails_invalid_ones(
    cheap_job, anthropic_fake, django_capture_on_commit_callbacks
):
    ids = sorted(cheap_job.candidates.values_list("id", flat=True))
    bad = {str(ids[0]): "errored_529", str(ids[1]): "expired", str(ids[2]): "errored_400"}
    anthropic_fake.batch_item_rule = lambda cid, params: bad.pop(cid, None)
    batches_submit(job_id=cheap_job.id)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _poll_all(cheap_job)
    assert len(callbacks) == 1  # a new submission for the two retryable items
    statuses = dict(cheap_job.candidates.values_list("id", "status"))
    assert statuses[ids[0]] == statuses[ids[1]] == Candidate.Status.PENDING
    failed = Candidate.objects.get(id=ids[2])
    assert failed.status == Candidate.Status.FAILED and "invalid_request_error" in failed.error
    assert batches_submit(job_id=cheap_job.id).batches == 1
    _poll_all(cheap_job)
    cheap_job.refresh_from_db()
    assert cheap_job.status == GenerationJob.Status.DONE  # done, with one visible failure
    assert "invalid_request_error" in cheap_job.error
    assert Candidate.objects.get(id=ids[0]).attempts == 2


def test_it_cancels_an_open_batch_and_keeps_nothing_half_done(
    cheap_job, anthropic_fake, admin_user
):
    anthropic_fake.batch_ready_after = 60
    batches_submit(job_id=cheap_job.id)
    generation_cancel(campaign=cheap_job.campaign, actor=admin_user)
    cheap_job.refresh_from_db()
    for entry in cheap_job.provider_batch_ids:
        batch_cancel(job_id=cheap_job.id, batch_id=entry["id"])
    _poll_all(cheap_job)
    assert set(cheap_job.candidates.values_list("status", flat=True)) == {
        Candidate.Status.CANCELLED
    }
    assert anthropic_fake.calls_to("/v1/messages") == 0


def test_it_fails_the_whole_submission_visibly_without_a_key(cheap_job, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    batches_submit(job_id=cheap_job.id)
    cheap_job.refresh_from_db()
    assert cheap_job.status == GenerationJob.Status.FAILED
    assert cheap_job.error.startswith("ANTHROPIC_API_KEY is not set")


def test_it_resumes_rows_of_a_batch_that_was_never_recorded_but_keeps_open_batches(
    cheap_job, anthropic_fake, admin_user, settings, django_capture_on_commit_callbacks
):
    anthropic_fake.batch_ready_after = 60
    batches_submit(job_id=cheap_job.id)  # two recorded, open batches (3 + 1)
    lost = factories.PromptFactory(campaign=cheap_job.campaign)
    orphan = factories.CandidateFactory(
        prompt=lost,
        generator=cheap_job.campaign.generators.get(),
        job=cheap_job,
        status=Candidate.Status.RUNNING,
        text="",
        claimed_at=timezone.now() - timedelta(hours=2),  # a worker died after submitting
    )
    Candidate.objects.filter(job=cheap_job).exclude(id=orphan.id).update(
        claimed_at=F("claimed_at") - timedelta(hours=2)
    )
    cheap_job.refresh_from_db()
    # Keep the recorded batches' stamps in step with their rows.
    cheap_job.provider_batch_ids = [
        {
            **e,
            "claimed_at": (
                datetime.fromisoformat(e["claimed_at"]) - timedelta(hours=2)
            ).isoformat(),
        }
        for e in cheap_job.provider_batch_ids
    ]
    cheap_job.save(update_fields=["provider_batch_ids"])
    settings.WORK_STALE_SECONDS = 60
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        generation_resume(campaign=cheap_job.campaign, actor=admin_user)
    orphan.refresh_from_db()
    assert orphan.status == Candidate.Status.PENDING
    assert cheap_job.candidates.filter(status=Candidate.Status.RUNNING).count() == 4
    assert len(callbacks) == 1 + 2  # one submission for the orphan, one poll per open batch


# --- a worker that dies around batches.create (the submission's answer is lost) ---------------


class WorkerDied(BaseException):
    """kill -9 in the middle of a task: nothing after this point runs, nothing is rolled back."""


def _die_around_submit(monkeypatch, *, after_the_call: bool) -> None:
    original = AnthropicProvider.batch_submit

    def submit(self, requests):
        if after_the_call:
            original(self, requests)  # the provider has the batch (and will charge for it)
        raise WorkerDied

    monkeypatch.setattr(AnthropicProvider, "batch_submit", submit)


def _age_submission(job: GenerationJob, seconds: float) -> None:
    """Move the lost submission's stamp (and its rows' claims) ``seconds`` into the past."""
    job.refresh_from_db()
    (entry,) = [e for e in job.provider_batch_ids if e["id"] is None]
    token = datetime.fromisoformat(entry["claimed_at"])
    older = token - timedelta(seconds=seconds)
    job.candidates.filter(claimed_at=token).update(claimed_at=older)
    job.provider_batch_ids = [
        {**e, "claimed_at": older.isoformat()} if e is entry else e for e in job.provider_batch_ids
    ]
    job.save(update_fields=["provider_batch_ids"])


def _submitted_batches(fake) -> int:
    return sum(1 for m, p, _ in fake.requests if m == "POST" and p == "/v1/messages/batches")


def test_a_batch_whose_id_was_lost_is_found_not_paid_for_twice(
    cheap_job, anthropic_fake, monkeypatch, settings, django_capture_on_commit_callbacks
):
    settings.WORK_STALE_SECONDS = 60
    with monkeypatch.context() as patch, pytest.raises(WorkerDied):
        _die_around_submit(patch, after_the_call=True)
        batches_submit(job_id=cheap_job.id)
    cheap_job.refresh_from_db()
    assert [e["id"] for e in cheap_job.provider_batch_ids] == [None]  # recorded before the call
    assert cheap_job.candidates.filter(status=Candidate.Status.RUNNING).count() == 3

    # Within the window nothing is decided: the worker might still be waiting for the reply.
    assert batches_recover(job_id=cheap_job.id) == 0
    _age_submission(cheap_job, 120)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert batches_recover(job_id=cheap_job.id) == 1
    cheap_job.refresh_from_db()
    (entry,) = cheap_job.provider_batch_ids
    assert entry["id"] == next(iter(anthropic_fake.batches))  # the batch the provider accepted
    assert len(callbacks) == 1  # its poll
    _poll_all(cheap_job)
    batches_submit(job_id=cheap_job.id)  # the chunk the dead worker never reached
    _poll_all(cheap_job)

    cheap_job.refresh_from_db()
    assert cheap_job.status == GenerationJob.Status.DONE
    assert _submitted_batches(anthropic_fake) == 2  # 3 + 1, nothing submitted twice
    assert sorted(anthropic_fake.served.values()) == [1, 1, 1, 1]


def test_a_submission_that_never_reached_the_provider_is_submitted_again(
    cheap_job, anthropic_fake, monkeypatch, settings, django_capture_on_commit_callbacks
):
    settings.WORK_STALE_SECONDS = 60
    with monkeypatch.context() as patch, pytest.raises(WorkerDied):
        _die_around_submit(patch, after_the_call=False)
        batches_submit(job_id=cheap_job.id)
    _age_submission(cheap_job, 120)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert batches_recover(job_id=cheap_job.id) == 1
    cheap_job.refresh_from_db()
    assert cheap_job.provider_batch_ids == []
    assert set(cheap_job.candidates.values_list("status", flat=True)) == {Candidate.Status.PENDING}
    assert len(callbacks) == 1  # a new submission
    batches_submit(job_id=cheap_job.id)
    _poll_all(cheap_job)
    cheap_job.refresh_from_db()
    assert cheap_job.status == GenerationJob.Status.DONE
    assert sorted(anthropic_fake.served.values()) == [1, 1, 1, 1]


def test_the_sweep_and_resume_leave_a_lost_submission_to_the_recovery(
    cheap_job, anthropic_fake, admin_user, monkeypatch, settings, django_capture_on_commit_callbacks
):
    settings.WORK_STALE_SECONDS = 60
    with monkeypatch.context() as patch, pytest.raises(WorkerDied):
        _die_around_submit(patch, after_the_call=True)
        batches_submit(job_id=cheap_job.id)
    _age_submission(cheap_job, 120)
    sent = []
    monkeypatch.setattr(
        tasks.generation_batch_recover_task, "delay", lambda job_id: sent.append(job_id)
    )
    submits = []
    monkeypatch.setattr(
        tasks.generation_batch_submit_task, "delay", lambda job_id: submits.append(job_id)
    )
    with django_capture_on_commit_callbacks(execute=True):
        work_sweep()
    with django_capture_on_commit_callbacks(execute=True):
        generation_resume(campaign=cheap_job.campaign, actor=admin_user)
    # Neither put the rows of the lost submission back into a new batch; both asked for recovery.
    assert cheap_job.candidates.filter(status=Candidate.Status.RUNNING).count() == 3
    assert sent == [cheap_job.id, cheap_job.id]
    assert submits == [cheap_job.id]  # resume submits the row the dead worker never reached
