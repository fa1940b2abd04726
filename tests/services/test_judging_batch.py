"""Judging through Message Batches (cheap mode) against the fake server, with the real SDK."""

from __future__ import annotations

from decimal import Decimal

import pytest

from annotate import tasks
from annotate.models import JudgeJob, JudgeVerdict
from annotate.services.judging import judge_pair_run, judge_pairs_start
from annotate.services.judging_batch import judge_batch_poll, judge_batch_submit
from tests.fakes.judge_fixtures import judge_config, judge_fake_fixture, make_pair  # noqa: F401

LONG = "A careful, complete answer that explains the steps and checks the result twice."


@pytest.fixture
def sent(monkeypatch):
    out = {"verdicts": [], "submits": [], "polls": []}
    monkeypatch.setattr(
        tasks.judge_verdict_task, "delay", lambda **kw: out["verdicts"].append(kw["verdict_id"])
    )
    monkeypatch.setattr(
        tasks.judge_batch_submit_task, "delay", lambda **kw: out["submits"].append(kw["job_id"])
    )
    monkeypatch.setattr(
        tasks.judge_batch_poll_task,
        "apply_async",
        lambda kwargs, countdown: out["polls"].append(kwargs),
    )
    return out


def test_cheap_mode_judges_both_orders_in_one_batch_at_half_price(
    campaign, admin_user, judge_fake, sent, django_capture_on_commit_callbacks
):
    judge_config(campaign, mode="cheap")
    pairs = [make_pair(campaign, LONG + str(i), "Short.") for i in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        job = judge_pairs_start(campaign=campaign, actor=admin_user)
    assert sent["submits"] == [job.id] and sent["verdicts"] == []
    with django_capture_on_commit_callbacks(execute=True):
        assert judge_batch_submit(job_id=job.id).retry_in is None
    job.refresh_from_db()
    (entry,) = job.provider_batch_ids
    assert entry["size"] == 6 and entry["claimed_at"]  # recorded with its stamp before the call
    assert sent["polls"] == [{"job_id": job.id, "batch_id": entry["id"]}]
    create = [b for m, p, b in judge_fake.requests if p == "/v1/messages/batches"][0]
    assert sorted(r["custom_id"] for r in create["requests"]) == sorted(
        f"v{v.id}-o{o}" for v in JudgeVerdict.objects.all() for o in (1, 2)
    )
    assert all(r["params"]["system"][0]["cache_control"] for r in create["requests"])

    assert judge_batch_poll(job_id=job.id, batch_id=entry["id"]) is None  # ended and written
    job.refresh_from_db()
    assert job.status == "done" and job.provider_batch_ids[0]["collected"]
    for pair in pairs:
        v = JudgeVerdict.objects.get(pair=pair)
        assert (v.status, v.choice, v.consistent) == ("done", "a", True)
        full = (
            Decimal(3) * v.input_tokens
            + Decimal(15) * v.output_tokens
            + Decimal("3.75") * v.cache_write_tokens
            + Decimal("0.3") * v.cache_read_tokens
        ) / 1_000_000
        assert v.cost_usd == pytest.approx(full / 2, abs=Decimal("0.000002"))


def test_a_malformed_batch_answer_goes_to_the_fast_path(
    campaign, admin_user, judge_fake, sent, django_capture_on_commit_callbacks
):
    judge_config(campaign, mode="cheap")
    make_pair(campaign, LONG, "Short.")
    with django_capture_on_commit_callbacks(execute=True):
        job = judge_pairs_start(campaign=campaign, actor=admin_user)
    judge_fake.add_verdict_faults("malformed")
    with django_capture_on_commit_callbacks(execute=True):
        judge_batch_submit(job_id=job.id)
    job.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        assert judge_batch_poll(job_id=job.id, batch_id=job.provider_batch_ids[0]["id"]) is None
    verdict = JudgeVerdict.objects.get()
    assert verdict.status == "pending" and sent["verdicts"] == [verdict.id]
    assert verdict.input_tokens > 0  # the batch's usage is kept
    assert judge_pair_run(verdict_id=verdict.id).status == "done"
    assert JudgeJob.objects.get(id=job.id).status == "done"


def test_a_batch_still_running_is_polled_again(
    campaign, admin_user, judge_fake, sent, django_capture_on_commit_callbacks
):
    judge_fake.batch_ready_after = 60
    judge_config(campaign, mode="cheap")
    make_pair(campaign, LONG, "Short.")
    with django_capture_on_commit_callbacks(execute=True):
        job = judge_pairs_start(campaign=campaign, actor=admin_user)
        judge_batch_submit(job_id=job.id)
    job.refresh_from_db()
    again_in = judge_batch_poll(job_id=job.id, batch_id=job.provider_batch_ids[0]["id"])
    assert again_in == 0.05  # JUDGE_BATCH_POLL_SECONDS (judge_fake)
    assert JudgeVerdict.objects.get().status == "running"
