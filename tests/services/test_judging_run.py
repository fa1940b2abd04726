"""Judging one pair through the real Anthropic SDK and the fake server: both orders, the two-order
rule, malformed answers, provider errors, exactly-once claims, rubric versions, the demo judge."""

from __future__ import annotations

from decimal import Decimal

import pytest

from annotate import tasks
from annotate.models import Campaign, JudgeJob, JudgeVerdict
from annotate.services.judging import (
    MALFORMED_TRIES,
    JudgeRefused,
    judge_pair_run,
    judge_pairs_start,
    rubric_current,
    rubric_save,
    verdict_claim,
)
from tests.fakes.judge_fixtures import judge_config, judge_fake_fixture, make_pair  # noqa: F401

LONG = "A careful, complete answer that explains the steps and checks the result twice."
SHORT = "Yes."


@pytest.fixture
def sent(monkeypatch):
    """Task ids enqueued by the services (the broker is not needed to test the service)."""
    calls: list[int] = []
    monkeypatch.setattr(
        tasks.judge_verdict_task, "delay", lambda **kw: calls.append(kw["verdict_id"])
    )
    return calls


def _start(campaign, admin_user, django_capture_on_commit_callbacks, mode="fast"):
    with django_capture_on_commit_callbacks(execute=True):
        return judge_pairs_start(campaign=campaign, actor=admin_user, mode=mode)


def test_it_judges_both_orders_and_keeps_an_agreeing_verdict(
    campaign, admin_user, judge_fake, sent, django_capture_on_commit_callbacks
):
    judge_config(campaign)
    pair = make_pair(campaign, LONG, SHORT)
    job = _start(campaign, admin_user, django_capture_on_commit_callbacks)
    verdict = JudgeVerdict.objects.get(pair=pair)
    assert sent == [verdict.id] and job.total == 1

    assert judge_pair_run(verdict_id=verdict.id).status == "done"
    verdict.refresh_from_db()
    assert verdict.status == "done" and verdict.consistent is True
    assert (verdict.choice, verdict.order1["choice"], verdict.order2["choice"]) == ("a", "a", "a")
    assert verdict.rationale and verdict.confidence == pytest.approx(0.8)
    # Two real requests, the responses swapped between them, the rubric cached, the tool forced.
    bodies = [b for m, p, b in judge_fake.requests if p == "/v1/messages"]
    assert len(bodies) == 2
    first, second = (b["messages"][0]["content"] for b in bodies)
    assert first.index(LONG) < first.index(SHORT) and second.index(SHORT) < second.index(LONG)
    for body in bodies:
        assert body["tool_choice"] == {"type": "tool", "name": "record_verdict"}
        assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
        assert body["system"][0]["text"] == rubric_current(campaign=campaign).text
    # Usage: the first call wrote the cache, the second read it; cost at Sonnet list price.
    assert (
        verdict.cache_write_tokens > 0 and verdict.cache_read_tokens == verdict.cache_write_tokens
    )
    expected = (
        Decimal(3) * verdict.input_tokens
        + Decimal(15) * verdict.output_tokens
        + Decimal("3.75") * verdict.cache_write_tokens
        + Decimal("0.3") * verdict.cache_read_tokens
    ) / 1_000_000
    # Each of the two calls is priced and rounded to the micro-dollar on its own.
    assert verdict.cost_usd == pytest.approx(expected, abs=Decimal("0.000002"))
    assert JudgeJob.objects.get(id=job.id).status == "done"


def test_it_records_a_position_biased_answer_as_inconsistent(
    campaign, admin_user, judge_fake, sent, django_capture_on_commit_callbacks
):
    judge_config(campaign)
    pair = make_pair(campaign, "[[first]] " + LONG, SHORT)
    _start(campaign, admin_user, django_capture_on_commit_callbacks)
    verdict = JudgeVerdict.objects.get(pair=pair)
    judge_pair_run(verdict_id=verdict.id)
    verdict.refresh_from_db()
    assert (verdict.order1["choice"], verdict.order2["choice"]) == ("a", "b")
    assert verdict.status == "done" and verdict.consistent is False
    assert verdict.choice == "inconsistent"


