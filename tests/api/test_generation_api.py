"""Generation progress, cancel and resume over the API, with the persona checks."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotate.models import Candidate
from annotate.services.generation import candidate_generate, generation_start
from tests import factories


@pytest.fixture
def started(campaign, admin_user):
    factories.PromptFactory.create_batch(2, campaign=campaign)
    factories.GeneratorFactory(campaign=campaign, name="concise", model="demo-concise")
    return generation_start(campaign=campaign, actor=admin_user)


def url(name: str, campaign) -> str:
    return reverse(f"api:generation-{name}", args=[campaign.slug])


def test_it_reports_progress_with_counts_cost_and_errors(campaign, started, researcher_client):
    candidate_generate(candidate_id=started.candidates.first().id)
    body = researcher_client.get(url("progress", campaign)).json()
    assert body["job_id"] == started.id and body["mode"] == "fast"
    assert (body["total"], body["done"], body["remaining"], body["failed"]) == (2, 1, 1, 0)
    assert body["errors"] == [] and body["cost_usd"] == "0.000000"


def test_it_keeps_raters_and_outsiders_out(campaign, started, rater_client, outsider_client):
    assert rater_client.get(url("progress", campaign)).status_code == 403
    assert outsider_client.get(url("progress", campaign)).status_code == 404
    assert rater_client.post(url("cancel", campaign)).status_code == 403
    assert outsider_client.post(url("resume", campaign)).status_code == 404


def test_it_lets_only_admins_cancel_and_resume(campaign, started, admin_client, researcher_client):
    assert researcher_client.post(url("cancel", campaign)).status_code == 403
    body = admin_client.post(url("cancel", campaign)).json()
    assert body["status"] == "cancelled" and body["cancelled"] == 2
    assert admin_client.post(url("cancel", campaign)).status_code == 409  # nothing running
    response = admin_client.post(url("resume", campaign))
    assert response.status_code == 202 and response.json()["status"] == "queued"
    assert Candidate.objects.filter(status=Candidate.Status.PENDING).count() == 2


def test_it_says_when_nothing_has_run(campaign, admin_client):
    assert admin_client.get(url("progress", campaign)).status_code == 404
    assert admin_client.post(url("resume", campaign)).status_code == 409


def test_progress_reports_a_lost_worker(campaign, started, researcher_client):
    from annotate.models import WorkRecovery

    body = researcher_client.get(url("progress", campaign)).json()
    assert body["lost_work"] is None
    WorkRecovery.objects.create(kind="candidate", job_id=started.id, rows=3)
    lost = researcher_client.get(url("progress", campaign)).json()["lost_work"]
    assert (lost["resent"], lost["waiting"], lost["times"]) == (3, 0, 1)
    assert lost["message"].endswith("the 3 responses it held were sent again.")
