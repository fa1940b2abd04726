"""The periodic sweep sends again the work whose message was lost (a dead worker's claims and held
retries, an emptied broker) and ends jobs with nothing left, without sending what is merely waiting
its turn. Sends are captured; the task bodies are called directly, as a worker would."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from annotate import tasks
from annotate.models import Campaign, Candidate, GenerationJob, Generator
from annotate.services.generation import candidate_claim, candidate_generate, generation_start
from annotate.work.sweep import work_sweep
from tests import factories

STALE = 60


@pytest.fixture
def job(db, admin_user, settings):
    settings.WORK_STALE_SECONDS = STALE
    campaign = factories.CampaignFactory(slug="sweep", status=Campaign.Status.DRAFT)
    factories.PromptFactory.create_batch(4, campaign=campaign)
    factories.GeneratorFactory(campaign=campaign, name="concise", model="demo-concise")
    return generation_start(campaign=campaign, actor=admin_user)


@pytest.fixture
def sent(monkeypatch):
    """Candidate ids (and batch submits) the sweep sends, once its transaction commits."""
    out: list = []
    monkeypatch.setattr(
        tasks.generation_candidate_task, "delay", lambda candidate_id: out.append(candidate_id)
    )
    monkeypatch.setattr(
        tasks.generation_batch_submit_task, "delay", lambda job_id: out.append(("batch", job_id))
    )
    monkeypatch.setattr(
        tasks.generation_batch_poll_task,
        "apply_async",
        lambda kwargs, countdown: out.append(("poll", kwargs["batch_id"])),
    )
    return out


def _sweep(capture) -> None:
    with capture(execute=True):
        work_sweep()


def _age(job: GenerationJob, seconds: float, rows=None) -> None:
    """Pretend everything the job (or just ``rows`` of it) shows happened ``seconds`` ago."""
    past = timezone.now() - timedelta(seconds=seconds)
    rows = job.candidates.all() if rows is None else rows
    rows.exclude(claimed_at=None).update(claimed_at=past)
    rows.exclude(finished_at=None).update(finished_at=past)
    GenerationJob.objects.filter(id=job.id).update(created_at=past, started_at=past)


def test_it_sends_a_dead_workers_claims_again(job, sent, django_capture_on_commit_callbacks):
    dead, live = [candidate_claim(candidate_id=c.id) for c in job.candidates.all()[:2]]
    _age(job, STALE + 1, rows=job.candidates.filter(id=dead.id))

    _sweep(django_capture_on_commit_callbacks)

    assert sent == [dead.id]  # the live claim and the waiting rows are left alone
    dead.refresh_from_db()
    assert dead.status == Candidate.Status.PENDING
    assert candidate_generate(candidate_id=dead.id).status == "done"
    # The dead worker's late write, had it come, would find its claim gone.
    live.refresh_from_db()
    assert live.status == Candidate.Status.RUNNING


def test_it_sends_a_lost_retry_again_but_not_a_recent_one(
    job, sent, django_capture_on_commit_callbacks
):
    lost, recent = list(job.candidates.all()[:2])
    # Both were handed back after a retryable error; only one has waited longer than the window.
    job.candidates.filter(id__in=[lost.id, recent.id]).update(claimed_at=timezone.now())
    _age(job, STALE + 1, rows=job.candidates.filter(id=lost.id))

    _sweep(django_capture_on_commit_callbacks)

    assert sent == [lost.id]


def test_it_sends_never_started_rows_only_when_the_job_is_silent(
    job, sent, django_capture_on_commit_callbacks
):
    # A recent claim: the queue is moving, rows never claimed are merely waiting their turn.
    candidate_generate(candidate_id=job.candidates.first().id)
    _sweep(django_capture_on_commit_callbacks)
    assert sent == []

    # Nothing has happened in the job for longer than the window: their messages are gone.
    _age(job, STALE + 1)
    _sweep(django_capture_on_commit_callbacks)
    pending = job.candidates.filter(status=Candidate.Status.PENDING)
    assert sorted(sent) == sorted(pending.values_list("id", flat=True)) and len(sent) == 3


def test_it_does_not_send_the_same_rows_again_on_the_next_sweep(
    job, sent, django_capture_on_commit_callbacks
):
    _age(job, STALE + 1)
    _sweep(django_capture_on_commit_callbacks)
    assert len(sent) == 4
    _sweep(django_capture_on_commit_callbacks)
    assert len(sent) == 4  # marked when sent; the next window starts now


def test_duplicate_messages_call_the_provider_once(job, sent, django_capture_on_commit_callbacks):
    _age(job, STALE + 1)
    _sweep(django_capture_on_commit_callbacks)
    # The original messages were not lost after all: every row now has two.
    outcomes = [candidate_generate(candidate_id=cid).status for cid in sent + sent]
    assert outcomes.count("done") == 4 and outcomes.count("skipped") == 4
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.DONE
    assert set(job.candidates.values_list("attempts", flat=True)) == {1}


def test_it_ends_a_job_whose_rows_are_all_finished(job, sent, django_capture_on_commit_callbacks):
    # The last writer died between its write and ending the job.
    job.candidates.update(status=Candidate.Status.DONE, text="x", finished_at=timezone.now())
    result = work_sweep()
    job.refresh_from_db()
    assert (job.status, result.ended["candidate"], sent) == (GenerationJob.Status.DONE, 1, [])


def test_it_leaves_cancelled_and_finished_jobs_alone(job, sent, django_capture_on_commit_callbacks):
    GenerationJob.objects.filter(id=job.id).update(status=GenerationJob.Status.CANCELLED)
    _age(job, STALE + 1)
    _sweep(django_capture_on_commit_callbacks)
    assert sent == []


def test_it_leaves_rows_of_a_submitted_batch_alone(
    db, admin_user, settings, sent, django_capture_on_commit_callbacks
):
    settings.WORK_STALE_SECONDS = STALE
    campaign = factories.CampaignFactory(slug="sweep-cheap", status=Campaign.Status.DRAFT)
    factories.PromptFactory.create_batch(3, campaign=campaign)
    factories.GeneratorFactory(
        campaign=campaign, name="claude", provider=Generator.Provider.ANTHROPIC, model="m"
    )
    job = generation_start(campaign=campaign, actor=admin_user, mode=GenerationJob.Mode.CHEAP)
    long_ago = timezone.now() - timedelta(hours=3)
    in_batch, unrecorded, pending = list(job.candidates.order_by("id"))
    job.candidates.filter(id__in=[in_batch.id, unrecorded.id]).update(
        status=Candidate.Status.RUNNING, claimed_at=long_ago
    )
    job.candidates.filter(id=unrecorded.id).update(claimed_at=long_ago - timedelta(minutes=1))
    job.provider_batch_ids = [
        {"id": "msgbatch_1", "generator": 0, "claimed_at": long_ago.isoformat(), "size": 1}
    ]
    job.save(update_fields=["provider_batch_ids"])
    GenerationJob.objects.filter(id=job.id).update(created_at=long_ago, started_at=long_ago)

    _sweep(django_capture_on_commit_callbacks)

    # The batch's row waits for its poll (sent again: none came for hours); the others go back
    # into a batch (one submit task).
    assert sent == [("batch", job.id), ("poll", "msgbatch_1")]
    statuses = dict(job.candidates.values_list("id", "status"))
    assert statuses[in_batch.id] == Candidate.Status.RUNNING
    assert statuses[unrecorded.id] == statuses[pending.id] == Candidate.Status.PENDING
