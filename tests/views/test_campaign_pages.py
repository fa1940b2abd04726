"""The admin's campaign pages, with every persona."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotate.models import Campaign, Enrollment, Generator, Pair, Prompt, User
from tests import factories


def _url(name, campaign=None, *args):
    return reverse(f"annotate:{name}", args=[campaign.slug, *args] if campaign else args)


def _upload(name: str, rows) -> SimpleUploadedFile:
    body = "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows).encode()
    return SimpleUploadedFile(name, body)


# --- who may see what -------------------------------------------------------------------------


def test_it_shows_the_campaign_home_to_admins(admin_client, campaign):
    factories.GeneratorFactory(campaign=campaign, name="concise", model="demo-concise")
    response = admin_client.get(_url("campaign-detail", campaign))
    assert response.status_code == 200
    body = response.content.decode()
    for needle in (
        "Helpfulness",
        "Import prompts",
        "Add a generator",
        "demo-concise",
        "Enroll",
        "Pause",
    ):
        assert needle in body


def test_it_shows_researchers_a_read_only_page(researcher_client, campaign):
    response = researcher_client.get(_url("campaign-detail", campaign))
    assert response.status_code == 200
    body = response.content.decode()
    assert "read-only" in body and "Import prompts" not in body and "Add a generator" not in body


def test_it_forbids_the_page_to_raters(rater_client, outsider_client, anon_client, campaign):
    url = _url("campaign-detail", campaign)
    assert rater_client.get(url).status_code == 403
    assert outsider_client.get(url).status_code == 404
    response = anon_client.get(url)
    assert response.status_code == 302 and response.url.startswith("/login/")


ADMIN_POSTS = [
    ("campaign-edit", ()),
    ("campaign-status", ()),
    ("pairs-build", ()),
    ("prompt-import", ()),
    ("response-import", ()),
    ("generator-add", ()),
    ("enroll", ()),
    ("crowd-admin", ()),
    ("crowd-link", ()),
    ("crowd-training-add", ()),
]


@pytest.mark.parametrize(("name", "args"), ADMIN_POSTS)
def test_it_refuses_changes_from_anyone_but_admins(
    name, args, campaign, researcher_client, rater_client, outsider_client, anon_client
):
    url = _url(name, campaign, *args)
    assert researcher_client.post(url).status_code == 403
    assert rater_client.post(url).status_code == 403
    assert outsider_client.post(url).status_code == 404
    assert anon_client.post(url).status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.OPEN


def test_it_refuses_generator_delete_to_researchers(researcher_client, campaign):
    g = factories.GeneratorFactory(campaign=campaign)
    assert researcher_client.post(_url("generator-delete", campaign, g.id)).status_code == 403
    assert Generator.objects.filter(pk=g.pk).exists()


def test_it_lets_only_admins_create_campaigns_and_users(
    researcher_client, rater_client, admin_client
):
    for client in (researcher_client, rater_client):
        assert client.get(reverse("annotate:campaign-create")).status_code == 403
        assert client.get(reverse("annotate:rater-create")).status_code == 403
    assert admin_client.get(reverse("annotate:campaign-create")).status_code == 200


# --- what admins do ---------------------------------------------------------------------------


def _form(**overrides):
    data = {
        "title": "Coding help",
        "guidelines": "Prefer **correct** code.",
        "scale": "binary",
        "allow_both_bad": "on",
        "aspects": "helpful, honest",
        "rationale": "optional",
        "rationale_min_length": 0,
        "min_read_ms_per_1k_chars": 0,
        "overlap": 2,
        "lease_seconds": 600,
        "ordering": "finish_started",
        "pairing": "cross_generator",
        "max_pairs_per_prompt": 6,
        "self_id_policy": "hide",
        "gold_rate": 0,
        "gold_min_accuracy": 0,
        "gold_min_answered": 5,
        "judge_mode": "off",
    }
    data.update(overrides)
    return data


def test_it_creates_and_edits_a_campaign(admin_client, admin_user):
    response = admin_client.post(reverse("annotate:campaign-create"), _form())
    campaign = Campaign.objects.get(title="Coding help")
    assert response.status_code == 302 and response.url == _url("campaign-detail", campaign)
    assert campaign.aspects == ["helpful", "honest"] and campaign.overlap == 2
    assert campaign.status == "draft" and campaign.created_by == admin_user
    assert "<strong>correct</strong>" in campaign.guidelines_html
    response = admin_client.post(_url("campaign-edit", campaign), _form(title="Coding", aspects=""))
    campaign.refresh_from_db()
    assert response.status_code == 302 and campaign.title == "Coding" and campaign.aspects == []


def test_it_shows_form_errors(admin_client):
    response = admin_client.post(reverse("annotate:campaign-create"), _form(gold_rate=3, overlap=0))
    assert response.status_code == 200
    assert b"A share between 0 and 1" in response.content
    assert not Campaign.objects.exists()


def test_it_imports_prompts_with_a_plain_post(admin_client, campaign):
    upload = _upload("p.jsonl", [{"prompt": "one"}, {"prompt": "two"}])
    response = admin_client.post(_url("prompt-import", campaign), {"file": upload}, follow=True)
    assert Prompt.objects.filter(campaign=campaign).count() == 2
    assert b"Imported 2 prompts." in response.content


def test_it_reports_every_bad_line_on_the_page(admin_client, campaign):
    upload = _upload("p.jsonl", [{"prompt": "ok"}, "{bad", {"prompt": ""}])
    response = admin_client.post(_url("prompt-import", campaign), {"file": upload})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Nothing was imported" in body
    assert "line 2</span> malformed JSON" in body and "line 3</span> empty prompt" in body
    assert not Prompt.objects.filter(campaign=campaign).exists()


def test_it_answers_htmx_uploads_with_the_result_fragment(admin_client, campaign):
    upload = _upload("p.jsonl", [{"prompt": "ok"}, "{bad"])
    response = admin_client.post(
        _url("prompt-import", campaign), {"file": upload}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith("{#") is False and "<html" not in body
    assert "line 2" in body and "Nothing was imported" in body


def test_it_refuses_files_of_the_wrong_type(admin_client, campaign):
    response = admin_client.post(
        _url("prompt-import", campaign), {"file": SimpleUploadedFile("p.txt", b"x")}
    )
    assert response.status_code == 400 and b"Upload a .jsonl or .csv file." in response.content


def test_it_imports_responses(admin_client, campaign):
    upload = _upload(
        "r.jsonl",
        [{"prompt": "Q", "responses": [{"model": "a", "text": "x"}, {"model": "b", "text": "y"}]}],
    )
    admin_client.post(_url("response-import", campaign), {"file": upload})
    assert Generator.objects.filter(campaign=campaign, provider="imported").count() == 2


def test_it_adds_a_generator_and_shows_errors(admin_client, campaign):
    url = _url("generator-add", campaign)
    ok = admin_client.post(
        url,
        {
            "provider": "anthropic",
            "model": "claude-sonnet-4-6",
            "params": '{"temperature": 1}',
            "samples_per_prompt": 2,
            "endpoint": "anthropic",
        },
    )
    assert ok.status_code == 302
    g = Generator.objects.get(campaign=campaign)
    assert (g.name, g.params, g.samples_per_prompt) == ("claude-sonnet-4-6", {"temperature": 1}, 2)
    assert g.endpoint == "anthropic"
    bad = admin_client.post(
        url,
        {
            "provider": "anthropic",
            "model": "m",
            "params": "{oops",
            "samples_per_prompt": 1,
            "base_url": "http://127.0.0.1:9/v1",
        },
    )
    assert bad.status_code == 400
    assert b"Not valid JSON" in bad.content and b"An Anthropic generator or judge" in bad.content
    assert Generator.objects.filter(campaign=campaign).count() == 1


def test_it_deletes_an_unused_generator(admin_client, campaign):
    g = factories.GeneratorFactory(campaign=campaign)
    admin_client.post(_url("generator-delete", campaign, g.id))
    assert not Generator.objects.filter(pk=g.pk).exists()


def test_it_enrolls_and_removes_raters(admin_client, campaign):
    factories.UserFactory(username="dora")
    response = admin_client.post(
        _url("enroll", campaign), {"usernames": "dora, ghost"}, follow=True
    )
    assert b"No such user: ghost" in response.content
    admin_client.post(_url("enroll", campaign), {"usernames": "dora"})
    assert Enrollment.objects.filter(campaign=campaign, rater__username="dora").exists()
    admin_client.post(_url("enroll", campaign), {"remove": "dora"})
    assert not Enrollment.objects.filter(campaign=campaign, rater__username="dora").exists()


def test_it_creates_a_rater_and_enrolls_them(admin_client, campaign):
    response = admin_client.post(
        reverse("annotate:rater-create") + f"?campaign={campaign.slug}",
        {"username": "erin", "password": "a-long-password", "role": "rater", "enroll": "on"},
    )
    assert response.status_code == 302
    erin = User.objects.get(username="erin")
    assert erin.role == "rater" and campaign.enrollments.filter(rater=erin).exists()


def test_it_opens_a_campaign_and_builds_pairs(admin_client):
    draft = factories.CampaignFactory(status="draft")
    prompt = factories.PromptFactory(campaign=draft)
    factories.CandidateFactory(prompt=prompt)
    refused = admin_client.post(_url("campaign-status", draft), {"action": "open"}, follow=True)
    assert b"Cannot open" in refused.content
    factories.CandidateFactory(prompt=prompt)
    admin_client.post(_url("campaign-status", draft), {"action": "open"})
    draft.refresh_from_db()
    assert draft.status == "open" and Pair.objects.filter(campaign=draft).count() == 1
    admin_client.post(_url("campaign-status", draft), {"action": "pause"})
    draft.refresh_from_db()
    assert draft.status == "paused"


def test_it_builds_pairs_on_request(admin_client, campaign):
    prompt = factories.PromptFactory(campaign=campaign)
    factories.CandidateFactory(prompt=prompt)
    factories.CandidateFactory(prompt=prompt)
    response = admin_client.post(_url("pairs-build", campaign), follow=True)
    assert b"1 new pairs" in response.content
    assert b"1 pair," in response.content or b"1 pair." in response.content


def test_it_reloads_the_page_after_a_good_htmx_upload(admin_client, campaign):
    upload = _upload("p.jsonl", [{"prompt": "one"}])
    response = admin_client.post(
        _url("prompt-import", campaign), {"file": upload}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and response.headers["HX-Refresh"] == "true"
    assert b"Imported 1 prompts." in admin_client.get(_url("campaign-detail", campaign)).content


def test_it_lists_responses_that_name_a_model_with_the_passage(admin_client, campaign):
    prompt = factories.PromptFactory(campaign=campaign, external_id="q-7")
    factories.CandidateFactory(prompt=prompt, text="Sure! As Claude, I would say yes.")
    factories.CandidateFactory(prompt=prompt, text="Yes.")
    admin_client.post(_url("pairs-build", campaign))
    body = admin_client.get(_url("campaign-detail", campaign)).content.decode()
    assert "Responses that name a model (1)" in body
    assert "<mark>As Claude,</mark>" in body and "q-7" in body


def test_it_creates_a_ranking_campaign_and_refuses_k_outside_3_to_9(admin_client):
    page = admin_client.get(reverse("annotate:campaign-create")).content.decode()
    assert 'name="protocol"' in page and 'name="ranking_k"' in page
    refused = admin_client.post(
        reverse("annotate:campaign-create"), _form(protocol="ranking", ranking_k=12)
    )
    assert refused.status_code == 200 and not Campaign.objects.exists()
    admin_client.post(reverse("annotate:campaign-create"), _form(protocol="ranking", ranking_k=5))
    campaign = Campaign.objects.get(title="Coding help")
    assert campaign.is_ranking and campaign.ranking_k == 5
    admin_client.post(_url("campaign-edit", campaign), _form(title="Coding"))  # fields left out
    campaign.refresh_from_db()
    assert campaign.title == "Coding" and campaign.is_ranking and campaign.ranking_k == 5


def test_it_creates_a_step_campaign_and_refuses_a_bad_step_pattern(admin_client):
    page = admin_client.get(reverse("annotate:campaign-create")).content.decode()
    assert 'name="step_split"' in page and 'name="step_pattern"' in page
    refused = admin_client.post(
        reverse("annotate:campaign-create"),
        _form(protocol="steps", step_split="regex", step_pattern="(unclosed"),
    )
    assert refused.status_code == 200 and not Campaign.objects.exists()
    assert "Not a regular expression" in refused.content.decode()
    admin_client.post(
        reverse("annotate:campaign-create"),
        _form(protocol="steps", step_split="numbered", step_source="reasoning"),
    )
    campaign = Campaign.objects.get(title="Coding help")
    assert campaign.is_steps and campaign.step_split == "numbered"
    assert campaign.step_source == "reasoning"
    admin_client.post(_url("campaign-edit", campaign), _form(title="Coding"))  # fields left out
    campaign.refresh_from_db()
    assert campaign.step_split == "numbered" and campaign.step_source == "reasoning"
