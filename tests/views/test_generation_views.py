"""Start / cancel / resume (admins only) and the polling progress fragment."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotate.models import Candidate, GenerationJob, Generator
from annotate.services.generation import candidate_generate, generation_start
from tests import factories

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def ready(campaign):
    factories.PromptFactory.create_batch(2, campaign=campaign)
    factories.GeneratorFactory(campaign=campaign, name="concise", model="demo-concise")
    return campaign


def url(name: str, campaign) -> str:
    return reverse(f"annotate:generation-{name}", args=[campaign.slug])


@pytest.mark.parametrize("action", ["start", "cancel", "resume"])
def test_it_lets_only_admins_change_generation(
    ready, action, rater_client, researcher_client, outsider_client, anon_client
):
    assert rater_client.post(url(action, ready)).status_code == 403
    assert researcher_client.post(url(action, ready)).status_code == 403
    assert outsider_client.post(url(action, ready)).status_code == 404
    assert anon_client.post(url(action, ready)).status_code == 302  # to the login page
    assert not GenerationJob.objects.exists()


def test_it_shows_progress_to_researchers_but_not_raters(
    ready, researcher_client, rater_client, outsider_client
):
    assert researcher_client.get(url("progress", ready)).status_code == 200
    assert rater_client.get(url("progress", ready)).status_code == 403
    assert outsider_client.get(url("progress", ready)).status_code == 404


def test_it_refuses_a_get_to_start(ready, admin_client):
    assert admin_client.get(url("start", ready)).status_code == 405


def test_it_starts_generation_and_redirects_a_plain_form_post(
    ready, admin_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(url("start", ready), {"mode": "fast"})
    assert response.status_code == 302
    assert response.url.endswith(
        reverse("annotate:campaign-detail", args=[ready.slug]) + "#generation"
    )
    job = GenerationJob.objects.get()
    assert (job.total, job.mode) == (2, "fast")
    assert len(callbacks) == 1


def test_it_answers_htmx_with_a_polling_fragment_until_the_job_ends(
    ready, admin_client, admin_user
):
    response = admin_client.post(url("start", ready), {"mode": "fast"}, **HX)
    html = response.content.decode()
    assert 'hx-trigger="every 2s"' in html
    assert "Generation started: 2 responses" in html
    assert "0 failed" in html and "<strong>2</strong> remaining" in html

    for candidate in Candidate.objects.all():
        candidate_generate(candidate_id=candidate.id)
    final = admin_client.get(url("progress", ready), **HX).content.decode()
    assert "every 2s" not in final  # the final fragment carries no trigger: polling stops
    assert "<strong>2</strong> done" in final
    assert "Done" in final


def test_it_rejects_an_unknown_mode(ready, admin_client):
    response = admin_client.post(url("start", ready), {"mode": "turbo"}, **HX)
    assert "Unknown mode" in response.content.decode()
    assert not GenerationJob.objects.exists()


def test_it_shows_a_missing_key_as_a_clear_message_not_a_500(
    ready, admin_client, admin_user, monkeypatch
):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY_FILE", raising=False)
    ready.generators.all().delete()
    factories.GeneratorFactory(
        campaign=ready, provider=Generator.Provider.ANTHROPIC, model="claude-sonnet-4-6"
    )
    job = generation_start(campaign=ready, actor=admin_user)
    for candidate in job.candidates.all():
        candidate_generate(candidate_id=candidate.id)
    response = admin_client.get(url("progress", ready), **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'role="alert"' in html
    assert "ANTHROPIC_API_KEY is not set" in html
    assert "2 ×" in html  # both candidates, one message
    assert "Resume" in html  # after fixing the key, the admin can retry


def test_it_cancels_and_resumes_through_htmx(ready, admin_client, admin_user):
    generation_start(campaign=ready, actor=admin_user)
    html = admin_client.post(url("cancel", ready), **HX).content.decode()
    assert "Generation cancelled" in html and "Cancelled" in html
    assert "every 2s" not in html
    assert Candidate.objects.filter(status=Candidate.Status.CANCELLED).count() == 2
    html = admin_client.post(url("resume", ready), **HX).content.decode()
    assert "Generation resumed." in html and "every 2s" in html
    assert Candidate.objects.filter(status=Candidate.Status.PENDING).count() == 2


def test_it_says_so_when_nothing_has_run(ready, researcher_client):
    assert (
        "No generation has run yet"
        in researcher_client.get(url("progress", ready)).content.decode()
    )


def test_it_shows_work_waiting_for_a_retry(ready, admin_client, admin_user):
    job = generation_start(campaign=ready, actor=admin_user)
    job.candidates.filter(id=job.candidates.first().id).update(
        error="Anthropic API 429 rate_limit_error: slow down"
    )
    html = admin_client.get(url("progress", ready), **HX).content.decode()
    assert "1 waiting to retry after: Anthropic API 429 rate_limit_error: slow down" in html


def test_the_progress_says_a_worker_was_lost_and_its_work_is_sent_again(
    ready, researcher_client, settings
):
    from datetime import timedelta

    from django.utils import timezone

    from annotate.models import WorkerProcess, WorkRecovery

    settings.WORK_DEAD_AFTER_SECONDS = 10
    job = generation_start(campaign=ready, actor=None)
    dead = WorkerProcess.objects.create(
        hostname="h", pid=1, beat_at=timezone.now() - timedelta(seconds=30)
    )
    job.candidates.update(status="running", claimed_by=dead.id, claimed_at=timezone.now())
    GenerationJob.objects.filter(id=job.id).update(status="running", started_at=timezone.now())
    page = researcher_client.get(url("progress", ready), **HX).content.decode()
    # Before the sweep: what the page can see is that the holder stopped beating.
    assert "A worker stopped answering: the 2 responses it held are being sent again." in page
    assert "about 0 s left" not in page and "nothing finished in the last minute" in page

    job.candidates.update(status="pending")
    WorkRecovery.objects.create(kind="candidate", job_id=job.id, worker_id=dead.id, rows=2)
    page = researcher_client.get(url("progress", ready), **HX).content.decode()
    assert "A worker stopped at" in page and "the 2 responses it held were sent again." in page
    assert 'hx-trigger="every 2s"' in page  # still running: the page keeps polling
