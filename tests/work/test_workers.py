"""The heartbeat: a serving process registers, stamps its claims with its id, beats while its calls
run, and is forgotten when it stops; the lease lets one process per period sweep."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from annotate.models import Campaign, Candidate, WorkerProcess, WorkLease
from annotate.services.generation import CANDIDATES, generation_start
from annotate.work import claims, workers
from tests import factories
from tests.celery_broker import wait_for


@pytest.fixture
def quick(settings):
    settings.WORK_HEARTBEAT_SECONDS = 0.05
    settings.WORK_SWEEP_SECONDS = 60  # sweeps are tests/work/test_sweep.py's
    yield
    workers.stop_serving()


def test_it_stamps_claims_with_a_live_row_that_beats_and_goes_away(transactional_db, quick):
    campaign = factories.CampaignFactory(slug="beat", status=Campaign.Status.DRAFT)
    factories.PromptFactory(campaign=campaign)
    factories.GeneratorFactory(campaign=campaign, model="demo-concise")
    job = generation_start(campaign=campaign, actor=None)
    assert workers.current() is None  # not serving: claims carry no holder

    with workers.serving() as worker_id:
        row = WorkerProcess.objects.get(id=worker_id)
        assert (row.pid, row.lost_at) == (__import__("os").getpid(), None)
        candidate = job.candidates.get()
        assert claims.claim(CANDIDATES, candidate.id) is not None
        assert Candidate.objects.get(id=candidate.id).claimed_by == worker_id
        first = row.beat_at
        wait_for(
            lambda: WorkerProcess.objects.get(id=worker_id).beat_at > first,
            timeout=5,
            what="a beat",
        )
    assert not WorkerProcess.objects.filter(id=worker_id).exists()
    assert workers.current() is None


def test_a_process_taken_for_dead_clears_its_mark_when_it_beats_again(transactional_db, quick):
    with workers.serving() as worker_id:
        WorkerProcess.objects.filter(id=worker_id).update(
            beat_at=timezone.now() - timedelta(hours=1), lost_at=timezone.now()
        )
        wait_for(
            lambda: WorkerProcess.objects.get(id=worker_id).lost_at is None,
            timeout=5,
            what="the next beat",
        )


def test_a_forgotten_process_registers_again_under_a_new_id(transactional_db, quick):
    with workers.serving() as worker_id:
        WorkerProcess.objects.filter(id=worker_id).delete()  # the sweep forgot it after a stall
        wait_for(lambda: workers.current() != worker_id, timeout=5, what="a new registration")
        assert WorkerProcess.objects.filter(id=workers.current()).exists()


def test_the_lease_goes_to_one_caller_per_period(transactional_db):
    results: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def ask() -> None:
        start.wait()
        won = workers.lease("sweep", period=60, worker_id=None)
        with lock:
            results.append(won)
        connection.close()

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1
    assert not workers.lease("sweep", period=60, worker_id=None)  # within the period
    WorkLease.objects.update(ran_at=timezone.now() - timedelta(seconds=61))
    assert workers.lease("sweep", period=60, worker_id=None)  # the next period
