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

from annotate.models import Export
from annotate.selectors import exports as selectors
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


def test_a_rebuild_starts_from_scratch_and_leaves_nothing_half_written(
    db, campaign, export_storage, settings, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from annotate import export_files
    from annotate.models import WorkerProcess
    from annotate.work.sweep import work_sweep

    campaign_with_votes(campaign)
    export = Export.objects.create(campaign=campaign, format="trl-kto")
    dead = WorkerProcess.objects.create(
        hostname="h", pid=1, beat_at=timezone.now() - timedelta(minutes=5)
    )
    # A build killed half-way: its claim, and its half folder and half zip on the worker's disk.
    Export.objects.filter(id=export.id).update(
        status="running", claimed_by=dead.id, claimed_at=timezone.now(), attempts=1, progress=40
    )
    half = export_files.export_build_folder(export)
    (half / "data").mkdir()
    (half / "data" / "train.jsonl").write_text('{"half"')
    half.with_name(half.name + ".zip").write_bytes(b"PK")

    with django_capture_on_commit_callbacks(execute=False):
        work_sweep()  # its worker is dead: queued to be built again
    export.refresh_from_db()
    assert export.status == "queued" and "being built again from scratch (attempt 2 of 3)" in (
        export_service.export_lost_work(export)
    )
    export_service.export_run(export_id=export.id)

    export.refresh_from_db()
    assert (export.status, export.attempts, export.progress) == ("done", 2, 100)
    assert list(settings.EXPORT_WORK_DIR.iterdir()) == []  # the half build is gone too
    assert [p.name for p in (export_storage / campaign.slug).iterdir()] == [
        f"export-{export.id}.zip"
    ]
    with zipfile.ZipFile(export_storage / export.path) as archive:
        data = archive.read(f"{campaign.slug}-export-{export.id}/data/train.jsonl")
    assert b'{"half"' not in data and len(data.splitlines()) == export.row_count


def test_a_build_whose_claim_was_taken_over_publishes_nothing(
    db, campaign, export_storage, settings, monkeypatch
):
    from django.db.models import F
    from django.utils import timezone

    campaign_with_votes(campaign)
    export = Export.objects.create(campaign=campaign, format="trl-kto")
    original = export_service.export_build

    def taken_over_meanwhile(**kwargs):
        summary = original(**kwargs)
        # This worker was taken for dead: another one claimed the export while it built.
        Export.objects.filter(id=export.id).update(
            claimed_at=timezone.now(), attempts=F("attempts") + 1
        )
        return summary

    monkeypatch.setattr(export_service, "export_build", taken_over_meanwhile)
    export_service.export_run(export_id=export.id)

    export.refresh_from_db()
    assert (export.status, export.path) == ("running", "")  # the other build's to finish
    assert not export_storage.exists() or not any(export_storage.rglob("*.zip"))
    assert list(settings.EXPORT_WORK_DIR.iterdir()) == []  # its own files removed
