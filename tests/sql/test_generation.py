"""annotate/sql/generation.py: the plain-SQL claim keeps the claim rules of the ORM version (which
SQLite uses) and loads what the task needs in one round trip; the write matches only its own
claim; "work left" sees PENDING and RUNNING rows of a job, for any kind."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from annotate.models import Campaign, Candidate, GenerationJob, WorkerProcess
from annotate.services.generation import CANDIDATES, candidate_claim, generation_start
from annotate.sql import generation as generation_sql
from tests import factories
from tests.sql import ON_POSTGRES

# The claim's two paths: the plain SQL (PostgreSQL only) and the ORM's (SQLite's; runs anywhere).
VENDORS = ["postgresql", "sqlite"] if ON_POSTGRES else ["sqlite"]


@pytest.fixture
def job(db, admin_user, settings):
    settings.WORK_STALE_SECONDS = 60
    campaign = factories.CampaignFactory(slug="rows", status=Campaign.Status.DRAFT)
    factories.PromptFactory(
        campaign=campaign, messages=[{"role": "user", "content": "Hi"}], system="Be brief."
    )
    factories.GeneratorFactory(
        campaign=campaign, name="g", model="demo-concise", params={"max_tokens": 64}
    )
    return generation_start(campaign=campaign, actor=admin_user)


@pytest.mark.postgresql
def test_it_claims_and_loads_prompt_generator_and_job_in_one_statement(
    job, django_assert_num_queries
):
    row = job.candidates.get()
    now = timezone.now()
    with django_assert_num_queries(1):
        candidate = generation_sql.claim(kind=CANDIDATES, candidate_id=row.id, now=now)
        # Everything the task reads next is already loaded.
        assert candidate.prompt.messages == [{"role": "user", "content": "Hi"}]
        assert candidate.prompt.system == "Be brief."
        assert candidate.generator.params == {"max_tokens": 64}
        assert candidate.job.status == GenerationJob.Status.QUEUED
    assert (candidate.status, candidate.attempts) == (Candidate.Status.RUNNING, 1)
    assert candidate.claimed_at == now
    assert candidate.cost_usd == Decimal("0")


@pytest.mark.parametrize("vendor", VENDORS)
def test_the_claim_rules_are_the_same_on_both_paths(job, vendor, monkeypatch):
    """``sqlite`` here runs the ORM claim (SQLite's path) on the test database, whichever it is."""
    monkeypatch.setattr(connection, "vendor", vendor)
    row = job.candidates.get()
    first = candidate_claim(candidate_id=row.id)
    assert first is not None and first.prompt.messages and first.generator.model
    assert candidate_claim(candidate_id=row.id) is None  # a live claim is respected
    Candidate.objects.filter(id=row.id).update(claimed_at=timezone.now() - timedelta(seconds=61))
    second = candidate_claim(candidate_id=row.id)  # a dead worker's claim is taken over
    assert second is not None and second.attempts == 2
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.RUNNING and job.started_at
    Candidate.objects.filter(id=row.id).update(status=Candidate.Status.DONE)
    assert candidate_claim(candidate_id=row.id) is None


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_live_workers_claim_is_kept_however_old_and_a_dead_ones_is_taken_at_once(
    job, vendor, monkeypatch, settings
):
    monkeypatch.setattr(connection, "vendor", vendor)
    settings.WORK_DEAD_AFTER_SECONDS = 10
    now = timezone.now()
    live = WorkerProcess.objects.create(hostname="h", pid=1, beat_at=now)
    dead = WorkerProcess.objects.create(hostname="h", pid=2, beat_at=now - timedelta(seconds=11))
    row = job.candidates.get()

    def held_by(worker_id, claimed_seconds_ago):
        Candidate.objects.filter(id=row.id).update(
            status=Candidate.Status.RUNNING,
            claimed_by=worker_id,
            claimed_at=timezone.now() - timedelta(seconds=claimed_seconds_ago),
        )

    held_by(live.id, 50)  # a slow call, inside the stale window: the live holder keeps it
    assert candidate_claim(candidate_id=row.id) is None
    held_by(dead.id, 1)  # a fresh claim, but its holder stopped beating: taken now
    assert candidate_claim(candidate_id=row.id) is not None
    held_by(live.id + dead.id + 1, 1)  # a holder whose row is gone (it shut down): taken now
    assert candidate_claim(candidate_id=row.id) is not None
    held_by(live.id, 61)  # older than the stale window: taken, whoever holds it (a hung holder)
    assert candidate_claim(candidate_id=row.id) is not None


def test_it_writes_only_under_its_own_claim(job):
    claimed = candidate_claim(candidate_id=job.candidates.get().id)
    values = {"status": Candidate.Status.DONE, "text": "x", "cost_usd": Decimal("0.000123")}
    stale_token = claimed.claimed_at - timedelta(seconds=1)
    assert not generation_sql.write_claimed(
        candidate_id=claimed.id, token=stale_token, values=values
    )
    assert generation_sql.work_left(CANDIDATES, job.id)
    assert generation_sql.write_claimed(
        candidate_id=claimed.id, token=claimed.claimed_at, values=values
    )
    claimed.refresh_from_db()
    assert (claimed.status, claimed.text, claimed.cost_usd) == ("done", "x", Decimal("0.000123"))
    assert not generation_sql.work_left(CANDIDATES, job.id)


def test_work_left_sees_the_jobs_pending_and_running_rows_of_any_kind(job, campaign):
    from annotate.models import JudgeJob, JudgeVerdict
    from annotate.services.judging import VERDICTS
    from tests.fakes.judge_fixtures import make_pair, verdict

    row = job.candidates.get()
    for status, left in [("pending", True), ("running", True), ("done", False), ("failed", False)]:
        Candidate.objects.filter(id=row.id).update(status=status)
        assert generation_sql.work_left(CANDIDATES, job.id) is left, status
    # Another kind, whose rows name their job through their own column.
    found = verdict(make_pair(campaign, "A.", "B."), "a")
    judge_job = JudgeJob.objects.create(campaign=campaign, rubric=found.rubric)
    assert not generation_sql.work_left(VERDICTS, judge_job.id)
    JudgeVerdict.objects.filter(id=found.id).update(job=judge_job, status="pending")
    assert generation_sql.work_left(VERDICTS, judge_job.id)
    assert not generation_sql.work_left(CANDIDATES, judge_job.id + job.id)  # no such job
