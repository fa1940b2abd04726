"""Export API: create (queued as a job), status, download; researchers and admins only."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotate.models import Export
from annotate.services.exports import export_run
from tests.exports.builders import campaign_with_votes


def _api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_it_creates_runs_and_downloads_an_export_with_a_token(
    researcher, campaign, django_capture_on_commit_callbacks
):
    campaign_with_votes(campaign)
    api = _api(researcher)
    url = reverse("api:export-create", args=[campaign.slug])
    with django_capture_on_commit_callbacks() as callbacks:
        response = api.post(
            url, {"format": "openai-dpo", "filters": {"min_votes": 2}}, format="json"
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["download_url"], body["filters"]["min_votes"]) == (
        "queued",
        None,
        2,
    )
    assert len(callbacks) == 1

    export_run(export_id=body["id"])  # what the worker does
    status = api.get(body["status_url"]).json()
    assert (status["status"], status["progress"], status["row_count"]) == ("done", 100, 2)
    download = api.get(status["download_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content)[:2] == b"PK"
    listed = api.get(reverse("api:export-list", args=[campaign.slug])).json()
    assert [e["id"] for e in listed] == [body["id"]]


def test_it_answers_a_bad_filter_with_a_400_naming_it(researcher, campaign):
    response = _api(researcher).post(
        reverse("api:export-create", args=[campaign.slug]),
        {"format": "trl-kto", "filters": {"tie_policy": "coin-flip", "sede": 1}},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["filters"]) == {"tie_policy", "sede"}
    assert not Export.objects.exists()


@pytest.mark.parametrize(("persona", "code"), [("rater", 403), ("outsider", 404)])
def test_it_refuses_raters_everywhere(request, campaign, researcher, persona, code):
    campaign_with_votes(campaign)
    export = Export.objects.create(campaign=campaign, format="trl-kto", created_by=researcher)
    export_run(export_id=export.id)
    api = _api(request.getfixturevalue(persona))
    assert (
        api.post(reverse("api:export-create", args=[campaign.slug]), {}, format="json").status_code
        == code
    )
    assert api.get(reverse("api:export-list", args=[campaign.slug])).status_code == code
    assert api.get(reverse("api:export-detail", args=[export.id])).status_code == code
    assert api.get(reverse("api:export-download", args=[export.id])).status_code == code
    assert Export.objects.count() == 1


def test_it_needs_authentication(campaign):
    response = APIClient().get(reverse("api:export-list", args=[campaign.slug]))
    assert response.status_code in (401, 403)


def test_an_empty_export_is_failed_with_its_reason_and_no_download(researcher, campaign):
    campaign_with_votes(campaign)
    api = _api(researcher)
    body = api.post(
        reverse("api:export-create", args=[campaign.slug]),
        {"format": "trl-dpo-conversational", "filters": {"source": "judge"}},
        format="json",
    ).json()
    export_run(export_id=body["id"])
    status = api.get(body["status_url"]).json()
    assert (status["status"], status["row_count"], status["download_url"]) == ("failed", 0, None)
    assert status["error"].startswith("No rows to export: no vote comes from the AI judge")
    assert api.get(reverse("api:export-download", args=[body["id"]])).status_code == 404


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("min_gold_accuracy", "nan"),
        ("test_fraction", "Infinity"),
        ("kto_threshold", "-inf"),
        ("min_votes", True),
        ("min_votes", 2.5),
    ],
)
def test_it_answers_a_non_finite_number_with_a_400_naming_it(researcher, campaign, field, value):
    response = _api(researcher).post(
        reverse("api:export-create", args=[campaign.slug]),
        {"format": "trl-kto", "filters": {field: value}},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert list(response.json()["filters"]) == [field]
    assert not Export.objects.exists()


@pytest.mark.parametrize(
    ("field", "literal", "says"),
    [
        # JSON reads 1e999 as infinity (even in strict mode): refused naming where it is.
        ("seed", "1e999", "filters.seed is not a finite number"),
        ("min_votes", "1e999", "filters.min_votes is not a finite number"),
        ("test_fraction", "-1e999", "filters.test_fraction is not a finite number"),
        # A bare NaN or Infinity is not JSON at all: the body is refused as such.
        ("test_fraction", "NaN", "NaN is not a JSON number"),
        ("test_fraction", "-Infinity", "Infinity is not a JSON number"),
    ],
)
def test_a_json_number_that_is_not_finite_is_a_400(researcher, campaign, field, literal, says):
    body = f'{{"format": "trl-reward", "filters": {{"{field}": {literal}}}}}'
    response = _api(researcher).post(
        reverse("api:export-create", args=[campaign.slug]), body, content_type="application/json"
    )
    assert response.status_code == 400
    assert says in response.json()["detail"]
    assert not Export.objects.exists()
