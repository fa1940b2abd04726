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


def test_researchers_see_each_campaigns_progress_pace_eta_and_cost(
    researcher_client, campaign, other_campaign, django_assert_max_num_queries
):
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from annotate.models import Assignment, Candidate
    from annotate.selectors.campaigns import campaign_glances

    rater = factories.UserFactory(username="vic")
    pairs = [factories.PairFactory(campaign=campaign, needed=2) for _ in range(3)]
    pairs[0].completed = 3  # more votes than wanted count as wanted (k)
    pairs[1].completed = 1
    for pair in pairs[:2]:
        pair.save()
    now = timezone.now()
    for pair, ago in ((pairs[0], 10), (pairs[1], 20), (pairs[2], 90)):
        Assignment.objects.create(
            campaign=campaign, pair=pair, rater=rater, left_is_a=True, status="done",
            expires_at=now, completed_at=now - timedelta(minutes=ago),
        )  # fmt: skip
    Candidate.objects.filter(prompt__campaign=campaign).update(cost_usd=Decimal("0.25"))

    with django_assert_max_num_queries(7):
        glances = campaign_glances(campaign_ids=[campaign.id, other_campaign.id], now=now)
    mine = glances[campaign.id]
    assert (mine.done, mine.wanted, mine.last_hour) == (3, 6, 2)
    assert mine.eta_hours == 1.5  # three votes left at two an hour
    assert mine.cost_usd == Decimal("1.50")  # six candidates at 0.25
    assert glances[other_campaign.id].wanted == 0 and glances[other_campaign.id].eta_hours is None

    page = researcher_client.get("/").content.decode()
    assert '<progress max="6" value="3"' in page
    assert "about 1.5 h" in page and "$1.50" in page


def test_a_rater_sees_their_own_votes(rater, rater_client, campaign):
    from annotate.models import Enrollment

    Enrollment.objects.filter(rater=rater, campaign=campaign).update(votes=7)
    page = rater_client.get("/").content.decode()
    assert "Your votes" in page and "<td>7</td>" in page
    assert "<progress" not in page  # the campaign's totals are for researchers


def test_researchers_see_each_campaigns_alpha_from_the_cached_figures(
    researcher_client, rater_client, campaign, other_campaign
):
    from django.utils import timezone

    from annotate.models import CampaignStats

    CampaignStats.objects.create(
        campaign=campaign, computed_at=timezone.now(), figures={"headline_alpha": 0.5234}
    )
    CampaignStats.objects.create(campaign=other_campaign)  # asked for, not computed yet
    page = researcher_client.get("/").content.decode()
    assert '<td class="alpha">0.52</td>' in page
    assert page.count('title="not computed yet">—</span>') == 1
    assert "0.52" not in rater_client.get("/").content.decode()  # researchers only
