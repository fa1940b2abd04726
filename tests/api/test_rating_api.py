"""Rating for raters through the API: next unit, submit, refusals, and who may ask."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotate.models import Campaign, RatingScore, RatingVote
from tests import factories

pytestmark = pytest.mark.django_db


def _api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def rated(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(
        protocol="rating", aspects=["honest"], rating_k=3, rating_max=7, rating_low_label="Bad"
    )
    campaign.refresh_from_db()
    unit = factories.ranking_set(campaign=campaign, k=3)
    member = unit.members.select_related("candidate__generator").first()
    member.candidate.generator.name = "secret-gen"
    member.candidate.generator.save()
    return campaign


NEXT, VOTE = "/api/campaigns/helpfulness/rating/next/", "/api/campaigns/helpfulness/rating/vote/"


def _scores(overall=4, honest=5):
    return [{"number": n, "overall": overall, "aspects": {"honest": honest}} for n in (1, 2, 3)]


def test_it_serves_a_unit_numbered_as_shown_with_its_scale_without_model_names(rater, rated):
    client = _api(rater)
    response = client.post(NEXT, {}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert [r["number"] for r in body["responses"]] == [1, 2, 3]
    assert body["aspects"] == ["honest"] and body["rationale"] == "optional"
    assert body["scale"] == {"low": 1, "high": 7, "low_label": "Bad", "high_label": "Excellent"}
    assert "secret-gen" not in response.content.decode()
    assert client.post(NEXT, {}, format="json").json()["lease"] == body["lease"]  # same lease


def test_it_records_a_rating_once(rater, rated):
    client = _api(rater)
    lease = client.post(NEXT, {}, format="json").json()["lease"]
    vote = {"lease": lease, "scores": _scores()}
    first = client.post(VOTE, vote, format="json")
    assert first.status_code == 201 and first.json()["replayed"] is False
    again = client.post(VOTE, vote, format="json")
    assert again.status_code == 200 and again.json() == {**first.json(), "replayed": True}
    assert RatingVote.objects.count() == 1 and RatingScore.objects.count() == 3
    assert client.post(NEXT, {}, format="json").status_code == 204  # nothing left


@pytest.mark.parametrize(
    "change, status, field",
    [
        ({"scores": _scores()[:2]}, 400, "detail"),  # one response not rated
        ({"scores": _scores(overall=8)}, 400, "detail"),  # above the campaign's 7
        ({"scores": _scores(overall=10)}, 400, "scores"),  # above any scale
        ({"scores": _scores(overall="4")}, 400, "scores"),
        ({"scores": [{**e, "aspects": {"honest": 1, "fun": 2}} for e in _scores()]}, 400, "detail"),
        ({"scores": [{**e, "aspects": {}} for e in _scores()]}, 400, "detail"),
        ({"scores": [{**e, "surprise": 1} for e in _scores()]}, 400, "scores"),
        ({"scores": "1234"}, 400, "scores"),
        ({"scores": [{"number": 1}]}, 400, "scores"),
        ({"surprise": 1}, 400, "surprise"),
        ({"lease": 0}, 400, "lease"),
        ({"lease": 2**62}, 404, "detail"),
    ],
)
def test_it_refuses_bad_input_with_a_4xx(rater, rated, change, status, field):
    client = _api(rater)
    lease = client.post(NEXT, {}, format="json").json()["lease"]
    vote = {"lease": lease, "scores": _scores(), **change}
    response = client.post(VOTE, vote, format="json")
    assert response.status_code == status, response.content
    assert field in response.json()
    assert not RatingVote.objects.exists()


def test_it_keeps_others_out(rater, outsider, rated):
    assert _api().post(NEXT, {}, format="json").status_code == 401
    assert _api(outsider).post(NEXT, {}, format="json").status_code == 404
    lease = _api(rater).post(NEXT, {}, format="json").json()["lease"]
    vote = {"lease": lease, "scores": _scores()}
    assert _api(outsider).post(VOTE, vote, format="json").status_code == 404
    # Someone enrolled, but not holding this lease.
    other = factories.UserFactory()
    factories.EnrollmentFactory(campaign=rated, rater=other)
    response = _api(other).post(VOTE, vote, format="json")
    assert response.status_code == 404 and response.json()["code"] == "foreign"
    assert not RatingVote.objects.exists()


def test_another_protocols_campaign_answers_409(rater, campaign):
    response = _api(rater).post(NEXT, {}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "protocol"
    vote = {"lease": 1, "scores": _scores()}
    assert _api(rater).post(VOTE, vote, format="json").status_code == 409
    assert _api(rater).post(NEXT, {"x": 1}, format="json").status_code == 400
    # And the ranking endpoints refuse a rating campaign.
    Campaign.objects.filter(pk=campaign.pk).update(protocol="rating")
    rank = _api(rater).post("/api/campaigns/helpfulness/rank/next/", {}, format="json")
    assert rank.status_code == 409


def test_the_schema_names_both_operations(admin_user):
    schema = _api(admin_user).get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/campaigns/{slug}/rating/next/" in paths
    assert paths["/api/campaigns/{slug}/rating/vote/"]["post"]["operationId"] == "rating_vote"


def test_a_vote_with_next_returns_the_next_unit_as_next_would(rater, rated):
    factories.ranking_set(campaign=rated, k=3)
    client = _api(rater)
    first = client.post(NEXT, {}, format="json").json()
    voted = client.post(
        VOTE, {"lease": first["lease"], "scores": _scores(), "next": True}, format="json"
    )
    assert voted.status_code == 201
    following = voted.json()["next"]
    assert following["lease"] != first["lease"] and following["scale"]["high"] == 7
    assert following == client.post(NEXT, {}, format="json").json()
    done = client.post(
        VOTE, {"lease": following["lease"], "scores": _scores(), "next": True}, format="json"
    )
    assert done.status_code == 201 and done.json()["next"] is None
