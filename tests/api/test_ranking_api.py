"""Ranking for raters through the API: next set, submit, refusals, and who may ask."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotate.models import Campaign, RankingVote
from tests import factories

pytestmark = pytest.mark.django_db


def _api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def ranked(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(
        protocol="ranking", aspects=["honest"], allow_both_bad=False
    )
    campaign.refresh_from_db()
    unit = factories.ranking_set(campaign=campaign, k=4)
    member = unit.members.select_related("candidate__generator").first()
    member.candidate.generator.name = "secret-gen"
    member.candidate.generator.save()
    return campaign


NEXT, VOTE = "/api/campaigns/helpfulness/rank/next/", "/api/campaigns/helpfulness/rank/vote/"


def test_it_serves_a_set_numbered_as_shown_without_model_names(rater, ranked):
    client = _api(rater)
    response = client.post(NEXT, {}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert [r["number"] for r in body["responses"]] == [1, 2, 3, 4]
    assert body["aspects"] == ["honest"] and body["allow_all_bad"] is False
    assert "secret-gen" not in response.content.decode()
    assert client.post(NEXT, {}, format="json").json()["lease"] == body["lease"]  # same lease


def test_it_records_a_ranking_once(rater, ranked):
    client = _api(rater)
    lease = client.post(NEXT, {}, format="json").json()["lease"]
    vote = {"lease": lease, "ranking": [[2], [1, 4], [3]], "aspects": {"honest": 2}}
    first = client.post(VOTE, vote, format="json")
    assert first.status_code == 201 and first.json()["replayed"] is False
    again = client.post(VOTE, vote, format="json")
    assert again.status_code == 200 and again.json() == {**first.json(), "replayed": True}
    assert RankingVote.objects.count() == 1
    assert client.post(NEXT, {}, format="json").status_code == 204  # nothing left


@pytest.mark.parametrize(
    "change, status, field",
    [
        ({"ranking": [[1], [2], [3]]}, 400, "detail"),
        ({"ranking": [[1], [2], [3], [3]]}, 400, "detail"),
        ({"ranking": [[1], [2], [3], [4]], "all_bad": True}, 400, "detail"),
        ({"aspects": {}}, 400, "detail"),
        ({"ranking": "1234"}, 400, "ranking"),
        ({"ranking": [["1"], [2], [3], [4]]}, 400, "ranking"),
        ({"ranking": [[10], [2], [3], [4]]}, 400, "detail"),
        ({"surprise": 1}, 400, "surprise"),
        ({"lease": 0}, 400, "lease"),
        ({"lease": 2**62}, 404, "detail"),
    ],
)
def test_it_refuses_bad_input_with_a_4xx(rater, ranked, change, status, field):
    client = _api(rater)
    lease = client.post(NEXT, {}, format="json").json()["lease"]
    vote = {"lease": lease, "ranking": [[1], [2], [3], [4]], "aspects": {"honest": 1}, **change}
    response = client.post(VOTE, vote, format="json")
    assert response.status_code == status, response.content
    assert field in response.json()
    assert not RankingVote.objects.exists()


def test_it_keeps_others_out(rater, outsider, ranked, admin_user):
    assert _api().post(NEXT, {}, format="json").status_code == 401
    assert _api(outsider).post(NEXT, {}, format="json").status_code == 404
    lease = _api(rater).post(NEXT, {}, format="json").json()["lease"]
    vote = {"lease": lease, "ranking": [[1], [2], [3], [4]], "aspects": {"honest": 1}}
    assert _api(outsider).post(VOTE, vote, format="json").status_code == 404
    # Someone enrolled, but not holding this lease.
    other = factories.UserFactory()
    factories.EnrollmentFactory(campaign=ranked, rater=other)
    assert _api(other).post(VOTE, vote, format="json").status_code == 404
    assert not RankingVote.objects.exists()


def test_a_pairwise_campaign_answers_409(rater, campaign):
    response = _api(rater).post(NEXT, {}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "protocol"
    assert _api(rater).post(NEXT, {"x": 1}, format="json").status_code == 400


def test_vote_then_next_stays_within_its_statements(rater, ranked, monkeypatch):
    """The hot path of every set protocol (annotate/sql/set_leases.py; bench/rating.py --protocol
    sets --show-sql lists them): token auth (the lockout check, the token with its user) and the
    campaign lookup, then the vote's read, close-and-count and insert; or the live lease's read,
    the claim, the slots and the insert with what the rater is shown (the ORM's next was 17)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from annotate.services import sets as sets_service

    factories.ranking_set(campaign=ranked, k=4)
    client = _api(rater)
    lease = client.post(NEXT, {}, format="json").json()["lease"]
    vote = {"lease": lease, "ranking": [[2], [1, 4], [3]], "aspects": {"honest": 2}}
    # The sweep runs every 2 s per process, not on this vote.
    monkeypatch.setitem(sets_service._last_sweep, ranked.pk, float("inf"))
    with CaptureQueriesContext(connection) as voted:
        assert client.post(VOTE, vote, format="json").status_code == 201
    with CaptureQueriesContext(connection) as nexted:
        assert client.post(NEXT, {}, format="json").status_code == 200
    listing = "\n".join(q["sql"][:120] for q in voted.captured_queries + nexted.captured_queries)
    # Inside the test's transaction there is no BEGIN / COMMIT (a server adds those two).
    assert len(voted) <= 6, listing
    assert len(nexted) <= 7, listing


def test_a_vote_with_next_returns_the_next_set_as_next_would(rater, ranked):
    """One request per unit: the vote stores the ranking and claims the rater's next set."""
    factories.ranking_set(campaign=ranked, k=4)
    client = _api(rater)
    first = client.post(NEXT, {}, format="json").json()
    vote = {"lease": first["lease"], "ranking": [[1], [2], [3], [4]], "aspects": {"honest": 1}}
    voted = client.post(VOTE, {**vote, "next": True}, format="json")
    assert voted.status_code == 201
    following = voted.json()["next"]
    assert following["lease"] != first["lease"]
    assert following == client.post(NEXT, {}, format="json").json()  # the same lease, the same body
    assert RankingVote.objects.count() == 1
    # A double submit stores nothing more and hands out the same live lease.
    again = client.post(VOTE, {**vote, "next": True}, format="json")
    assert again.status_code == 200 and again.json()["next"]["lease"] == following["lease"]
    last = {**vote, "lease": following["lease"], "next": True}
    done = client.post(VOTE, last, format="json")
    assert done.status_code == 201 and done.json()["next"] is None  # nothing left
    assert "next" not in client.post(VOTE, vote, format="json").json()  # not asked: not claimed
    assert client.post(VOTE, {**vote, "next": "soon"}, format="json").status_code == 400
