"""The database token bucket: one budget per account (host + key), shared by every worker, by
generation and by the judge."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from annotate.models import Candidate, JudgeVerdict
from annotate.providers.base import ProviderConfig
from annotate.services.generation import candidate_generate, generation_start
from annotate.services.judging import judge_pair_run, judge_pairs_start
from annotate.services.ratelimit import limits_for, ratelimit_take
from tests import factories
from tests.fakes.judge_fixtures import judge_config, make_pair

VLLM = ProviderConfig(kind="openai_compatible", base_url="http://127.0.0.1:9/v1", key_env="K")
ONE_CALL = [([{"role": "user", "content": "x" * 400}], "")]  # 100 prompt tokens + max_tokens


def test_it_grants_exactly_the_budget_to_concurrent_workers(transactional_db):
    params = {"requests_per_minute": 5}
    waits: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(12)

    def worker() -> None:
        start.wait()
        budget = ratelimit_take(config=VLLM, params=params, calls=ONE_CALL)
        with lock:
            waits.append(budget.wait)
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(1 for w in waits if w == 0) == 5
    assert all(w > 0 for w in waits if w)


def test_it_limits_tokens_and_returns_the_unused_estimate(db):
    params = {"tokens_per_minute": 1000, "max_tokens": 700}
    first = ratelimit_take(config=VLLM, params=params, calls=ONE_CALL)
    assert first.wait == 0 and first.estimated == 800
    assert ratelimit_take(config=VLLM, params=params, calls=ONE_CALL).wait > 0
    first.settle(used=100)
    assert ratelimit_take(config=VLLM, params=params, calls=ONE_CALL).wait == 0


def test_it_takes_extra_calls_of_work_under_way_without_waiting(db):
    params = {"requests_per_minute": 2}
    budget = ratelimit_take(config=VLLM, params=params, calls=ONE_CALL * 2)
    assert budget.wait == 0
    budget.extend(calls=ONE_CALL)  # a third call, over the budget: taken all the same
    assert ratelimit_take(config=VLLM, params=params, calls=ONE_CALL).wait > 30  # and owed


@pytest.mark.parametrize("params", [{}, {"requests_per_minute": 0}])
def test_it_does_nothing_without_a_limit(db, params):
    demo = ProviderConfig(kind="demo")
    assert all(
        ratelimit_take(config=demo, params=params, calls=ONE_CALL).wait == 0 for _ in range(50)
    )


def test_it_reads_limits_from_the_endpoint_the_settings_and_the_params(settings):
    settings.PROVIDER_ENDPOINTS = (
        '{"vllm": {"provider": "openai_compatible", "base_url": "http://127.0.0.1:9/v1",'
        ' "key_env": "K", "requests_per_minute": 60}}'
    )
    settings.GENERATION_RATE_LIMITS = {"openai_compatible": {"tokens_per_minute": 9000}}
    config = ProviderConfig(
        kind="openai_compatible", base_url="http://127.0.0.1:9/v1", endpoint="vllm"
    )
    assert limits_for(config, {}) == {"requests_per_minute": 60.0, "tokens_per_minute": 9000.0}
    assert limits_for(config, {"requests_per_minute": 5}) == {
        "requests_per_minute": 5.0,
        "tokens_per_minute": 9000.0,
    }


def test_it_holds_the_judge_back_once_generation_spent_the_account(
    campaign, admin_user, settings, django_capture_on_commit_callbacks, monkeypatch
):
    """The demo provider has one account; three requests a minute between the two of them."""
    settings.GENERATION_RATE_LIMITS = {"demo": {"requests_per_minute": 3}}
    from annotate import tasks

    monkeypatch.setattr(tasks.judge_verdict_task, "delay", lambda **kw: None)
    monkeypatch.setattr(tasks.generation_candidate_task, "delay", lambda **kw: None)
    factories.PromptFactory(campaign=campaign)
    factories.GeneratorFactory(campaign=campaign, model="demo-concise")
    with django_capture_on_commit_callbacks(execute=True):
        job = generation_start(campaign=campaign, actor=admin_user)
    [candidate] = job.candidates.all()
    assert candidate_generate(candidate_id=candidate.id).status == "done"  # 1 of 3

    judge_config(campaign, provider="demo", model="demo-judge", endpoint="")
    make_pair(campaign, "A long and careful answer.", "Short.")
    make_pair(campaign, "Another long and careful answer.", "No.")
    with django_capture_on_commit_callbacks(execute=True):
        judge_pairs_start(campaign=campaign, actor=admin_user)
    first, second = JudgeVerdict.objects.order_by("id")
    assert judge_pair_run(verdict_id=first.id).status == "done"  # two calls: 3 of 3
    held = judge_pair_run(verdict_id=second.id)
    assert held.status == "retry" and held.retry_in > 0
    second.refresh_from_db()
    assert (second.status, second.attempts) == ("pending", 0)  # handed back, no attempt spent
    assert Candidate.objects.get(id=candidate.id).status == "done"
