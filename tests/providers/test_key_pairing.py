"""No secret an admin can redirect: a key goes only to the base URL the operator paired it with.

A capture server on 127.0.0.1 plays the host an admin would like the keys sent to; it records the
Authorization and x-api-key headers of every request it gets. Every way in is tried (the generator
form, the API, the judge's page and API, the back office, and rows written behind the rules' back,
as a row stored before them would be); then the workers run whatever got stored, fast and batched,
generation and the judge. The capture server must never see a secret: not the operator's keys, not
SECRET_KEY or DATABASE_URL. The operator's own endpoints, meanwhile, get their keys (so the capture
would have seen one, had one been sent).
"""

from __future__ import annotations

import json
import os

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from annotate.models import (
    Candidate,
    GenerationJob,
    Generator,
    JudgeConfig,
    JudgeJob,
    JudgeVerdict,
)
from annotate.services.generation import candidate_generate
from annotate.services.generation_batches import batches_submit
from annotate.services.judging import judge_pair_run, rubric_current
from annotate.services.judging_batch import judge_batch_submit
from tests import factories
from tests.fakes.judge_fixtures import make_pair
from tests.fakes.judge_server import JudgeFakeServer
from tests.fakes.provider_server import FakeProviderServer

ANTHROPIC_KEY = "sk-ant-operator-secret"
VLLM_KEY = "sk-vllm-operator-secret"
LONG = "A careful, complete answer that explains the steps and checks the result twice."


@pytest.fixture
def capture():
    server = FakeProviderServer().start()
    yield server
    server.stop()


@pytest.fixture
def paired(settings, monkeypatch):
    """The operator's hosts: Anthropic (ANTHROPIC_BASE_URL) and a vLLM endpoint with its key."""
    server = JudgeFakeServer().start()
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("VLLM_API_KEY", VLLM_KEY)
    settings.ANTHROPIC_BASE_URL = server.url
    settings.PROVIDER_ENDPOINTS = json.dumps(
        {
            "vllm": {
                "provider": "openai_compatible",
                "base_url": f"{server.url}/v1",
                "key_env": "VLLM_API_KEY",
            }
        }
    )
    settings.PROVIDER_TIMEOUT_SECONDS = 2.0
    yield server
    server.stop()


@pytest.fixture
def secrets(settings):
    values = [ANTHROPIC_KEY, VLLM_KEY, settings.SECRET_KEY, os.environ["DATABASE_URL"]]
    assert all(len(v) > 8 for v in values)
    return values


@pytest.fixture
def superuser(db):
    return factories.UserFactory(username="root", role="admin", is_staff=True, is_superuser=True)


def _admin_post(client, model: str, obj, data: dict):
    url = reverse(f"admin:annotate_{model}_change", args=[obj.pk])
    return client.post(url, data)


def _generator_admin_data(generator: Generator, **target) -> dict:
    return {
        "campaign": generator.campaign_id,
        "name": generator.name,
        "provider": generator.provider,
        "model": generator.model,
        "endpoint": generator.endpoint,
        "base_url": generator.base_url,
        "params": "{}",
        "system_prompt": "",
        "samples_per_prompt": 1,
        "created_at_0": "2026-01-01",
        "created_at_1": "00:00:00",
        **target,
    }


def _judge_admin_data(config: JudgeConfig, **target) -> dict:
    return {
        "campaign": config.campaign_id,
        "provider": config.provider,
        "model": config.model,
        "endpoint": config.endpoint,
        "base_url": config.base_url,
        "params": "{}",
        "mode": "fast",
        "auto_label_min_kappa": 0.6,
        "auto_label_min_pairs": 20,
        "updated_at_0": "2026-01-01",
        "updated_at_1": "00:00:00",
        **target,
    }


def _generate(generator: Generator, prompt) -> Candidate:
    candidate = Candidate.objects.create(prompt=prompt, generator=generator)
    candidate_generate(candidate_id=candidate.id)
    candidate.refresh_from_db()
    return candidate


def _pending_verdict(campaign, pair) -> JudgeVerdict:
    config = JudgeConfig.objects.get(campaign=campaign)
    return JudgeVerdict.objects.create(
        campaign=campaign,
        prompt=pair.prompt,
        pair=pair,
        candidate_a=pair.candidate_a,
        candidate_b=pair.candidate_b,
        rubric=rubric_current(campaign=campaign),
        provider=config.provider,
        model=config.model,
    )


