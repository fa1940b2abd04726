"""Crowd settings and the participants report through the API: the page's rules, unknown keys
refused, admins only."""

from __future__ import annotations

import csv
import io

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotate.models import CrowdSettings
from annotate.services.participants import participant_arrive
from tests.fakes.crowd import crowd_campaign, prolific_id

pytestmark = pytest.mark.django_db
BASE = "/api/campaigns/helpfulness"


def _api(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_it_reads_and_updates_crowd_settings(admin_user, campaign):
    api = _api(admin_user)
    assert api.get(f"{BASE}/crowd/").json()["enabled"] is False
    response = api.patch(
        f"{BASE}/crowd/update/",
        {
            "enabled": True,
            "completion_code": "C1",
            "units_per_participant": 12,
            "return_hosts": ["survey.example.org"],
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["units_per_participant"] == 12
    assert CrowdSettings.objects.get(campaign=campaign).enabled


@pytest.mark.parametrize(
    "body",
    [
        {"surprise": 1},
        {"enabled": True},  # no completion code
        {"completion_code": "a b"},
        {"completion_url": "http://x.example.org/"},
        {"units_per_participant": -1},
        {"units_per_participant": "many"},
        {"attention_min_accuracy": 2},
        {"return_hosts": "survey.example.org"},
        {"return_hosts": ["Not A Host"]},
        {"return_hosts": ["h.example.org"] * 21},
        {"consent": "a\x00b"},
        {"pseudonym_salt": "mine"},
    ],
)
def test_it_refuses_bad_settings_with_a_400(admin_user, campaign, body):
    response = _api(admin_user).patch(f"{BASE}/crowd/update/", body, format="json")
    assert response.status_code == 400, response.content
    assert not CrowdSettings.objects.filter(enabled=True).exists()


def test_it_reports_participants_as_json_and_csv(admin_user):
    campaign, *_ = crowd_campaign(slug="helpfulness")
    pid = prolific_id()
    participant_arrive(campaign=campaign, platform="prolific", external_id=pid)
    api = _api(admin_user)
    rows = api.get(f"{BASE}/participants/").json()
    assert rows[0]["participant_id"] == pid and rows[0]["status"] == "working"
    hidden = api.get(f"{BASE}/participants/?ids=pseudonym").json()
    assert hidden[0]["participant_id"].startswith("p_")
    body = api.get(f"{BASE}/participants.csv")
    assert body.status_code == 200 and body["Content-Type"].startswith("text/csv")
    assert list(csv.DictReader(io.StringIO(body.content.decode())))[0]["participant_id"] == pid
    assert api.get(f"{BASE}/participants/?ids=everything").status_code == 400


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/crowd/"),
        ("patch", "/crowd/update/"),
        ("get", "/participants/"),
        ("get", "/participants.csv"),
    ],
)
def test_only_admins_use_the_crowd_api(method, path, researcher, rater, outsider, campaign):
    assert getattr(_api(researcher), method)(BASE + path).status_code == 403
    assert getattr(_api(rater), method)(BASE + path).status_code == 403
    assert getattr(_api(outsider), method)(BASE + path).status_code == 404
    assert getattr(APIClient(), method)(BASE + path).status_code in (401, 403)
