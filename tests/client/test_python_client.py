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


def test_a_researcher_finds_the_contested_sql_pairs_reads_settles_and_exports_them(
    request, live_server, worker, tmp_path, hf_offline
):
    """The workbench from Python: search the contested pairs about SQL, read each one's votes and
    the judge's rationale, settle it, and export exactly that view with the adjudications."""
    from annotate.models import Candidate, Pair

    researcher = factories.UserFactory(username="rae", role=User.Role.RESEARCHER)
    campaign = factories.CampaignFactory(slug="sql-or-not", overlap=2)
    api = Client(live_server.url, token=Token.objects.create(user=researcher).key, poll=0.2)
    request.addfinalizer(api.close)
    raters = [factories.UserFactory(username=f"r{i}", role=User.Role.RATER) for i in range(2)]
    topics = ["How do I join two tables in SQL?"] * 3 + ["How do I bake bread?"] * 2
    expected = []
    for i, topic in enumerate(topics):
        prompt = factories.PromptFactory(
            campaign=campaign, messages=[{"role": "user", "content": f"{topic} ({i})"}]
        )
        pair = factories.PairFactory(campaign=campaign, prompt=prompt, needed=2)
        split = i != 1  # one SQL pair the raters and the judge agree on: not contested
        if split and "SQL" in topic:
            expected.append(pair.id)
        for rater, choice in zip(raters, ("a", "b") if split else ("b", "b"), strict=True):
            Judgment.objects.create(campaign=campaign, pair=pair, rater=rater, choice=choice)
        Pair.objects.filter(pk=pair.pk).update(assigned=2, completed=2)
        factories.judge_verdict(pair, choice="b", rationale=f"B answers question {i}.")
    Candidate.objects.filter(prompt__campaign=campaign).update(status="done")

    contested = list(api.units(campaign.slug, q="sql", contested="on"))
    assert sorted(u["id"] for u in contested) == expected
    for unit in contested:
        pair = api.pair(campaign.slug, unit["id"])
        assert sorted(v["choice"] for v in pair["votes"]) == ["a", "b"]  # the raters split
        assert pair["verdicts"][0]["rationale"].startswith("B answers")
        settled = api.adjudicate(campaign.slug, unit["id"], "b", "The judge is right.")
        assert settled["choice"] == "b"
        assert api.pair(campaign.slug, unit["id"])["final"] == settled["id"]

    export = api.export(
        campaign.slug, "trl-dpo-standard", view="q=sql&contested=on", adjudicated="prefer"
    )
    assert export["row_count"] == len(contested) == 2
    ds = api.load(api.download(export, tmp_path / "sql"))
    rows = list(ds["train"]) + (list(ds["test"]) if "test" in ds else [])
    assert all("SQL" in row["prompt"] for row in rows)
