"""Exports as Celery jobs: a real worker on Redis runs one made through the API, and progress is
visible to other connections while the export's long read transaction is still open."""

from __future__ import annotations

import io
import time
import zipfile

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import DEFAULT_DB_ALIAS, connections
from rest_framework.test import APIClient

from annotate import selectors
from annotate.models import Export
from annotate.services import exports as export_service
from tests.exports.builders import campaign_with_votes


@pytest.fixture
def redis_worker(redis_app):
    with start_worker(redis_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield


@pytest.mark.slow
def test_a_real_worker_runs_an_export_created_through_the_api(
    transactional_db, redis_worker, campaign, researcher, tmp_path, monkeypatch
):
    campaign_with_votes(campaign)
    api = APIClient()
    api.force_authenticate(researcher)
    created = api.post(
        f"/api/campaigns/{campaign.slug}/exports/create/",
        {"format": "trl-dpo-conversational", "filters": {"test_fraction": 0.5, "seed": 3}},
        format="json",
    ).json()
    deadline = time.monotonic() + 60
    while (status := api.get(created["status_url"]).json())["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, "the worker did not finish the export"
        time.sleep(0.2)
    assert (status["status"], status["progress"], status["error"]) == ("done", 100, "")
    archive = zipfile.ZipFile(
        io.BytesIO(b"".join(api.get(status["download_url"]).streaming_content))
    )
    archive.extractall(tmp_path / "zip")

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import datasets

    folder = next((tmp_path / "zip").iterdir())
    loaded = datasets.load_dataset(str(folder), cache_dir=str(tmp_path / "hf"))
    assert sum(split.num_rows for split in loaded.values()) == status["row_count"] == 2
    assert all(split.column_names == ["prompt", "chosen", "rejected"] for split in loaded.values())


def test_progress_is_visible_outside_the_read_transaction_while_it_runs(
    transactional_db, campaign, monkeypatch
):
    campaign_with_votes(campaign, pairs=8)
    export = Export.objects.create(campaign=campaign, format="trl-kto")
    seen: list[int] = []
    original = selectors.export_vote_rows

    def watching(**kwargs):
        for n, row in enumerate(original(**kwargs)):
            if n == 18:  # mid-way (3 votes per pair): look from another connection
                other = connections.create_connection(DEFAULT_DB_ALIAS)
                try:
                    with other.cursor() as cursor:
                        cursor.execute(
                            "SELECT status, progress FROM annotate_export WHERE id = %s",
                            [export.id],
                        )
                        status, progress = cursor.fetchone()
                        seen.append(progress)
                        assert status == "running"
                finally:
                    other.close()
            yield row

    monkeypatch.setattr(selectors, "export_vote_rows", watching)
    monkeypatch.setattr(export_service, "PROGRESS_EVERY", 2)
    export_service.export_run(export_id=export.id)
    export.refresh_from_db()
    assert export.status == "done"
    assert seen and 0 < seen[0] < 100  # 6 of 8 pairs reported before row 18 was read
