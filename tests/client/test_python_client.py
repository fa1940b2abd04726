"""client/annotate_client.py against a live server (pytest-django's live_server) and a real Celery
worker: create a campaign, import prompts, generate with the offline demo provider, wait with a
progress bar, export, download, open with ``datasets`` — and a refusal raised with its body."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from rest_framework.authtoken.models import Token

from annotate.models import Campaign, Judgment, User
from tests import factories

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "client"))
from annotate_client import ApiError, Client  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def no_persistent_connections(monkeypatch):
    """The live server's request threads close their database connection after each request, so
    none is left open on the test database when it is dropped."""
    from django.db import connections

    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)


@pytest.fixture
def worker(redis_app):
    with start_worker(redis_app, perform_ping_check=False, pool="solo", shutdown_timeout=10):
        yield


def test_a_researchers_script_runs_a_campaign_to_a_loaded_dataset(
    request, live_server, worker, tmp_path, hf_offline
):
    admin = factories.UserFactory(username="ada", role=User.Role.ADMIN)
    api = Client(live_server.url, token=Token.objects.create(user=admin).key, poll=0.2)
    request.addfinalizer(api.close)

    created = api.campaign_create(title="Client campaign", guidelines="Pick the better answer.")
    slug = created["slug"]
    imported = api.prompts_import(
        slug, [{"prompt": "What is 2 + 2?"}, {"prompt": "Name a prime number."}]
    )
    assert imported["created"] == 2
    for name in ("left-model", "right-model"):
        api.generator_add(slug, provider="demo", model=name, name=name)
    api.generation_start(slug)
    progress = api.generation_wait(slug, progress=True, timeout=120)
    assert (progress["status"], progress["done"], progress["total"]) == ("done", 4, 4)

    rater = factories.UserFactory(username="bo", role=User.Role.RATER)
    api.enroll(slug, "bo")
    assert api.campaign_status(slug, "open")["status"] == "open"
    campaign = Campaign.objects.get(slug=slug)
    for pair in campaign.pairs.all():
        Judgment.objects.create(campaign=campaign, pair=pair, rater=rater, choice="a")

    export = api.export(slug, "trl-dpo-conversational")
    assert export["status"] == "done" and export["row_count"] == 2
    folder = api.download(export, tmp_path / "dataset")
    assert (folder / "README.md").exists() and (folder / "SHA256SUMS").exists()
    ds = api.load(folder)
    assert ds["train"].num_rows == 2
    assert set(ds["train"].column_names) >= {"prompt", "chosen", "rejected"}

    with pytest.raises(ApiError) as refused:
        api.export(slug, "trl-dpo-conversational", method="loudest")
    assert refused.value.status == 400
    assert "method" in str(refused.value.body)


def test_a_bad_token_and_a_missing_campaign_raise_api_errors(live_server):
    with Client(live_server.url, token="not-a-token") as api, pytest.raises(ApiError) as bad:
        api.campaigns()
    assert bad.value.status == 401
    admin = factories.UserFactory(username="ada", role=User.Role.ADMIN)
    token = Token.objects.create(user=admin).key
    with Client(live_server.url, token=token) as api, pytest.raises(ApiError) as missing:
        api.campaign("no-such-campaign")
    assert missing.value.status == 404
