"""Step labels for raters through the API: next trace, submit, refusals, and who may ask."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotate.models import Campaign, StepVote
from tests import factories

pytestmark = pytest.mark.django_db

NEXT, VOTE = "/api/campaigns/helpfulness/steps/next/", "/api/campaigns/helpfulness/steps/vote/"


def _api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def stepped(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(protocol="steps", step_stop_at_wrong=True)
    campaign.refresh_from_db()
    unit = factories.step_trace(campaign=campaign)
    generator = unit.candidate.generator
    generator.name = "secret-gen"
    generator.model = "secret-model"
    generator.save()
    return campaign


def test_it_serves_the_stored_steps_without_model_names(rater, stepped):
    client = _api(rater)
    response = client.post(NEXT, {}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert [s["number"] for s in body["steps"]] == [1, 2, 3]
    assert body["steps"][1]["text"] == "Double it: 8."
    assert body["stop_at_wrong"] is True and body["source"] == "answer"
    assert "secret-" not in response.content.decode()
    assert client.post(NEXT, {}, format="json").json()["lease"] == body["lease"]  # same lease


def test_it_records_labels_once(rater, stepped):
    client = _api(rater)
    lease = client.post(NEXT, {}, format="json").json()["lease"]
    vote = {"lease": lease, "labels": [1, -1, None], "notes": ["", "8 is wrong", ""]}
    first = client.post(VOTE, vote, format="json")
    assert first.status_code == 201 and first.json()["replayed"] is False
    again = client.post(VOTE, vote, format="json")
    assert again.status_code == 200 and again.json() == {**first.json(), "replayed": True}
    stored = StepVote.objects.get()
    assert stored.labels == [1, -1, None] and stored.notes == ["", "8 is wrong", ""]
    assert client.post(NEXT, {}, format="json").status_code == 204  # nothing left


@pytest.mark.parametrize(
    "change, status, field",
    [
        ({"labels": [1, 1]}, 400, "detail"),
        ({"labels": [1, None, 1]}, 400, "detail"),
        ({"labels": [1, 2, 1]}, 400, "labels"),
        ({"labels": ["yes", 1, 1]}, 400, "labels"),
        ({"labels": "111"}, 400, "labels"),
        ({"labels": [1] * 41}, 400, "labels"),
        ({"notes": ["", ""]}, 400, "detail"),
        ({"notes": ["", "x" * 1001, ""]}, 400, "notes"),
        ({"notes": ["", "a\x00", ""]}, 400, "detail"),
        ({"surprise": 1}, 400, "surprise"),
        ({"lease": 0}, 400, "lease"),
        ({"lease": 2**62}, 404, "detail"),
    ],
)
def test_it_refuses_bad_input_with_a_4xx(rater, stepped, change, status, field):
    client = _api(rater)
    lease = client.post(NEXT, {}, format="json").json()["lease"]
    vote = {"lease": lease, "labels": [1, 1, 1], **change}
    response = client.post(VOTE, vote, format="json")
    assert response.status_code == status, response.content
    assert field in response.json()
    assert not StepVote.objects.exists()


def test_it_keeps_others_out(rater, outsider, stepped):
    assert _api().post(NEXT, {}, format="json").status_code == 401
    assert _api(outsider).post(NEXT, {}, format="json").status_code == 404
    lease = _api(rater).post(NEXT, {}, format="json").json()["lease"]
    vote = {"lease": lease, "labels": [1, 1, 1]}
    assert _api(outsider).post(VOTE, vote, format="json").status_code == 404
    other = factories.UserFactory()
    factories.EnrollmentFactory(campaign=stepped, rater=other)
    assert _api(other).post(VOTE, vote, format="json").status_code == 404
    assert not StepVote.objects.exists()


def test_a_campaign_of_another_protocol_answers_409(rater, campaign):
    response = _api(rater).post(NEXT, {}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "protocol"
    assert _api(rater).post(VOTE, {"lease": 1, "labels": [1]}, format="json").status_code == 409
    assert _api(rater).post(NEXT, {"x": 1}, format="json").status_code == 400


def test_the_operations_are_in_the_schema(admin_user):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    assert "/api/campaigns/{slug}/steps/next/" in paths
    vote = paths["/api/campaigns/{slug}/steps/vote/"]["post"]
    assert vote["operationId"] == "steps_vote"


def test_exports_of_another_protocol_answer_409_and_step_neutral_is_a_filter(
    admin_user, campaign, stepped
):
    client = _api(admin_user)
    url = "/api/campaigns/helpfulness/exports/create/"
    wrong = client.post(url, {"format": "trl-dpo-conversational"}, format="json")
    assert wrong.status_code == 409 and "trl-stepwise" in wrong.json()["detail"]
    made = client.post(
        url, {"format": "trl-stepwise", "filters": {"step_neutral": "drop"}}, format="json"
    )
    assert made.status_code == 201, made.json()
    bad = client.post(
        url, {"format": "trl-stepwise", "filters": {"step_neutral": "maybe"}}, format="json"
    )
    assert bad.status_code == 400
    other = factories.CampaignFactory(slug="pairs-only")
    factories.EnrollmentFactory(campaign=other, rater=admin_user)
    refused = client.post(
        "/api/campaigns/pairs-only/exports/create/", {"format": "steps"}, format="json"
    )
    assert refused.status_code == 409


def test_a_vote_with_next_returns_the_next_trace_as_next_would(rater, stepped):
    factories.step_trace(campaign=stepped, steps=("One.", "Two."))
    client = _api(rater)
    first = client.post(NEXT, {}, format="json").json()
    labels = [1] * len(first["steps"])
    voted = client.post(
        VOTE, {"lease": first["lease"], "labels": labels, "next": True}, format="json"
    )
    assert voted.status_code == 201
    following = voted.json()["next"]
    assert following["lease"] != first["lease"]
    assert following == client.post(NEXT, {}, format="json").json()
    labels = [1] * len(following["steps"])
    done = client.post(
        VOTE, {"lease": following["lease"], "labels": labels, "next": True}, format="json"
    )
    assert done.status_code == 201 and done.json()["next"] is None
