"""The crowd page (admins only): settings under the model's rules, study URLs, signed links,
training pairs, the participants table and the approvals CSV; the persona matrix."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from annotate.models import CrowdSettings, Participant, TrainingUnit
from annotate.services.participants import participant_arrive, participant_finish
from tests import factories
from tests.fakes.crowd import crowd_campaign, prolific_id

pytestmark = pytest.mark.django_db


def _u(name, slug="helpfulness"):
    return reverse(f"annotate:{name}", args=[slug])


GOOD = {
    "enabled": "on",
    "completion_code": "CABC123",
    "screened_out_code": "SCR1",
    "failed_attention_code": "ATT1",
    "returned_code": "",
    "completion_url": "https://app.prolific.com/submissions/complete?cc=",
    "units_per_participant": "40",
    "attention_min_accuracy": "0.5",
    "attention_min_answered": "3",
    "consent": "You **agree**.",
    "training_units": "0",
    "training_pass": "0",
    "return_hosts": "survey.example.org",
    "prolific_study_id": "",
}


def test_the_admin_saves_settings_and_sees_the_study_urls(admin_client, campaign):
    response = admin_client.post(_u("crowd-admin"), GOOD)
    assert response.status_code == 302
    crowd = CrowdSettings.objects.get(campaign=campaign)
    assert crowd.enabled and crowd.units_per_participant == 40
    assert crowd.consent_html == "<p>You <strong>agree</strong>.</p>\n"
    assert crowd.return_hosts == ["survey.example.org"]
    page = admin_client.get(_u("crowd-admin")).content.decode()
    assert "/p/helpfulness/prolific/?PROLIFIC_PID={{%PROLIFIC_PID%}}&amp;STUDY_ID=" in page
    assert "/p/helpfulness/mturk/" in page


@pytest.mark.parametrize(
    "change, field",
    [
        ({"completion_code": "has space"}, "completion_code"),
        ({"completion_code": ""}, "completion_code"),
        ({"completion_url": "http://evil.example.org/?cc="}, "completion_url"),
        ({"completion_url": "javascript:alert(1)"}, "completion_url"),
        ({"units_per_participant": "0"}, "units_per_participant"),
        ({"attention_min_accuracy": "1.5"}, "attention_min_accuracy"),
        ({"attention_min_accuracy": "nan"}, "attention_min_accuracy"),
        ({"failed_attention_code": ""}, "failed_attention_code"),
        ({"training_units": "2", "screened_out_code": ""}, "screened_out_code"),
        ({"return_hosts": "not a host!"}, "return_hosts"),
        ({"prolific_study_id": "xyz"}, "prolific_study_id"),
    ],
)
def test_the_page_refuses_bad_settings_with_a_400(admin_client, campaign, change, field):
    response = admin_client.post(_u("crowd-admin"), {**GOOD, **change})
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not CrowdSettings.objects.filter(campaign=campaign, enabled=True).exists()


def test_the_admin_makes_a_signed_link(admin_client, campaign):
    admin_client.post(_u("crowd-admin"), GOOD)
    response = admin_client.post(
        _u("crowd-link"),
        {"external_id": "sona-7", "return_url": "https://survey.example.org/done"},
    )
    assert response.status_code == 200
    link = response.context["join_url"]
    assert "/p/helpfulness/join/" in link
    client = Client()
    assert client.get(link.split("testserver")[1]).status_code == 302
    assert Participant.objects.get().external_id == "sona-7"
    refused = admin_client.post(
        _u("crowd-link"), {"external_id": "sona-7", "return_url": "https://other.example.org/"}
    )
    assert refused.status_code == 400 and b"return hosts" in refused.content


def test_the_admin_adds_a_training_pair(admin_client, campaign):
    gold = factories.PairFactory(campaign=campaign, gold_answer="a")
    plain = factories.PairFactory(campaign=campaign)
    response = admin_client.post(
        _u("crowd-training-add"), {"pair": gold.pk, "explanation": "A is right."}
    )
    assert response.status_code == 302
    gold.refresh_from_db()
    assert gold.needed == 0 and TrainingUnit.objects.get().pair == gold
    for bad in ({"pair": plain.pk}, {"pair": 10**12}, {"pair": "x"}, {"pair": gold.pk}):
        assert admin_client.post(_u("crowd-training-add"), bad).status_code == 400


def test_the_participants_table_and_csv(admin_client):
    campaign, *_ = crowd_campaign(slug="helpfulness")
    pid = prolific_id()
    p = participant_arrive(
        campaign=campaign, platform="prolific", external_id=pid, study_id="a" * 24
    )
    Participant.objects.filter(pk=p.pk).update(active_seconds=150)
    participant_finish(participant=p, status="completed")
    page = admin_client.get(_u("crowd-admin"))
    assert pid.encode() in page.content and b"2.5" in page.content
    body = admin_client.get(_u("crowd-csv"))
    assert body["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body.content.decode())))
    assert rows[0]["participant_id"] == pid
    assert rows[0]["status"] == "completed" and rows[0]["active_minutes"] == "2.5"
    assert rows[0]["study_id"] == "a" * 24
    hidden = admin_client.get(_u("crowd-csv") + "?ids=pseudonym").content.decode()
    assert pid not in hidden and "p_" in hidden


@pytest.mark.parametrize("name", ["crowd-admin", "crowd-csv"])
def test_only_admins_get_the_crowd_pages(
    name, campaign, researcher_client, rater_client, outsider_client, anon_client
):
    assert researcher_client.get(_u(name)).status_code == 403
    assert rater_client.get(_u(name)).status_code == 403
    assert outsider_client.get(_u(name)).status_code == 404
    assert anon_client.get(_u(name)).status_code == 302


@pytest.mark.parametrize("name", ["crowd-admin", "crowd-link", "crowd-training-add"])
def test_only_admins_post_to_the_crowd_pages(
    name, campaign, researcher_client, rater_client, outsider_client, anon_client
):
    assert researcher_client.post(_u(name), GOOD).status_code == 403
    assert rater_client.post(_u(name), GOOD).status_code == 403
    assert outsider_client.post(_u(name), GOOD).status_code == 404
    assert anon_client.post(_u(name), GOOD).status_code == 302
    assert not CrowdSettings.objects.filter(enabled=True).exists()