def test_it_never_sends_a_secret_to_a_host_the_operator_did_not_pair_it_with(
    campaign, admin_user, admin_client, superuser, client, capture, paired, secrets
):
    elsewhere = f"{capture.url}/v1"
    prompt = factories.PromptFactory(campaign=campaign)
    api = APIClient()
    api.force_authenticate(admin_user)

    # 1. The generator form on the campaign page.
    page = reverse("annotate:generator-add", args=[campaign.slug])
    common = {"model": "m", "samples_per_prompt": 1, "params": ""}
    for i, (target, why) in enumerate(
        (
            ({"provider": "anthropic", "base_url": elsewhere}, "An Anthropic generator"),
            (
                {"provider": "anthropic", "endpoint": "anthropic", "base_url": elsewhere},
                "Leave the base URL empty",
            ),
            (
                {"provider": "openai_compatible", "endpoint": "vllm", "base_url": elsewhere},
                "Leave the base URL empty",
            ),
            ({"provider": "openai_compatible", "endpoint": "SECRET_KEY"}, "Select a valid choice"),
            ({"provider": "anthropic", "endpoint": "vllm"}, "is not an endpoint"),
        )
    ):
        response = admin_client.post(page, {**common, "name": f"page-{i}", **target})
        assert response.status_code == 400 and why in response.content.decode(), target
    # A base URL with no key may be typed; a key variable slipped into the form goes nowhere.
    response = admin_client.post(
        page,
        {
            **common,
            "name": "local",
            "provider": "openai_compatible",
            "base_url": elsewhere,
            "api_key_env": "ANTHROPIC_API_KEY",
        },
    )
    assert response.status_code == 302
    local = Generator.objects.get(campaign=campaign, name="local")
    assert (local.endpoint, local.base_url) == ("", elsewhere)

    # 2. The API, as the same admin.
    url = f"/api/campaigns/{campaign.slug}/generators/"
    for body, field in (
        ({"provider": "anthropic", "base_url": elsewhere}, "base_url"),
        ({"provider": "openai_compatible", "endpoint": "vllm", "base_url": elsewhere}, "base_url"),
        ({"provider": "openai_compatible", "endpoint": "DATABASE_URL"}, "endpoint"),
        (
            {"provider": "openai_compatible", "base_url": elsewhere, "api_key_env": "VLLM_API_KEY"},
            "api_key_env",
        ),
    ):
        response = api.post(url, {"model": "m", "name": field, **body}, format="json")
        assert response.status_code == 400, body
        payload = response.json()
        assert field in payload or payload.get("detail", "").startswith(f"{field}: "), payload

    # 3. The judge's page and API.
    judge_page = reverse("annotate:judge", args=[campaign.slug])
    judge_form = {
        "judge_mode": "after_vote",
        "model": "m",
        "mode": "fast",
        "auto_label_min_kappa": "0.6",
        "auto_label_min_pairs": "20",
        "rubric_text": "Judge like an expert. Prefer correct answers over long ones.",
    }
    for target in (
        {"provider": "anthropic", "base_url": elsewhere},
        {"provider": "openai_compatible", "endpoint": "vllm", "base_url": elsewhere},
    ):
        assert admin_client.post(judge_page, {**judge_form, **target}).status_code == 400
        response = api.post(f"/api/campaigns/{campaign.slug}/judge/update/", target, format="json")
        assert response.status_code == 400, response.json()
    response = api.post(
        f"/api/campaigns/{campaign.slug}/judge/update/",
        {"provider": "openai_compatible", "api_key_env": "ANTHROPIC_API_KEY"},
        format="json",
    )
    assert response.status_code == 400 and "api_key_env" in response.json()
    assert admin_client.post(judge_page, {**judge_form, "provider": "anthropic"}).status_code == 302
    config = JudgeConfig.objects.get(campaign=campaign)
    assert (config.provider, config.endpoint, config.base_url) == ("anthropic", "anthropic", "")

    # 4. The back office: the same rule on the model's own form.
    client.force_login(superuser)
    claude = Generator.objects.create(
        campaign=campaign, name="claude", provider="anthropic", model="claude-sonnet-4-6"
    )
    for target in (
        {"base_url": elsewhere},
        {"endpoint": "anthropic", "base_url": elsewhere},
        {"provider": "openai_compatible", "endpoint": "vllm", "base_url": elsewhere},
        {"endpoint": "ANTHROPIC_API_KEY"},
    ):
        response = _admin_post(client, "generator", claude, _generator_admin_data(claude, **target))
        assert response.status_code == 200 and b"errornote" in response.content, target
        response = _admin_post(client, "judgeconfig", config, _judge_admin_data(config, **target))
        assert response.status_code == 200 and b"errornote" in response.content, target
    claude.refresh_from_db()
    config.refresh_from_db()
    assert (claude.endpoint, claude.base_url) == ("", "")  # untouched
    assert (config.endpoint, config.base_url) == ("anthropic", "")
    # The same forms save a valid edit, so what they refused was the rule and nothing else.
    response = _admin_post(client, "generator", claude, _generator_admin_data(claude, model="m2"))
    assert response.status_code == 302
    assert Generator.objects.get(id=claude.id).model == "m2"

    # 5. Rows written behind the rules' back (stored before them, or by hand): the worker refuses.
    stored = [
        {"provider": "anthropic", "endpoint": "", "base_url": elsewhere},
        {"provider": "anthropic", "endpoint": "anthropic", "base_url": elsewhere},
        {"provider": "anthropic", "endpoint": "vllm", "base_url": ""},
        {"provider": "openai_compatible", "endpoint": "vllm", "base_url": elsewhere},
        {"provider": "openai_compatible", "endpoint": "ANTHROPIC_API_KEY", "base_url": ""},
        {"provider": "openai_compatible", "endpoint": "SECRET_KEY", "base_url": elsewhere},
    ]
    for i, target in enumerate(stored):
        generator = Generator.objects.create(campaign=campaign, name=f"raw-{i}", model="m")
        Generator.objects.filter(id=generator.id).update(**target)
        generator.refresh_from_db()
        candidate = _generate(generator, prompt)
        assert candidate.status == "failed", target
        assert candidate.error.startswith("Refused before sending"), candidate.error
    # Cheap mode too: a batch is refused before it is submitted.
    raw = Generator.objects.get(name="raw-0")
    job = GenerationJob.objects.create(campaign=campaign, mode="cheap")
    batched = Candidate.objects.create(prompt=prompt, generator=raw, job=job, sample_index=1)
    batches_submit(job_id=job.id)
    batched.refresh_from_db()
    assert batched.status == "failed" and batched.error.startswith("Refused before sending")

    # The judge, fast and batched, with its row edited by hand.
    pair = make_pair(campaign, LONG, "Short.")
    for target in stored[:2] + stored[3:4]:
        JudgeConfig.objects.filter(campaign=campaign).update(**target)
        verdict = _pending_verdict(campaign, pair)
        assert judge_pair_run(verdict_id=verdict.id).status == "failed"
        verdict.refresh_from_db()
        assert verdict.error.startswith("Refused before sending"), verdict.error
        JudgeVerdict.objects.filter(id=verdict.id).delete()
    JudgeConfig.objects.filter(campaign=campaign).update(**stored[0])
    verdict = _pending_verdict(campaign, pair)
    judge_job = JudgeJob.objects.create(campaign=campaign, rubric=verdict.rubric, mode="cheap")
    JudgeVerdict.objects.filter(id=verdict.id).update(job=judge_job)
    assert judge_batch_submit(job_id=judge_job.id).retry_in is None  # refused, not retried
    assert JudgeVerdict.objects.get(id=verdict.id).status == "failed"

    # What the only generator allowed to go there sends: no key at all.
    assert _generate(local, prompt).status == "done"
    assert capture.auth_seen and {a for _, a, _ in capture.auth_seen} == {"Bearer none"}
    assert capture.secrets_seen(*secrets) == set()

    # The operator's endpoints do get their own keys, and only those.
    vllm = Generator.objects.create(
        campaign=campaign, name="vllm", provider="openai_compatible", model="m", endpoint="vllm"
    )
    assert _generate(vllm, prompt).status == "done"
    claude.refresh_from_db()
    assert _generate(claude, prompt).status == "done"
    assert paired.secrets_seen(*secrets) == {ANTHROPIC_KEY, VLLM_KEY}
    assert capture.secrets_seen(*secrets) == set()
