"""Blind first, then reveal, on the step page and the step API: the judge's labels of a trace are
shown only after the rater's vote on it is stored, only in the "after the vote" judge mode."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotate.models import Campaign, SetAssignment, StepVote
from tests import factories

pytestmark = pytest.mark.django_db

REASON = "JUDGE-REASON-doubling 4 gives 8"
NEXT, VOTE = "/api/campaigns/helpfulness/steps/next/", "/api/campaigns/helpfulness/steps/vote/"


def _stepped(campaign, mode):
    Campaign.objects.filter(pk=campaign.pk).update(
        protocol="steps", step_stop_at_wrong=False, judge_mode=mode
    )
    campaign.refresh_from_db()
    for _ in range(2):
        unit = factories.step_trace(campaign=campaign)
        StepVote.objects.create(
            campaign=campaign,
            candidate_set=unit,
            source="judge",
            labels=[1, -1, 0],
            notes=["fine", REASON, "so-so"],
        )
    return campaign


def _url(campaign, name="steps"):
    return reverse(f"annotate:{name}", args=[campaign.slug])


def _page_vote(client, campaign, lease):
    data = {"lease": lease.pk, "label_1": "1", "label_2": "1", "label_3": "1"}
    return client.post(_url(campaign, "steps-vote"), data, headers={"HX-Request": "true"})


def _api(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_the_page_reveals_the_judge_only_after_the_vote(rater_client, rater, campaign):
    stepped = _stepped(campaign, Campaign.JudgeMode.AFTER_VOTE)
    before = rater_client.get(_url(stepped)).content.decode()
    assert REASON not in before and "judge-reveal" not in before
    lease = SetAssignment.objects.get(rater=rater, status="active")
    after = _page_vote(rater_client, stepped, lease).content.decode()
    assert 'id="judge-reveal"' in after and REASON in after
    # The next trace's judge labels are not on the page: only the one reason of the voted trace.
    assert after.count(REASON) == 1
    assert "Judge:" in after and "−1" in after
    # A reload shows the next trace, blind again.
    assert REASON not in rater_client.get(_url(stepped)).content.decode()


@pytest.mark.parametrize("mode", [Campaign.JudgeMode.OFF, Campaign.JudgeMode.BEFORE_VOTE])
def test_other_judge_modes_never_reveal_step_labels(rater_client, rater, campaign, mode):
    stepped = _stepped(campaign, mode)
    assert REASON not in rater_client.get(_url(stepped)).content.decode()
    lease = SetAssignment.objects.get(rater=rater, status="active")
    after = _page_vote(rater_client, stepped, lease).content.decode()
    assert REASON not in after and "judge-reveal" not in after
    api = _api(rater).post(
        VOTE,
        {"lease": _api(rater).post(NEXT, {}, format="json").json()["lease"], "labels": [1, 1, 1]},
        format="json",
    )
    assert api.status_code == 201 and api.json()["judge"] is None


def test_the_api_reveals_the_judge_only_in_the_vote_answer(rater, campaign):
    _stepped(campaign, Campaign.JudgeMode.AFTER_VOTE)
    client = _api(rater)
    nxt = client.post(NEXT, {}, format="json")
    assert nxt.status_code == 200 and REASON not in nxt.content.decode()
    assert "judge" not in nxt.json()
    voted = client.post(VOTE, {"lease": nxt.json()["lease"], "labels": [1, 1, 1]}, format="json")
    assert voted.status_code == 201
    assert voted.json()["judge"] == {"labels": [1, -1, 0], "reasons": ["fine", REASON, "so-so"]}
    assert REASON not in client.post(NEXT, {}, format="json").content.decode()
    # A refused vote (not this rater's lease) reveals nothing.
    other = factories.UserFactory()
    factories.EnrollmentFactory(campaign=campaign, rater=other)
    refused = _api(other).post(
        VOTE, {"lease": nxt.json()["lease"], "labels": [1, 1, 1]}, format="json"
    )
    assert refused.status_code in (404, 409) and REASON not in refused.content.decode()
