"""The rating page: the unit as shown (numbers, no model names), the score grid's fields, a vote
through the page with the API's rules, unknown fields refused, and who may see it."""

from __future__ import annotations

import pytest

from annotate.models import Campaign, RatingScore, RatingVote, SetAssignment
from tests import factories

pytestmark = pytest.mark.django_db
PAGE = "/campaigns/helpfulness/rating/"
VOTE = PAGE + "vote/"


@pytest.fixture
def rated(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(
        protocol="rating", aspects=["honest"], rating_k=2, status=Campaign.Status.OPEN
    )
    campaign.refresh_from_db()
    unit = factories.ranking_set(campaign=campaign, k=2)
    member = unit.members.select_related("candidate__generator").first()
    member.candidate.generator.name = "secret-gen"
    member.candidate.generator.save()
    return campaign


def _cells(lease, overall=(4, 2), honest=(5, 1)):
    data = {"lease": lease.pk}
    for n in (1, 2):
        data[f"s_{n}_0"] = overall[n - 1]
        data[f"s_{n}_1"] = honest[n - 1]
    return data


def test_it_shows_the_unit_and_its_grid_without_model_names(rater_client, rater, rated):
    page = rater_client.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="s_1_0"' in html and 'name="s_2_1"' in html and 'name="why_2"' in html
    assert "secret-gen" not in html and "Response 2" in html
    assert rater_client.get("/campaigns/helpfulness/rate/").url == PAGE  # the protocol's page


def test_it_records_a_rating_from_the_page_and_serves_the_next(rater_client, rater, rated):
    rater_client.get(PAGE)
    lease = SetAssignment.objects.get(rater=rater)
    data = {**_cells(lease), "why_1": "Clear."}
    response = rater_client.post(VOTE, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "All done" in response.content.decode(), response.content.decode()[:1500]
    vote = RatingVote.objects.get()
    first = RatingScore.objects.get(vote=vote, candidate_id=lease.shown_order[0])
    assert (first.overall, first.aspects, first.rationale) == (4, {"honest": 5}, "Clear.")
    rater_client.post(VOTE, data)  # a double submit stores one vote
    assert RatingVote.objects.count() == 1 and RatingScore.objects.count() == 2


@pytest.mark.parametrize(
    "change, message",
    [
        ({"s_1_0": 9}, "from 1 to 5"),
        ({"s_1_0": "four"}, "whole number"),
        ({"s_1_0": ""}, "Response 1: give the overall score"),
        ({"s_1_1": ""}, "missing: honest"),
        ({"s_1_7": 3}, "Unknown field"),
        ({"s_3_0": 3}, "numbered 1 to 2"),
        ({"surprise": 1}, "Unknown field"),
        ({"why_1_x": "a"}, "Unknown field"),
    ],
)
def test_it_refuses_a_bad_form_with_a_message_and_keeps_the_lease(
    rater_client, rater, rated, change, message
):
    rater_client.get(PAGE)
    lease = SetAssignment.objects.get(rater=rater)
    data = {**_cells(lease), **change}
    data = {k: v for k, v in data.items() if v != ""} if "" in change.values() else data
    response = rater_client.post(VOTE, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not RatingVote.objects.exists()
    lease.refresh_from_db()
    assert lease.status == "active"


def test_it_keeps_others_out(client, outsider_client, rated):
    assert client.get(PAGE).status_code == 302  # to the login
    assert outsider_client.get(PAGE).status_code == 404
    assert outsider_client.post(VOTE, {"lease": 1}).status_code == 404
