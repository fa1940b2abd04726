"""The sweep, for any kind: a dead worker's claims come back at once (a live one's never), the
messages it held without claiming are sent again once, a row whose worker keeps dying fails
visibly, and an export whose builder died is queued to be built again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from annotate import tasks
from annotate.models import (
    Campaign,
    Candidate,
    Export,
    GenerationJob,
    WorkerProcess,
    WorkRecovery,
)
from annotate.services.generation import CANDIDATES, generation_start
from annotate.work import claims
from annotate.work.progress import lost_work
from annotate.work.sweep import work_sweep
from tests import factories


@pytest.fixture
def sent(monkeypatch):
    out: list = []
    monkeypatch.setattr(
        tasks.generation_candidate_task, "delay", lambda candidate_id: out.append(candidate_id)
    )
    monkeypatch.setattr(
        tasks.export_run_task, "delay", lambda export_id: out.append(("export", export_id))
    )
    return out


@pytest.fixture
def job(db, settings):
    settings.WORK_DEAD_AFTER_SECONDS = 10  # the stale window stays at its default (390 s)
    campaign = factories.CampaignFactory(slug="sweep-dead", status=Campaign.Status.DRAFT)
    factories.PromptFactory.create_batch(6, campaign=campaign)
    factories.GeneratorFactory(campaign=campaign, model="demo-concise")
    return generation_start(campaign=campaign, actor=None)


def _worker(*, dead: bool) -> WorkerProcess:
    beat = timezone.now() - timedelta(seconds=11 if dead else 0)
    return WorkerProcess.objects.create(hostname="h", pid=1, beat_at=beat)


def _hold(rows, worker: WorkerProcess, *, seconds_ago: float = 1, status="running") -> None:
    rows.update(
        status=status,
        claimed_by=worker.id,
        claimed_at=timezone.now() - timedelta(seconds=seconds_ago),
        attempts=1,
    )


def _sweep(capture):
    with capture(execute=True):
        return work_sweep()


def test_a_dead_workers_claims_come_back_at_once_and_a_live_ones_stay(
    job, sent, django_capture_on_commit_callbacks
):
    dead, live = _worker(dead=True), _worker(dead=False)
    rows = list(job.candidates.order_by("id"))
    _hold(Candidate.objects.filter(id=rows[0].id), dead)
    _hold(Candidate.objects.filter(id=rows[1].id), live, seconds_ago=120)  # a slow call

    result = _sweep(django_capture_on_commit_callbacks)

    assert result.lost_workers == [dead.id]
    # The dead one's claim, and (once, for the death) the rows the queue had moved past.
    assert sorted(sent) == [rows[0].id]
    assert Candidate.objects.get(id=rows[0].id).status == "pending"
    assert Candidate.objects.get(id=rows[1].id).status == "running"
    (recovery,) = WorkRecovery.objects.all()
    assert (recovery.kind, recovery.job_id, recovery.worker_id, recovery.rows) == (
        "candidate",
        job.id,
        dead.id,
        1,
    )
    notice = lost_work(CANDIDATES, job.id, active=True)
    assert notice.resent == 1 and "the 1 responses it held were sent again" in notice.message
    # Nothing new the second time: the death was handled, and the live claim is still live.
    sent.clear()
    assert _sweep(django_capture_on_commit_callbacks).lost_workers == []
    assert sent == []


def test_at_a_death_it_resends_the_retries_and_prefetched_messages_it_may_have_held(
    job, sent, django_capture_on_commit_callbacks
):
    dead = _worker(dead=True)
    live = _worker(dead=False)
    first, retrying, prefetched, claimed, waiting, _ = list(job.candidates.order_by("id"))
    # Handed back after a 429: its retry message sits in some worker's memory until its countdown.
    _hold(Candidate.objects.filter(id=retrying.id), live, status="pending")
    Candidate.objects.filter(id=first.id).update(status="done", claimed_at=timezone.now())
    _hold(Candidate.objects.filter(id=claimed.id), live)
    # ``prefetched`` was never claimed but the queue has moved past it (``claimed`` came later):
    # its message was in a worker's hands. ``waiting`` and the last one may still be queued.

    _sweep(django_capture_on_commit_callbacks)

    assert sorted(sent) == sorted([retrying.id, prefetched.id])
    assert not WorkRecovery.objects.exists()  # the dead worker held no claim
    assert WorkerProcess.objects.get(id=dead.id).lost_at is not None


def test_a_row_whose_worker_died_every_time_fails_visibly(
    job, sent, django_capture_on_commit_callbacks
):
    dead = _worker(dead=True)
    rows = job.candidates.all()
    _hold(rows, dead)
    rows.update(attempts=CANDIDATES.max_attempts)

    result = _sweep(django_capture_on_commit_callbacks)

    assert result.failed["candidate"] == 6 and sent == []
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.FAILED
    assert job.error.startswith(f"Gave up after {CANDIDATES.max_attempts} attempts: the worker")


def test_an_export_whose_builder_died_is_queued_again_then_given_up(
    db, campaign, sent, settings, django_capture_on_commit_callbacks
):
    settings.WORK_DEAD_AFTER_SECONDS = 10
    dead = _worker(dead=True)
    export = Export.objects.create(campaign=campaign, format="trl-kto")
    _hold(Export.objects.filter(id=export.id), dead)

    _sweep(django_capture_on_commit_callbacks)
    export.refresh_from_db()
    assert (export.status, sent) == ("queued", [("export", export.id)])

    sent.clear()
    _hold(Export.objects.filter(id=export.id), _worker(dead=True))
    Export.objects.filter(id=export.id).update(attempts=3)
    _sweep(django_capture_on_commit_callbacks)
    export.refresh_from_db()
    assert (export.status, sent) == ("failed", [])
    assert export.error.startswith("Gave up after 3 attempts: the worker holding it stopped")


def test_a_late_write_of_a_taken_over_claim_changes_nothing(job):
    row = job.candidates.first()
    _hold(Candidate.objects.filter(id=row.id), _worker(dead=True))
    old = Candidate.objects.get(id=row.id).claimed_at
    new = claims.claim(CANDIDATES, row.id)
    assert new is not None and new != old
    assert not claims.held(CANDIDATES, row.id, old).update(status="done", text="late twin")
    assert Candidate.objects.get(id=row.id).text == ""
