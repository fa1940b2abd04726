"""The whole pipeline, as its users drive it, on a real Celery worker (Redis) and the real Anthropic SDK.

admin: create campaign → import prompts (JSONL) → add two Anthropic generators → start generation
(the worker calls the fake Anthropic server on 127.0.0.1) → enroll a rater → open (pairs are built)
rater: vote on every pair through the workbench (one POST per vote returns the next pair)
researcher: export TRL conversational DPO in the worker → download the archive → `datasets` loads it.
"""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from annotate.models import Campaign, Candidate, Export, GenerationJob, Judgment, Pair, User
from tests import factories
from tests.celery_broker import wait_for
from tests.fakes.provider_server import FakeProviderServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PROMPTS = [
    {"id": "p1", "prompt": "What is a **closure** in Python?"},
    {"id": "p2", "messages": [{"role": "user", "content": "Name three prime numbers."}]},
    {
        "id": "p3",
        "prompt": "Give one tip for writing clear commit messages.",
        "metadata": {"topic": "git"},
    },
]


@pytest.fixture
def worker(redis_app):
    """A real Celery worker thread on Redis; it sees the test database (data must be committed)."""
    with start_worker(redis_app, perform_ping_check=False, pool="solo", shutdown_timeout=10):
        yield


@pytest.fixture
def anthropic(settings, monkeypatch):
    server = FakeProviderServer().start()
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-not-a-real-key")
    settings.ANTHROPIC_BASE_URL = server.url
    yield server
    server.stop()


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_it_runs_import_generate_rate_export_end_to_end(worker, anthropic, tmp_path, monkeypatch):
    admin = factories.UserFactory(username="alice", role=User.Role.ADMIN)
    researcher = factories.UserFactory(username="rita", role=User.Role.RESEARCHER)
    rater = factories.UserFactory(username="bob", role=User.Role.RATER)
    admin_client, rater_client = _client(admin), _client(rater)

    # --- admin: campaign, prompts, generators, generation, enrollment, open ---
    response = admin_client.post(
        "/campaigns/new/",
        {
            "title": "Pipeline",
            "guidelines": "Pick the more *helpful* answer.",
            "scale": "binary",
            "allow_both_bad": "on",
            "rationale": "optional",
            "rationale_min_length": 0,
            "min_read_ms_per_1k_chars": 0,
            "overlap": 1,
            "lease_seconds": 600,
            "ordering": "finish_started",
            "pairing": "cross_generator",
            "max_pairs_per_prompt": 6,
            "self_id_policy": "hide",
            "gold_rate": 0,
            "gold_min_accuracy": 0,
            "gold_min_answered": 5,
            "judge_mode": "off",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    campaign = Campaign.objects.get(title="Pipeline")
    slug = campaign.slug

    jsonl = "\n".join(json.dumps(p) for p in PROMPTS).encode()
    response = admin_client.post(
        f"/campaigns/{slug}/prompts/import/",
        {"file": SimpleUploadedFile("prompts.jsonl", jsonl, content_type="application/jsonl")},
    )
    assert response.status_code in (200, 302)
    assert campaign.prompts.count() == 3

    for name, model in (("sonnet", "claude-sonnet-4-6"), ("haiku", "claude-haiku-4-5")):
        response = admin_client.post(
            f"/campaigns/{slug}/generators/add/",
            {
                "provider": "anthropic",
                "model": model,
                "name": name,
                "params": '{"temperature": 1.0, "max_tokens": 256}',
                "samples_per_prompt": 1,
            },
        )
        assert response.status_code in (200, 302)
    assert campaign.generators.count() == 2

    response = admin_client.post(f"/campaigns/{slug}/generation/start/", {"mode": "fast"})
    assert response.status_code in (200, 302)
    wait_for(
        lambda: GenerationJob.objects.filter(campaign=campaign, status="done").exists(),
        timeout=60,
        what="the generation job to finish",
    )
    assert Candidate.objects.filter(prompt__campaign=campaign, status="done").count() == 6
    assert anthropic.calls_to("/v1/messages") == 6  # one call per candidate, none repeated
    progress = admin_client.get(f"/campaigns/{slug}/generation/progress/")
    assert progress.status_code in (200, 286)

    response = admin_client.post(f"/campaigns/{slug}/raters/", {"usernames": "bob"})
    assert response.status_code in (200, 302)
    response = admin_client.post(f"/campaigns/{slug}/status/", {"action": "open"})
    assert response.status_code in (200, 302)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.OPEN
    assert Pair.objects.filter(campaign=campaign).count() == 3  # sonnet vs haiku on each prompt

    # --- rater: the workbench, one POST per vote, each answer returns the next pair ---
    page = rater_client.get(f"/campaigns/{slug}/rate/").content.decode()
    for model in ("claude-sonnet-4-6", "claude-haiku-4-5", "sonnet", "haiku"):
        assert model not in page  # blinded
    for vote in ("left", "right", "left"):
        assignment = re.search(r'name="assignment" value="(\d+)"', page).group(1)
        key = re.search(r'name="key" value="([^"]+)"', page).group(1)
        response = rater_client.post(
            f"/campaigns/{slug}/rate/vote/",
            {"assignment": assignment, "key": key, "verdict": vote},
            HTTP_HX_REQUEST="true",
        )
        assert response.status_code == 200
        page = response.content.decode()
    assert Judgment.objects.filter(campaign=campaign, rater=rater).count() == 3
    # The vote arrives in shown terms (left/right) and is stored in the pair's canonical a/b.
    for verdict, judgment in zip(
        ("left", "right", "left"), Judgment.objects.order_by("id"), strict=True
    ):
        assert judgment.choice == ("a" if (verdict == "left") == judgment.left_is_a else "b")

    # --- researcher: export in the worker, download, load with `datasets` ---
    researcher_client = _client(researcher)
    response = researcher_client.post(
        f"/campaigns/{slug}/exports/new/", {"format": "trl-dpo-conversational"}
    )
    assert response.status_code in (200, 302)
    export = Export.objects.get(campaign=campaign)
    wait_for(
        lambda: Export.objects.filter(pk=export.pk, status__in=["done", "failed"]).exists(),
        timeout=60,
        what="the export to finish",
    )
    export.refresh_from_db()
    assert export.status == "done", export.error
    assert rater_client.get(f"/exports/{export.pk}/download/").status_code in (403, 404)
    download = researcher_client.get(f"/exports/{export.pk}/download/")
    assert download.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    archive.extractall(tmp_path)
    train = next(tmp_path.rglob("train.jsonl"))

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from datasets import load_dataset

    dataset = load_dataset(
        "json", data_files=str(train), split="train", cache_dir=str(tmp_path / "hf")
    )
    assert dataset.num_rows == 3
    assert set(dataset.column_names) >= {"prompt", "chosen", "rejected"}
    row = dataset[0]
    assert row["prompt"][-1]["role"] == "user"
    assert [m["role"] for m in row["chosen"]] == ["assistant"]
    assert [m["role"] for m in row["rejected"]] == ["assistant"]
    assert row["chosen"][0]["content"] != row["rejected"][0]["content"]
