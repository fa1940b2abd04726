"""generation_start / candidate_generate / cancel / resume, against the demo provider and the
real Anthropic SDK talking to the fake server. Tasks are not run by a worker here: the tests call the
task body (the service) directly, which is what a worker does."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from annotate.models import Campaign, Candidate, GenerationJob, Generator, ModelPrice, Pair
from annotate.selectors.generation import generation_progress
from annotate.services.generation import (
    CANDIDATES,
    candidate_claim,
    candidate_generate,
    generation_cancel,
    generation_resume,
    generation_start,
)
from annotate.services.pricing import price_cache_clear
from annotate.work.claims import backoff_seconds
from tests import factories
from tests.fakes.fixtures import anthropic_fake_fixture, fake_server_fixture  # noqa: F401

MAX_ATTEMPTS = CANDIDATES.max_attempts


@pytest.fixture
def draft(db):
    campaign = factories.CampaignFactory(slug="gen", status=Campaign.Status.DRAFT)
    factories.PromptFactory.create_batch(3, campaign=campaign)
    return campaign


@pytest.fixture
def demo_generators(draft):
    return [
        factories.GeneratorFactory(campaign=draft, name="concise", model="demo-concise"),
        factories.GeneratorFactory(
            campaign=draft, name="thorough", model="demo-thorough", samples_per_prompt=2
        ),
    ]


@pytest.fixture
def claude(draft, anthropic_fake):
    return factories.GeneratorFactory(
        campaign=draft,
        name="claude",
        provider=Generator.Provider.ANTHROPIC,
        model="claude-sonnet-4-6",
    )


def _run_all(job: GenerationJob) -> None:
    """What the workers do: run every queued candidate's task body until nothing is left."""
    for _ in range(MAX_ATTEMPTS + 1):
        ids = list(
            Candidate.objects.filter(job=job, status=Candidate.Status.PENDING).values_list(
                "id", flat=True
            )
        )
        if not ids:
            return
        for cid in ids:
            candidate_generate(candidate_id=cid)


def test_it_creates_one_pending_row_per_prompt_generator_and_sample(
    draft, demo_generators, admin_user, django_capture_on_commit_callbacks
):
    factories.GeneratorFactory(
        campaign=draft, name="imported", provider=Generator.Provider.IMPORTED
    )
    with django_capture_on_commit_callbacks() as callbacks:
        job = generation_start(campaign=draft, actor=admin_user)
    assert job.total == 3 * 1 + 3 * 2  # the imported generator is not generated
    assert set(job.candidates.values_list("status", flat=True)) == {Candidate.Status.PENDING}
    assert len(callbacks) == 1  # enqueued on commit, not before
    draft.refresh_from_db()
    assert draft.status == Campaign.Status.GENERATING


def test_it_returns_the_running_job_instead_of_starting_twice(draft, demo_generators, admin_user):
    first = generation_start(campaign=draft, actor=admin_user)
    second = generation_start(campaign=draft, actor=admin_user)
    assert second.id == first.id
    assert Candidate.objects.filter(prompt__campaign=draft).count() == 9


def test_it_generates_demo_candidates_with_rendered_html_and_ends_the_job(
    draft, demo_generators, admin_user
):
    job = generation_start(campaign=draft, actor=admin_user)
    _run_all(job)
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.DONE
    assert job.finished_at is not None
    done = Candidate.objects.filter(job=job, status=Candidate.Status.DONE)
    assert done.count() == 9
    for candidate in done:
        assert candidate.text and candidate.html.startswith("<")
        assert candidate.output_tokens > 0 and candidate.attempts == 1
    # Two samples of one prompt from one generator differ.
    a, b = Candidate.objects.filter(generator=demo_generators[1], prompt=draft.prompts.first())
    assert a.text != b.text
    assert Pair.objects.filter(campaign=draft).exists()  # pairs_build ran at the end
    draft.refresh_from_db()
    assert draft.status == Campaign.Status.DRAFT  # back from generating; the admin opens it


def test_it_calls_the_provider_once_when_a_task_is_delivered_twice(
    draft, claude, admin_user, anthropic_fake
):
    job = generation_start(campaign=draft, actor=admin_user)
    candidate = job.candidates.first()
    assert candidate_generate(candidate_id=candidate.id).status == "done"
    assert candidate_generate(candidate_id=candidate.id).status == "skipped"  # redelivery
    assert anthropic_fake.calls_to("/v1/messages") == 1
    candidate.refresh_from_db()
    assert candidate.status == Candidate.Status.DONE
    assert candidate.request_id.startswith("req_")
    assert Candidate.objects.filter(prompt=candidate.prompt, generator=claude).count() == 1


