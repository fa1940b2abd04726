"""Keep / revise after the reveal: only the rater's own vote, in the rater's own labels."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotate.models import Campaign, Judgment
from tests import factories
from tests.fakes.judge_fixtures import make_pair, verdict

RATIONALE = "Response 1 explains the steps; Response 2 skips them."


@pytest.fixture
def voted(campaign, rater):
    """The rater voted A (left) blind on a pair shown with b on the left; the judge prefers a."""
    campaign.judge_mode = Campaign.JudgeMode.AFTER_VOTE
    campaign.save()
    pair = make_pair(campaign, "a thorough answer", "a thin one")
    v = verdict(pair, "a")
    v.order1 = {"choice": "a", "rationale": RATIONALE}
    v.order2 = {"choice": "a", "rationale": "Response 2 explains the steps; Response 1 skips them."}
    v.save()
    first = Judgment.objects.create(
        campaign=campaign, pair=pair, rater=rater, choice="b", left_is_a=False
    )
    return first


def _url(campaign, judgment):
    return reverse("annotate:judge-revise", args=[campaign.slug, judgment.pk])


def test_revising_stores_a_second_vote_linked_to_the_first(rater_client, campaign, voted):
    # b was on the left: the rater's "A" is b. Order 2 matches the screen: Response 1 → A.
    response = rater_client.post(
        _url(campaign, voted),
        {"action": "revise", "choice": "right"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Revised to <strong>B</strong>" in html
    revision = Judgment.objects.get(revises=voted)
    assert revision.choice == "a" and revision.judge_shown  # right = a when b is on the left
    voted.refresh_from_db()
    assert voted.choice == "b"


def test_keeping_stores_nothing_and_the_reveal_speaks_the_raters_labels(
    rater_client, campaign, voted
):
    response = rater_client.post(_url(campaign, voted), {"action": "keep"})
    html = response.content.decode()
    assert "Kept your vote" in html
    assert "The judge prefers <strong>Response B</strong>" in html  # a is on the right
    assert "Response B explains the steps; Response A skips them." in html
    assert Judgment.objects.count() == 1


def test_others_cannot_revise_my_vote(campaign, voted, outsider_client):
    other = factories.UserFactory(username="eve")
    factories.EnrollmentFactory(campaign=campaign, rater=other)
    from django.test import Client

    client = Client()
    client.force_login(other)
    assert (
        client.post(_url(campaign, voted), {"action": "revise", "choice": "left"}).status_code
        == 404
    )
    assert (
        outsider_client.post(
            _url(campaign, voted), {"action": "revise", "choice": "left"}
        ).status_code
        == 404
    )
    assert Judgment.objects.count() == 1


def test_a_bad_revision_is_refused_with_a_message(rater_client, campaign, voted):
    campaign.allow_both_bad = False
    campaign.save()
    response = rater_client.post(_url(campaign, voted), {"action": "revise", "choice": "both_bad"})
    assert response.status_code == 400 and "both bad" in response.content.decode()
    assert Judgment.objects.count() == 1
