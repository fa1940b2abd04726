"""Export files on the local-disk storage (the embedded default): published once built, nothing
left behind by a failure, downloads streamed, and rows from before storage still served (also once a
bucket is configured). The bucket itself: test_export_files_bucket.py."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest
from django.core.files.storage import storages
from django.urls import reverse

from annotate import export_files
from annotate.models import Export
from annotate.services import exports as export_service
from annotate.services.exports import export_run
from tests.exports.builders import campaign_with_votes
from tests.fakes.bucket import (  # noqa: F401
    export_bucket_fixture,
    s3_server_fixture,
    signed_export_bucket_fixture,
)


def _work_files(settings) -> list[Path]:
    work = Path(settings.EXPORT_WORK_DIR)
    return sorted(work.rglob("*")) if work.exists() else []


def test_it_publishes_the_zip_under_its_storage_name_and_keeps_no_build_files(
    campaign, export_storage, settings
):
    campaign_with_votes(campaign)
    export = Export.objects.create(campaign=campaign, format="trl-kto")
    export_run(export_id=export.id)
    export.refresh_from_db()
    assert (export.status, export.path) == ("done", f"helpfulness/export-{export.id}.zip")
    stored = export_storage / export.path
    assert export.sha256 == hashlib.sha256(stored.read_bytes()).hexdigest()
    assert sorted(p.relative_to(export_storage).as_posix() for p in export_storage.rglob("*")) == [
        "helpfulness",
        export.path,
    ]
    assert _work_files(settings) == []  # the folder and its zip were built locally, then removed


def test_a_rerun_of_the_same_export_replaces_its_zip(campaign, export_storage):
    campaign_with_votes(campaign)
    export = Export.objects.create(campaign=campaign, format="trl-kto")
    export_run(export_id=export.id)
    first = Export.objects.get(id=export.id)
    Export.objects.filter(id=export.id).update(status="queued")  # as a recovery would
    export_run(export_id=export.id)
    again = Export.objects.get(id=export.id)
    assert (again.path, again.sha256) == (first.path, first.sha256)
    assert [p.name for p in (export_storage / "helpfulness").iterdir()] == [
        f"export-{export.id}.zip"
    ]


def test_a_failure_while_building_leaves_no_file_anywhere(
    campaign, export_storage, settings, monkeypatch
):
    campaign_with_votes(campaign)
    export = Export.objects.create(campaign=campaign, format="trl-kto")

    def half_then_crash(*, out_dir, **kwargs):
        (out_dir / "data").mkdir()
        (out_dir / "data" / "train.jsonl").write_text('{"half": ')
        raise OSError("disk full")

    monkeypatch.setattr(export_service, "export_build", half_then_crash)
    export_run(export_id=export.id)
    export.refresh_from_db()
    assert (export.status, export.path, export.error) == ("failed", "", "disk full")
    assert not export_storage.exists()  # nothing was saved to the exports storage
    assert _work_files(settings) == []


def test_a_failure_while_publishing_leaves_the_row_failed_and_no_build_files(
    campaign, export_storage, settings, monkeypatch
):
    campaign_with_votes(campaign)
    export = Export.objects.create(campaign=campaign, format="trl-kto")

    def refuse(name, content, max_length=None):
        raise PermissionError("storage refused the file")

    monkeypatch.setattr(storages[export_files.EXPORTS_STORAGE], "save", refuse)
    export_run(export_id=export.id)
    export.refresh_from_db()
    assert (export.status, export.path) == ("failed", "")
    assert "storage refused" in export.error
    assert _work_files(settings) == []


def test_the_download_streams_the_stored_zip_with_its_length(researcher_client, campaign):
    campaign_with_votes(campaign)
    export = Export.objects.create(campaign=campaign, format="trl-dpo-standard")
    export_run(export_id=export.id)
    export.refresh_from_db()
    response = researcher_client.get(reverse("annotate:export-download", args=[export.id]))
    assert response.status_code == 200 and response.streaming
    body = b"".join(response.streaming_content)
    assert int(response["Content-Length"]) == len(body)
    assert hashlib.sha256(body).hexdigest() == export.sha256
    assert response["Content-Disposition"] == (
        f'attachment; filename="helpfulness-trl-dpo-standard-{export.id}.zip"'
    )


def test_a_done_export_whose_file_is_gone_is_a_404(researcher_client, campaign, export_storage):
    campaign_with_votes(campaign)
    export = Export.objects.create(campaign=campaign, format="trl-kto")
    export_run(export_id=export.id)
    export.refresh_from_db()
    (export_storage / export.path).unlink()
    for name in ("annotate:export-download", "api:export-download"):
        assert researcher_client.get(reverse(name, args=[export.id])).status_code == 404


@pytest.fixture
def legacy_export(campaign, tmp_path):
    """A row from before storage: ``path`` is the absolute export folder, its zip beside it."""
    folder = tmp_path / "old-data" / "exports" / "helpfulness" / "export-7"
    folder.mkdir(parents=True)
    (folder / "README.md").write_text("old card\n")
    archive = folder.with_name("export-7.zip")
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("helpfulness-export-7/README.md", "old card\n")
    return Export.objects.create(
        campaign=campaign,
        format="trl-kto",
        status="done",
        path=str(folder),
        sha256=hashlib.sha256(archive.read_bytes()).hexdigest(),
    )


def test_an_export_made_before_storage_still_downloads(researcher_client, legacy_export):
    for name in ("annotate:export-download", "api:export-download"):
        response = researcher_client.get(reverse(name, args=[legacy_export.id]))
        assert response.status_code == 200
        body = b"".join(response.streaming_content)
        assert hashlib.sha256(body).hexdigest() == legacy_export.sha256


def test_an_export_made_before_storage_downloads_from_local_disk_once_a_bucket_is_set(
    researcher_client, legacy_export, signed_export_bucket
):
    for name in ("annotate:export-download", "api:export-download"):
        response = researcher_client.get(reverse(name, args=[legacy_export.id]))
        assert response.status_code == 200  # streamed from where it was, not redirected
        body = b"".join(response.streaming_content)
        assert hashlib.sha256(body).hexdigest() == legacy_export.sha256


@pytest.mark.parametrize(
    ("persona", "status"),
    [("rater_client", 403), ("outsider_client", 404), ("admin_client", 200)],
)
def test_an_export_made_before_storage_is_checked_like_any_other(
    request, legacy_export, persona, status
):
    client = request.getfixturevalue(persona)
    for name in ("annotate:export-download", "api:export-download"):
        assert client.get(reverse(name, args=[legacy_export.id])).status_code == status