def test_it_retries_a_malformed_answer_then_succeeds(
    campaign, admin_user, judge_fake, sent, django_capture_on_commit_callbacks
):
    judge_config(campaign)
    make_pair(campaign, LONG, SHORT)
    _start(campaign, admin_user, django_capture_on_commit_callbacks)
    judge_fake.add_verdict_faults("malformed", "no_tool")
    judge_pair_run(verdict_id=sent[0])
    verdict = JudgeVerdict.objects.get(id=sent[0])
    assert verdict.status == "done" and verdict.choice == "a"
    assert judge_fake.judge_calls == 4  # order 1 asked three times, order 2 once


def test_it_fails_a_verdict_after_repeated_malformed_answers(
    campaign, admin_user, judge_fake, sent, django_capture_on_commit_callbacks
):
    judge_config(campaign)
    make_pair(campaign, LONG, SHORT)
    job = _start(campaign, admin_user, django_capture_on_commit_callbacks)
    judge_fake.add_verdict_faults(*["malformed"] * MALFORMED_TRIES)
    assert judge_pair_run(verdict_id=sent[0]).status == "failed"
    verdict = JudgeVerdict.objects.get(id=sent[0])
    assert verdict.status == "failed" and "Malformed answer 3 times" in verdict.error
    assert verdict.choice == "" and verdict.input_tokens > 0  # what it cost is kept
    job.refresh_from_db()
    assert job.status == "failed" and "Malformed" in job.error


def test_it_hands_a_retryable_error_back_and_fails_a_hard_one(
    campaign, admin_user, judge_fake, sent, django_capture_on_commit_callbacks
):
    judge_config(campaign)
    make_pair(campaign, LONG, SHORT)
    make_pair(campaign, SHORT, LONG)
    _start(campaign, admin_user, django_capture_on_commit_callbacks)
    judge_fake.add_faults("529")
    outcome = judge_pair_run(verdict_id=sent[0])
    assert outcome.status == "retry" and outcome.retry_in > 0
    assert JudgeVerdict.objects.get(id=sent[0]).status == "pending"
    assert judge_pair_run(verdict_id=sent[0]).status == "done"
    assert JudgeVerdict.objects.get(id=sent[0]).attempts == 2

    judge_fake.add_faults("401")
    assert judge_pair_run(verdict_id=sent[1]).status == "failed"
    failed = JudgeVerdict.objects.get(id=sent[1])
    assert failed.status == "failed" and "401" in failed.error


def test_a_redelivered_task_does_nothing_and_a_second_start_adds_no_twin(
    campaign, admin_user, judge_fake, sent, django_capture_on_commit_callbacks
):
    judge_config(campaign)
    make_pair(campaign, LONG, SHORT)
    _start(campaign, admin_user, django_capture_on_commit_callbacks)
    judge_pair_run(verdict_id=sent[0])
    assert judge_pair_run(verdict_id=sent[0]).status == "skipped"
    assert verdict_claim(verdict_id=sent[0]) is None
    assert judge_fake.judge_calls == 2
    job = _start(campaign, admin_user, django_capture_on_commit_callbacks)
    assert job.total == 0 and job.status == "done"
    assert JudgeVerdict.objects.count() == 1


def test_a_rubric_edit_is_a_new_version_and_asks_again(
    campaign, admin_user, judge_fake, sent, django_capture_on_commit_callbacks
):
    judge_config(campaign)
    make_pair(campaign, LONG, SHORT)
    _start(campaign, admin_user, django_capture_on_commit_callbacks)
    v1 = rubric_current(campaign=campaign)
    assert rubric_save(campaign=campaign, text=v1.text, actor=admin_user) == v1  # same text: no-op
    v2 = rubric_save(campaign=campaign, text=v1.text + "\nPrefer brevity.", actor=admin_user)
    assert v2.version == 2 and rubric_current(campaign=campaign) == v2
    with pytest.raises(JudgeRefused):
        rubric_save(campaign=campaign, text="short", actor=admin_user)
    job = _start(campaign, admin_user, django_capture_on_commit_callbacks)
    assert job.total == 1 and job.rubric == v2
    assert set(JudgeVerdict.objects.values_list("rubric__version", flat=True)) == {1, 2}