def test_it_retries_a_429_no_sooner_than_retry_after(draft, claude, admin_user, anthropic_fake):
    anthropic_fake.retry_after = 3
    anthropic_fake.add_faults("429")
    job = generation_start(campaign=draft, actor=admin_user)
    candidate = job.candidates.first()
    outcome = candidate_generate(candidate_id=candidate.id)
    assert outcome.status == "retry"
    assert outcome.retry_in >= 3
    candidate.refresh_from_db()
    assert candidate.status == Candidate.Status.PENDING
    assert "rate_limit_error" in candidate.error  # the last error stays visible meanwhile
    assert candidate_generate(candidate_id=candidate.id).status == "done"
    candidate.refresh_from_db()
    assert (candidate.status, candidate.attempts, candidate.error) == (Candidate.Status.DONE, 2, "")


def test_it_fails_a_client_error_at_once_and_shows_it_on_the_job(
    draft, claude, admin_user, anthropic_fake
):
    anthropic_fake.known_models = {"claude-opus-4-6"}  # the generator asks for another model
    job = generation_start(campaign=draft, actor=admin_user)
    _run_all(job)
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.FAILED
    assert "not_found_error" in job.error and "claude-sonnet-4-6" in job.error
    assert set(job.candidates.values_list("attempts", flat=True)) == {1}
    progress = generation_progress(job=job)
    assert progress.failed == 3 and progress.errors[0][1] == 3


def test_it_gives_up_after_max_attempts_of_retryable_errors(
    draft, claude, admin_user, anthropic_fake
):
    anthropic_fake.add_faults(*["529"] * MAX_ATTEMPTS)
    job = generation_start(campaign=draft, actor=admin_user)
    candidate = job.candidates.first()
    outcomes = [candidate_generate(candidate_id=candidate.id).status for _ in range(MAX_ATTEMPTS)]
    assert outcomes == ["retry"] * (MAX_ATTEMPTS - 1) + ["failed"]
    candidate.refresh_from_db()
    assert candidate.status == Candidate.Status.FAILED
    assert candidate.error.startswith(f"Gave up after {MAX_ATTEMPTS} attempts")
    assert "overloaded_error" in candidate.error


