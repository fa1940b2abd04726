"""A large prompt file goes to the background: saved, imported by a real Celery worker on Redis,
its progress and result on the campaign page and through the API; a bad line near the end is
reported by number with nothing imported."""

from __future__ import annotations

import json

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from annotate.models import Prompt, PromptImport
from tests.celery_broker import wait_for

pytestmark = pytest.mark.slow
LINES = 6_000


def _file(bad_at: int | None = None) -> bytes:
    lines = [json.dumps({"id": f"q{i}", "prompt": f"Question {i}?"}) for i in range(1, LINES + 1)]
    if bad_at:
        lines[bad_at - 1] = '{"prompt": "cut'
    return ("\n".join(lines) + "\n").encode()


def _ended(job_id: int) -> bool:
    return PromptImport.objects.get(id=job_id).ended


@pytest.fixture
def small_inline_limit(monkeypatch):
    from annotate.api import imports as import_api
    from annotate.views import campaign_imports

    monkeypatch.setattr(campaign_imports, "MAX_INLINE_IMPORT_BYTES", 10_000)
    monkeypatch.setattr(import_api, "MAX_INLINE_IMPORT_BYTES", 10_000)


def test_a_large_upload_is_imported_by_a_worker_and_shown_on_the_page(
    transactional_db, redis_app, admin_client, campaign, small_inline_limit, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    with start_worker(redis_app, pool="threads", concurrency=2, perform_ping_check=False):
        response = admin_client.post(
            f"/campaigns/{campaign.slug}/prompts/import/",
            {"file": SimpleUploadedFile("big.jsonl", _file())},
            headers={"HX-Request": "true"},
        )
        assert response.status_code == 200
        job = PromptImport.objects.get()
        assert f"prompt-import-{job.id}" in response.content.decode()
        wait_for(lambda: _ended(job.id), timeout=90, what="the import")
    job.refresh_from_db()
    assert (job.status, job.created, job.lines_read, job.errors) == ("done", LINES, LINES, [])
    assert Prompt.objects.filter(campaign=campaign).count() == LINES
    assert not list(tmp_path.rglob("*.jsonl"))  # the stored upload is gone
    page = admin_client.get(
        f"/campaigns/{campaign.slug}/prompts/imports/{job.id}/"
    ).content.decode()
    assert f"Imported {LINES} prompts" in page and "hx-trigger" not in page
    detail = admin_client.get(f"/campaigns/{campaign.slug}/").content.decode()
    assert f"Imported {LINES} prompts" in detail


def test_a_refused_background_import_lists_the_bad_line_through_the_api(
    transactional_db, redis_app, admin_user, campaign, small_inline_limit, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    api = APIClient()
    api.force_authenticate(admin_user)
    with start_worker(redis_app, pool="threads", concurrency=2, perform_ping_check=False):
        response = api.post(
            f"/api/campaigns/{campaign.slug}/prompts/import/",
            {"file": SimpleUploadedFile("big.jsonl", _file(bad_at=LINES - 2))},
        )
        assert response.status_code == 202, response.content
        job_id = response.json()["id"]
        wait_for(lambda: _ended(job_id), timeout=90, what="the import")
    body = api.get(f"/api/campaigns/{campaign.slug}/prompts/imports/{job_id}/").json()
    assert body["status"] == "done" and body["created"] == 0
    assert [e["line"] for e in body["errors"]] == [LINES - 2]
    assert "malformed JSON" in body["errors"][0]["reason"]
    assert not Prompt.objects.exists()


def test_the_page_shows_progress_while_a_worker_reads(admin_client, campaign):
    job = PromptImport.objects.create(
        campaign=campaign, file_name="big.jsonl", status="running", lines_read=120_000, bad_lines=3
    )
    page = admin_client.get(
        f"/campaigns/{campaign.slug}/prompts/imports/{job.id}/"
    ).content.decode()
    assert "120000 lines read" in page and "3 bad so far" in page and "every 2s" in page


def test_only_admins_follow_an_import(
    campaign, researcher_client, rater_client, outsider_client, anon_client
):
    job = PromptImport.objects.create(campaign=campaign, file_name="big.jsonl")
    url = f"/campaigns/{campaign.slug}/prompts/imports/{job.id}/"
    assert researcher_client.get(url).status_code == 403
    assert rater_client.get(url).status_code == 403  # enrolled: the campaign is no secret
    assert outsider_client.get(url).status_code == 404
    assert anon_client.get(url).status_code == 302  # to the login page
    api = APIClient()
    assert api.get(f"/api/campaigns/{campaign.slug}/prompts/imports/{job.id}/").status_code in (
        401,
        403,
    )