def test_it_refuses_to_start_without_pairs_or_without_a_key(campaign, admin_user, monkeypatch):
    judge_config(campaign, provider="demo", model="demo-judge")
    with pytest.raises(JudgeRefused, match="no pairs"):
        judge_pairs_start(campaign=campaign, actor=admin_user)
    make_pair(campaign, LONG, SHORT)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    judge_config(campaign, provider="anthropic")
    with pytest.raises(JudgeRefused, match="ANTHROPIC_API_KEY is not set"):
        judge_pairs_start(campaign=campaign, actor=admin_user)


def test_the_offline_demo_judge_is_deterministic(
    campaign, admin_user, sent, django_capture_on_commit_callbacks
):
    campaign.aspects = ["helpful"]
    campaign.scale = Campaign.Scale.GRADED7
    campaign.save()
    judge_config(campaign, provider="demo", model="demo-judge")
    structured = "Steps:\n- one\n- two\n- three\n\n" + LONG
    clear = make_pair(campaign, structured, SHORT)
    close = make_pair(campaign, "About the same length here.", "About the same length there.")
    _start(campaign, admin_user, django_capture_on_commit_callbacks)
    for verdict_id in sent:
        judge_pair_run(verdict_id=verdict_id)
    won = JudgeVerdict.objects.get(pair=clear)
    assert (won.choice, won.consistent, won.strength) == ("a", True, 3)
    assert won.aspects == {"helpful": "a"}
    # On a near-tie the demo judge leans to the first shown: the two orders disagree.
    assert JudgeVerdict.objects.get(pair=close).choice == "inconsistent"


def test_an_openai_compatible_judge_answers_by_function_call(
    campaign, admin_user, judge_fake, sent, django_capture_on_commit_callbacks
):
    judge_config(
        campaign, provider="openai_compatible", model="llama-judge", base_url=judge_fake.url + "/v1"
    )
    pair = make_pair(campaign, LONG, SHORT)
    _start(
        campaign, admin_user, django_capture_on_commit_callbacks, mode="cheap"
    )  # no batches: fast
    judge_fake.add_verdict_faults("malformed")  # arguments that are not JSON: asked again
    assert judge_pair_run(verdict_id=sent[0]).status == "done"
    verdict = JudgeVerdict.objects.get(pair=pair)
    assert (verdict.choice, verdict.consistent) == ("a", True)
    bodies = [b for m, p, b in judge_fake.requests if p == "/v1/chat/completions"]
    assert len(bodies) == 3
    assert bodies[0]["tool_choice"] == {"type": "function", "function": {"name": "record_verdict"}}
    assert verdict.input_tokens > 0 and verdict.cost_usd == 0  # no price for a local model


def test_starting_again_retries_failed_verdicts_and_recovers_a_dead_workers_rows(
    campaign, admin_user, judge_fake, sent, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    judge_config(campaign)
    make_pair(campaign, LONG, SHORT)
    make_pair(campaign, SHORT, LONG)
    make_pair(campaign, LONG + "!", SHORT)
    _start(campaign, admin_user, django_capture_on_commit_callbacks)
    failed, dead, fresh = sent
    JudgeVerdict.objects.filter(id=failed).update(status="failed", error="boom", attempts=6)
    long_ago = timezone.now() - timedelta(hours=2)
    JudgeVerdict.objects.filter(id=dead).update(status="running", claimed_at=long_ago)
    JudgeVerdict.objects.filter(id=fresh).update(status="running", claimed_at=timezone.now())
    sent.clear()
    job = _start(campaign, admin_user, django_capture_on_commit_callbacks)
    assert sorted(sent) == sorted([failed, dead]) and job.total == 2  # a live claim is left alone
    for verdict_id in sent:
        assert judge_pair_run(verdict_id=verdict_id).status == "done"
    assert JudgeJob.objects.get(id=job.id).status == "done"