def test_it_fails_clearly_without_an_api_key(draft, admin_user, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY_FILE", raising=False)
    factories.GeneratorFactory(campaign=draft, provider=Generator.Provider.ANTHROPIC, model="m")
    job = generation_start(campaign=draft, actor=admin_user)
    _run_all(job)
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.FAILED
    assert job.error.startswith("ANTHROPIC_API_KEY is not set")


def test_it_takes_over_a_stale_claim_and_drops_the_late_write(draft, claude, admin_user, settings):
    settings.WORK_STALE_SECONDS = 60
    job = generation_start(campaign=draft, actor=admin_user)
    candidate = job.candidates.first()
    first = candidate_claim(candidate_id=candidate.id)
    assert candidate_claim(candidate_id=candidate.id) is None  # a live claim is respected
    Candidate.objects.filter(id=candidate.id).update(
        claimed_at=timezone.now() - timedelta(seconds=61)
    )
    assert candidate_claim(candidate_id=candidate.id) is not None  # the dead worker's row is taken
    from annotate.providers.base import Completion
    from annotate.services.generation import candidate_record_completion

    late = candidate_record_completion(
        candidate=first, token=first.claimed_at, completion=Completion(text="late twin")
    )
    assert late is False
    candidate.refresh_from_db()
    assert candidate.text == "" and candidate.status == Candidate.Status.RUNNING


def test_it_costs_candidates_from_the_price_table(draft, claude, admin_user):
    job = generation_start(campaign=draft, actor=admin_user)
    candidate = job.candidates.first()
    candidate_generate(candidate_id=candidate.id)
    candidate.refresh_from_db()
    expected = (Decimal(3) * candidate.input_tokens + Decimal(15) * candidate.output_tokens) / 10**6
    assert candidate.cost_usd == expected.quantize(Decimal("0.000001"))
    # An admin-edited row overrides the default.
    price_cache_clear()  # a job reads its price once per worker; the test does not wait 30 s
    ModelPrice.objects.create(
        provider="anthropic", model="claude-sonnet-4-6", input_per_mtok=0, output_per_mtok=1000
    )
    other = job.candidates.exclude(id=candidate.id).first()
    candidate_generate(candidate_id=other.id)
    other.refresh_from_db()
    assert other.cost_usd == (Decimal(1000) * other.output_tokens / 10**6).quantize(
        Decimal("0.000001")
    )


def test_it_cancels_pending_work_and_resumes_it(draft, demo_generators, admin_user):
    job = generation_start(campaign=draft, actor=admin_user)
    first = job.candidates.first()
    candidate_generate(candidate_id=first.id)
    generation_cancel(campaign=draft, actor=admin_user)
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.CANCELLED
    assert job.candidates.filter(status=Candidate.Status.CANCELLED).count() == 8
    # A task still in the queue finds nothing to claim.
    other = job.candidates.exclude(id=first.id).first()
    assert candidate_generate(candidate_id=other.id).status == "skipped"

    resumed = generation_resume(campaign=draft, actor=admin_user)
    assert resumed.id == job.id and resumed.status == GenerationJob.Status.QUEUED
    assert job.candidates.filter(status=Candidate.Status.PENDING).count() == 8
    _run_all(job)
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.DONE
    assert job.candidates.filter(status=Candidate.Status.DONE).count() == 9
    first.refresh_from_db()
    assert first.attempts == 1  # the finished one was not generated again


def test_it_backs_off_exponentially_but_never_below_retry_after():
    assert backoff_seconds(attempts=1, retry_after=None) <= 0.5
    assert 3 <= backoff_seconds(attempts=4, retry_after=None) <= 4
    assert backoff_seconds(attempts=1, retry_after=5) == 5
    assert backoff_seconds(attempts=20, retry_after=None) <= 60


def test_it_asks_an_openai_compatible_server_for_all_samples_at_once(
    draft, admin_user, fake_server, django_capture_on_commit_callbacks
):
    generator = factories.GeneratorFactory(
        campaign=draft,
        provider=Generator.Provider.OPENAI_COMPATIBLE,
        model="llama",
        base_url=f"{fake_server.url}/v1",
        samples_per_prompt=3,
    )
    with django_capture_on_commit_callbacks(execute=False):
        job = generation_start(campaign=draft, actor=admin_user)
    from annotate.services.generation import candidates_generate_n

    for prompt in draft.prompts.all():
        ids = list(job.candidates.filter(prompt=prompt).values_list("id", flat=True))
        assert candidates_generate_n(candidate_ids=ids).status == "done"
        assert candidates_generate_n(candidate_ids=ids).status == "skipped"  # redelivery
    assert fake_server.calls_to("/v1/chat/completions") == 3  # one request per prompt, n=3
    assert [body["n"] for _, _, body in fake_server.requests] == [3, 3, 3]
    texts = job.candidates.filter(generator=generator).values_list("text", flat=True)
    assert len(set(texts)) == 9
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.DONE


def test_it_falls_back_to_one_request_per_sample_when_n_is_refused(draft, admin_user, fake_server):
    fake_server.support_n = False
    factories.GeneratorFactory(
        campaign=draft,
        provider=Generator.Provider.OPENAI_COMPATIBLE,
        model="llama",
        base_url=f"{fake_server.url}/v1",
        samples_per_prompt=2,
    )
    job = generation_start(campaign=draft, actor=admin_user)
    from annotate.services.generation import candidates_generate_n

    prompt = draft.prompts.first()
    ids = list(job.candidates.filter(prompt=prompt).values_list("id", flat=True))
    assert candidates_generate_n(candidate_ids=ids).status == "done"
    assert job.candidates.filter(prompt=prompt, status=Candidate.Status.DONE).count() == 2
    assert fake_server.status_counts[400] == 1 and fake_server.status_counts[200] == 2


def test_it_holds_back_requests_over_the_per_minute_limit(draft, admin_user):
    factories.GeneratorFactory(
        campaign=draft, model="demo-concise", params={"requests_per_minute": 2}
    )
    job = generation_start(campaign=draft, actor=admin_user)
    outcomes = [candidate_generate(candidate_id=c.id) for c in job.candidates.all()]
    assert [o.status for o in outcomes] == ["done", "done", "retry"]
    assert 25 <= outcomes[2].retry_in <= 30  # one request per 30 s once the bucket is empty
    held = job.candidates.get(status=Candidate.Status.PENDING)
    assert held.attempts == 0  # waiting for the limiter does not spend an attempt


def test_it_turns_an_unexpected_provider_exception_into_a_bounded_retry(
    draft, demo_generators, admin_user, monkeypatch
):
    from annotate.providers.demo import DemoProvider

    def broken(self, **kwargs):
        raise KeyError("usage")

    monkeypatch.setattr(DemoProvider, "complete", broken)
    job = generation_start(campaign=draft, actor=admin_user)
    candidate = job.candidates.first()
    outcome = candidate_generate(candidate_id=candidate.id)
    assert outcome.status == "retry"
    candidate.refresh_from_db()
    assert candidate.status == Candidate.Status.PENDING
    assert candidate.error == "Unexpected error: KeyError: 'usage'"


@pytest.fixture
def n_samples(draft, admin_user, fake_server):
    """An OpenAI-compatible generator asked for 3 samples per prompt in one request, under a
    tokens-per-minute budget."""
    factories.GeneratorFactory(
        campaign=draft,
        provider=Generator.Provider.OPENAI_COMPATIBLE,
        model="llama",
        base_url=f"{fake_server.url}/v1",
        samples_per_prompt=3,
        params={"tokens_per_minute": 10_000},
    )
    job = generation_start(campaign=draft, actor=admin_user)
    prompt = draft.prompts.first()
    return list(job.candidates.filter(prompt=prompt).values_list("id", flat=True))


def _budget_left() -> float:
    from annotate.models import RateLimitBucket

    return RateLimitBucket.objects.get(key__endswith="|tpm").tokens


def test_n_samples_settle_the_rate_limiter_with_what_the_call_used(n_samples):
    import time

    from annotate.services.generation import candidates_generate_n

    started = time.monotonic()
    assert candidates_generate_n(candidate_ids=n_samples).status == "done"
    used = sum(c.input_tokens + c.output_tokens for c in Candidate.objects.filter(id__in=n_samples))
    refilled = 10_000 / 60 * (time.monotonic() - started)  # the bucket refills 167 a second
    # The estimate (3 × max_tokens and more, over 3,000) was taken before the call; all but what
    # was used came back after it, and the bucket never holds more than its minute's budget.
    left = _budget_left()
    assert min(10_000, 10_000 - used) <= left <= min(10_000, 10_000 - used + refilled + 1)


def test_tokens_given_back_never_fill_a_bucket_past_its_budget(db):
    from annotate.services.ratelimit import _take

    assert _take("acct|tpm", per_minute=600, amount=500) == 0
    _take("acct|tpm", per_minute=600, amount=-2_000)  # more back than was ever taken
    assert _budget_left() == 600


@pytest.mark.parametrize("fault", ["429", "unexpected"])
def test_n_samples_hand_every_error_back_and_return_the_budget(
    n_samples, fault, fake_server, monkeypatch
):
    from annotate.providers.openai_compat import OpenAICompatProvider
    from annotate.services.generation import candidates_generate_n

    if fault == "429":
        fake_server.retry_after = 2
        fake_server.add_faults("429")
    else:

        def broken(self, **kwargs):
            raise KeyError("choices")

        monkeypatch.setattr(OpenAICompatProvider, "complete_n", broken)
    outcome = candidates_generate_n(candidate_ids=n_samples)

    assert outcome.status == "retry" and outcome.retry_in >= (2 if fault == "429" else 0)
    rows = Candidate.objects.filter(id__in=n_samples)
    assert set(rows.values_list("status", flat=True)) == {Candidate.Status.PENDING}
    (error,) = set(rows.values_list("error", flat=True))
    assert ("rate" if fault == "429" else "Unexpected error: KeyError: 'choices'") in error
    assert _budget_left() >= 10_000 - 1  # nothing was used: the whole estimate is back
    assert set(rows.values_list("attempts", flat=True)) == {1}  # one attempt spent, of the bound


def test_the_rate_comes_from_recent_completions_not_the_jobs_start(
    draft, demo_generators, admin_user
):
    job = generation_start(campaign=draft, actor=admin_user)
    long_ago = timezone.now() - timedelta(hours=1)
    done = list(job.candidates.all()[:6])
    # Six done an hour ago (then the job was cancelled and resumed), one just now in 2 s.
    Candidate.objects.filter(id__in=[c.id for c in done[:5]]).update(
        status="done", claimed_at=long_ago, finished_at=long_ago
    )
    Candidate.objects.filter(id=done[5].id).update(
        status="done",
        claimed_at=timezone.now() - timedelta(seconds=2),
        finished_at=timezone.now(),
    )
    GenerationJob.objects.filter(id=job.id).update(
        status=GenerationJob.Status.RUNNING, started_at=timezone.now() - timedelta(seconds=1)
    )
    job.refresh_from_db()
    progress = generation_progress(job=job)
    # One in about 2 s: ~30 per minute, not (6 done / 1 s since the restart) 360 per minute.
    assert 20 <= progress.per_minute <= 31
    assert progress.eta_seconds == pytest.approx(60 * progress.remaining / progress.per_minute)
