from __future__ import annotations

from tests import factories


def test_it_requires_login(anon_client, db):
    response = anon_client.get("/")
    assert response.status_code == 302
    assert response.url.startswith("/login/")


def test_it_shows_raters_only_their_campaigns(rater_client, campaign, other_campaign):
    response = rater_client.get("/")
    assert response.status_code == 200
    assert b"Helpfulness" in response.content
    assert b"Other" not in response.content


def test_it_shows_researchers_every_campaign(researcher_client, campaign, other_campaign):
    response = researcher_client.get("/")
    assert b"Helpfulness" in response.content
    assert b"Other" in response.content


def test_it_hides_draft_campaigns_from_raters(rater, rater_client, db):
    draft = factories.CampaignFactory(title="Secret draft", status="draft")
    factories.EnrollmentFactory(campaign=draft, rater=rater)
    assert b"Secret draft" not in rater_client.get("/").content
