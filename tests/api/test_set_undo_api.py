"""Undo the last vote through the API for ranking, rating and step labels (annotate/api/set_undo.py):
the unit comes back with the vote as sent; the correction is a new row; another rater's vote is
404, after the window 409; anonymous 401/403, outsiders 404, admins correct only their own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotate.models import Campaign, RankingVote, RatingVote, StepVote
from tests import factories

pytestmark = pytest.mark.django_db
BASE = "/api/campaigns/helpfulness"


def _api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def _campaign(campaign, protocol, **fields):
    Campaign.objects.filter(pk=campaign.pk).update(protocol=protocol, **fields)
    campaign.refresh_from_db()
    for _ in range(2):
        if protocol == "steps":
            factories.step_trace(campaign=campaign)
        else:
            factories.ranking_set(campaign=campaign, k=3)
    return campaign


def _ranked(client, campaign):
    lease = client.post(f"{BASE}/rank/next/", {}, format="json").json()["lease"]
    vote = {"lease": lease, "ranking": [[2], [1], [3]]}
    assert client.post(f"{BASE}/rank/vote/", vote, format="json").status_code == 201
    return RankingVote.objects.get(lease_id=lease)


def test_a_ranking_comes_back_as_sent_and_the_correction_is_a_new_row(rater, campaign):
    _campaign(campaign, "ranking")
    client = _api(rater)
    first = _ranked(client, campaign)
    undo = client.post(f"{BASE}/rank/undo/", {}, format="json")
    assert undo.status_code == 200
    body = undo.json()
    assert body["vote"] == body["prior"] == first.pk and body["lease"] == first.lease_id
    assert body["previous"]["ranking"] == [[2], [1], [3]]
    assert [r["number"] for r in body["responses"]] == [1, 2, 3]
    assert 0 < body["seconds_left"] <= 60
    fix = {"vote": first.pk, "prior": first.pk, "ranking": [[3], [2], [1]]}
    done = client.post(f"{BASE}/rank/correct/", fix, format="json")
    assert done.status_code == 201 and done.json()["revises"] == first.pk
    assert RankingVote.objects.get(pk=done.json()["id"]).revises_id == first.pk
    again = client.post(f"{BASE}/rank/correct/", fix, format="json")
    assert again.status_code == 409 and again.json()["code"] == "not_last"
    bad = client.post(
        f"{BASE}/rank/correct/", {**fix, "prior": done.json()["id"], "ranking": [[1]]}
    )
    assert bad.status_code == 400
    unknown = client.post(f"{BASE}/rank/correct/", {**fix, "lease": 1}, format="json")
    assert unknown.status_code == 400  # lease is not a field of a correction
    assert RankingVote.objects.count() == 2


def test_the_auth_matrix_other_rater_anonymous_outsider_admin(
    rater, campaign, outsider, admin_user
):
    _campaign(campaign, "ranking")
    first = _ranked(_api(rater), campaign)
    fix = {"vote": first.pk, "ranking": [[3], [2], [1]]}
    other = factories.UserFactory()
    factories.EnrollmentFactory(campaign=campaign, rater=other)
    for user in (other, admin_user):
        response = _api(user).post(f"{BASE}/rank/correct/", fix, format="json")
        assert response.status_code == 404 and response.json()["code"] == "missing"
        assert _api(user).post(f"{BASE}/rank/undo/", {}, format="json").status_code == 409
    assert _api(outsider).post(f"{BASE}/rank/correct/", fix, format="json").status_code == 404
    assert _api(outsider).post(f"{BASE}/rank/undo/", {}, format="json").status_code == 404
    assert _api().post(f"{BASE}/rank/correct/", fix, format="json").status_code in (401, 403)
    assert _api().post(f"{BASE}/rank/undo/", {}, format="json").status_code in (401, 403)
    assert RankingVote.objects.count() == 1


def test_after_the_window_undo_and_correct_are_409(rater, campaign, settings):
    _campaign(campaign, "ranking")
    client = _api(rater)
    first = _ranked(client, campaign)
    past = first.created_at - timedelta(seconds=settings.RATE_UNDO_SECONDS + campaign.lease_seconds)
    RankingVote.objects.filter(pk=first.pk).update(created_at=past - timedelta(seconds=1))
    undo = client.post(f"{BASE}/rank/undo/", {}, format="json")
    assert undo.status_code == 409 and undo.json()["code"] == "too_late"
    fix = {"vote": first.pk, "ranking": [[3], [2], [1]]}
    response = client.post(f"{BASE}/rank/correct/", fix, format="json")
    assert response.status_code == 409 and response.json()["code"] == "too_late"


def test_a_campaign_of_another_protocol_answers_409(rater, campaign):
    _campaign(campaign, "ranking")
    response = _api(rater).post(f"{BASE}/rating/undo/", {}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "protocol"


def test_rating_and_step_corrections_through_the_api(rater, campaign):
    _campaign(campaign, "rating", aspects=[], rating_k=3)
    client = _api(rater)
    lease = client.post(f"{BASE}/rating/next/", {}, format="json").json()["lease"]
    scores = [{"number": n, "overall": 3} for n in (1, 2, 3)]
    client.post(f"{BASE}/rating/vote/", {"lease": lease, "scores": scores}, format="json")
    first = RatingVote.objects.get()
    previous = client.post(f"{BASE}/rating/undo/", {}, format="json").json()["previous"]
    assert [e["overall"] for e in previous["scores"]] == [3, 3, 3]
    fixed = [{**e, "overall": 4} for e in scores]
    done = client.post(
        f"{BASE}/rating/correct/", {"vote": first.pk, "scores": fixed}, format="json"
    )
    assert done.status_code == 201
    assert {s.overall for s in RatingVote.objects.get(pk=done.json()["id"]).scores.all()} == {4}


def test_step_corrections_through_the_api(rater, campaign):
    _campaign(campaign, "steps")
    client = _api(rater)
    lease = client.post(f"{BASE}/steps/next/", {}, format="json").json()["lease"]
    client.post(f"{BASE}/steps/vote/", {"lease": lease, "labels": [1, 1, 1]}, format="json")
    first = StepVote.objects.get()
    undo = client.post(f"{BASE}/steps/undo/", {}, format="json").json()
    assert undo["previous"]["labels"] == [1, 1, 1]
    done = client.post(
        f"{BASE}/steps/correct/", {"vote": first.pk, "labels": [1, 0, 1]}, format="json"
    )
    assert done.status_code == 201, done.json()
    assert StepVote.objects.get(pk=done.json()["id"]).revises_id == first.pk
