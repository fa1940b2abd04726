"""The judge's sweep sends again the one-at-a-time verdicts whose message was lost (a dead worker's
claims and held retries, an emptied broker), ends jobs with nothing left, and leaves alone what is
merely waiting its turn and what Message Batches own. Sends are captured."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from annotate import tasks
from annotate.models import JudgeJob, JudgeVerdict
from annotate.services.judging import judge_pairs_start, verdict_claim
from annotate.services.judging_batch import judge_batch_submit
from annotate.work.sweep import work_sweep
from tests.fakes.judge_fixtures import judge_config, judge_fake_fixture, make_pair  # noqa: F401

STALE = 60


@pytest.fixture
def sent(monkeypatch, settings, judge_fake):  # judge_fake: a key and a server, never called here
    settings.WORK_STALE_SECONDS = STALE
    out: list[int] = []
    monkeypatch.setattr(
        tasks.judge_verdict_task, "delay", lambda **kw: out.append(kw["verdict_id"])
    )
    monkeypatch.setattr(tasks.judge_batch_submit_task, "delay", lambda **kw: None)
    return out


def _start(campaign, admin_user, capture, *, pairs=3, mode="fast") -> JudgeJob:
    judge_config(campaign, mode=mode)
    for i in range(pairs):
        make_pair(campaign, f"A careful answer {i}.", f"Short {i}.")
    with capture(execute=True):
        return judge_pairs_start(campaign=campaign, actor=admin_user, mode=mode)


def _sweep(capture) -> tuple[int, int]:
    """(verdicts sent again, judge jobs ended)"""
    with capture(execute=True):
        result = work_sweep()
    return result.resent["verdict"], result.ended["verdict"]


def _age(job: JudgeJob, seconds: float, verdicts=None) -> None:
    past = timezone.now() - timedelta(seconds=seconds)
    rows = JudgeVerdict.objects.filter(job=job) if verdicts is None else verdicts
    rows.exclude(claimed_at=None).update(claimed_at=past)
    JudgeJob.objects.filter(id=job.id).update(created_at=past)


def test_it_sends_a_dead_workers_claims_again_and_nothing_else(
    campaign, admin_user, sent, django_capture_on_commit_callbacks
):
    job = _start(campaign, admin_user, django_capture_on_commit_callbacks)
    sent.clear()
    dead, live, _waiting = JudgeVerdict.objects.filter(job=job)
    verdict_claim(verdict_id=dead.id)
    verdict_claim(verdict_id=live.id)
    _age(job, STALE + 1, verdicts=JudgeVerdict.objects.filter(id=dead.id))

    assert _sweep(django_capture_on_commit_callbacks) == (1, 0)
    assert sent == [dead.id]  # not the live claim, not the one waiting its turn
    dead.refresh_from_db()
    assert dead.status == JudgeVerdict.Status.PENDING
    # Marked: the next sweep inside the window sends nothing.
    assert _sweep(django_capture_on_commit_callbacks) == (0, 0) and sent == [dead.id]
    # The message sent again is claimed like any other.
    assert verdict_claim(verdict_id=dead.id) is not None


def test_it_sends_everything_left_when_the_job_has_been_silent(
    campaign, admin_user, sent, django_capture_on_commit_callbacks
):
    job = _start(campaign, admin_user, django_capture_on_commit_callbacks)
    sent.clear()
    _age(job, STALE + 1)  # e.g. the broker came back empty: nothing was ever claimed
    assert _sweep(django_capture_on_commit_callbacks) == (3, 0)
    assert sorted(sent) == sorted(JudgeVerdict.objects.filter(job=job).values_list("id", flat=True))


def test_it_ends_a_job_with_nothing_left(
    campaign, admin_user, sent, django_capture_on_commit_callbacks
):
    job = _start(campaign, admin_user, django_capture_on_commit_callbacks, pairs=1)
    JudgeVerdict.objects.filter(job=job).update(status=JudgeVerdict.Status.DONE)
    assert _sweep(django_capture_on_commit_callbacks) == (0, 1)
    job.refresh_from_db()
    assert job.status == JudgeJob.Status.DONE


def test_it_leaves_message_batches_to_their_poll(
    campaign, admin_user, sent, monkeypatch, django_capture_on_commit_callbacks
):
    polls: list[str] = []
    monkeypatch.setattr(
        tasks.judge_batch_poll_task,
        "apply_async",
        lambda kwargs, countdown: polls.append(kwargs["batch_id"]),
    )
    job = _start(campaign, admin_user, django_capture_on_commit_callbacks, mode="cheap")
    with django_capture_on_commit_callbacks(execute=True):
        judge_batch_submit(job_id=job.id)
    # Hours in a batch, by design: the verdicts' claims, the batch's stamp and the job all old.
    job.refresh_from_db()
    (entry,) = job.provider_batch_ids
    past = timezone.now() - timedelta(seconds=STALE + 40)
    JudgeVerdict.objects.filter(job=job).update(claimed_at=past)
    JudgeJob.objects.filter(id=job.id).update(
        created_at=past, provider_batch_ids=[{**entry, "claimed_at": past.isoformat()}]
    )

    assert _sweep(django_capture_on_commit_callbacks) == (0, 0)
    assert sent == []  # nothing sent to the one-at-a-time path
    assert set(JudgeVerdict.objects.filter(job=job).values_list("status", flat=True)) == {
        JudgeVerdict.Status.RUNNING
    }
    # Its poll is sent again, since none came for longer than the window (a dead worker's, say).
    assert polls == [entry["id"], entry["id"]]
