"""Export files in an S3-compatible bucket (moto's server on 127.0.0.1), configured from the
environment as a deployment does it: a real export made through the page or the API lands in the
bucket, downloads stream the same bytes or redirect to a signed URL, and only researchers and admins
of the export's campaign get either."""

from __future__ import annotations

import hashlib
import io
import time
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from celery.contrib.testing.worker import start_worker
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotate.models import Export
from annotate.services.exports import export_run
from tests.exports.builders import campaign_with_votes
from tests.fakes.bucket import (  # noqa: F401
    ACCESS_KEY,
    SECRET_KEY,
    export_bucket_fixture,
    s3_server_fixture,
    settings_from_env,
    signed_export_bucket_fixture,
)

DOWNLOADS = ("annotate:export-download", "api:export-download")


def _made_on_the_page(client, campaign, django_capture_on_commit_callbacks, **form) -> Export:
    url = reverse("annotate:export-create", args=[campaign.slug])
    with django_capture_on_commit_callbacks() as callbacks:
        assert client.post(url, {"format": "trl-dpo-conversational", **form}).status_code == 302
    assert len(callbacks) == 1  # the worker's task, sent after commit
    export = Export.objects.get()
    export_run(export_id=export.id)  # what the worker does with it
    export.refresh_from_db()
    assert export.status == "done", export.error
    return export


@pytest.fixture
def bucket_export(researcher_client, campaign, export_bucket, django_capture_on_commit_callbacks):
    campaign_with_votes(campaign)
    return _made_on_the_page(researcher_client, campaign, django_capture_on_commit_callbacks)


def test_an_export_made_on_the_page_lands_in_the_bucket_only(
    bucket_export, export_bucket, export_storage, settings
):
    name = f"helpfulness/export-{bucket_export.id}.zip"
    assert bucket_export.path == name
    assert export_bucket.keys() == [f"annotate/exports/{name}"]
    stored = export_bucket.read(name)
    assert hashlib.sha256(stored).hexdigest() == bucket_export.sha256
    assert f"helpfulness-export-{bucket_export.id}/README.md" in (
        zipfile.ZipFile(io.BytesIO(stored)).namelist()
    )
    assert not export_storage.exists()  # nothing on the local exports folder
    assert list(Path(settings.EXPORT_WORK_DIR).iterdir()) == []  # build files removed


@pytest.mark.parametrize("name", DOWNLOADS)
def test_the_download_streams_the_same_bytes_from_the_bucket(
    researcher_client, bucket_export, export_bucket, name, monkeypatch
):
    import storages.backends.s3

    def whole_object_download(*args, **kwargs):
        raise AssertionError("S3File reads the whole object before the first byte")

    monkeypatch.setattr(storages.backends.s3, "S3File", whole_object_download)
    response = researcher_client.get(reverse(name, args=[bucket_export.id]))
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/zip"
    body = b"".join(response.streaming_content)
    assert hashlib.sha256(body).hexdigest() == bucket_export.sha256
    assert int(response["Content-Length"]) == len(body)
    assert response["Content-Disposition"] == (
        f'attachment; filename="helpfulness-trl-dpo-conversational-{bucket_export.id}.zip"'
    )


@pytest.mark.parametrize("name", DOWNLOADS)
def test_with_signed_urls_the_download_redirects_to_the_bucket(
    researcher_client, bucket_export, signed_export_bucket, name
):
    response = researcher_client.get(reverse(name, args=[bucket_export.id]))
    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}" == signed_export_bucket.endpoint
    assert location.path == (
        f"/{signed_export_bucket.name}/annotate/exports/helpfulness/export-{bucket_export.id}.zip"
    )
    query = parse_qs(location.query)
    assert query["X-Amz-Expires"] == ["120"]  # EXPORT_BUCKET_SIGNED_URL_SECONDS
    assert query["X-Amz-Credential"][0].startswith(f"{ACCESS_KEY}/")
    assert "X-Amz-Signature" in query

    fetched = requests.get(response["Location"], timeout=10)
    assert fetched.status_code == 200
    assert hashlib.sha256(fetched.content).hexdigest() == bucket_export.sha256
    assert fetched.headers["Content-Type"] == "application/zip"
    assert fetched.headers["Content-Disposition"] == (
        f'attachment; filename="helpfulness-trl-dpo-conversational-{bucket_export.id}.zip"'
    )


def test_with_signed_urls_a_missing_object_is_a_404_not_a_redirect(
    researcher_client, bucket_export, signed_export_bucket
):
    signed_export_bucket.client.delete_object(
        Bucket=signed_export_bucket.name, Key=signed_export_bucket.key(bucket_export.path)
    )
    for name in DOWNLOADS:
        assert researcher_client.get(reverse(name, args=[bucket_export.id])).status_code == 404


def test_a_missing_object_is_a_404(researcher_client, bucket_export, export_bucket):
    export_bucket.client.delete_object(
        Bucket=export_bucket.name, Key=export_bucket.key(bucket_export.path)
    )
    for name in DOWNLOADS:
        assert researcher_client.get(reverse(name, args=[bucket_export.id])).status_code == 404


def _api_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.mark.parametrize("signed", [False, True], ids=["streamed", "signed-url"])
@pytest.mark.parametrize(
    ("persona", "status"),
    [("admin_user", 200), ("rater", 403), ("outsider", 404), (None, None)],
    ids=["admin", "rater", "outsider", "anonymous"],
)
def test_only_researchers_and_admins_get_a_bucket_export(
    request, bucket_export, export_bucket, persona, status, signed
):
    if signed:
        request.getfixturevalue("signed_export_bucket")
    expected = 302 if signed and status == 200 else status
    user = request.getfixturevalue(persona) if persona else None
    page = reverse("annotate:export-download", args=[bucket_export.id])
    api = reverse("api:export-download", args=[bucket_export.id])
    if user is None:  # anonymous: the page sends to the login, the API asks for credentials
        response = Client().get(page)
        assert response.status_code == 302 and "/login" in response["Location"]
        assert APIClient().get(api).status_code in (401, 403)
        return
    browser = Client()
    browser.force_login(user)
    for response in (browser.get(page), _api_client(user).get(api)):
        assert response.status_code == expected
        if status != 200:  # refused: neither the file nor a way to it
            assert export_bucket.name not in response.get("Location", "")
            assert not getattr(response, "streaming", False)


def test_a_failed_upload_leaves_the_export_failed_and_nothing_behind(
    campaign, export_bucket, settings
):
    campaign_with_votes(campaign)
    export = Export.objects.create(campaign=campaign, format="trl-kto")
    export_bucket.client.delete_bucket(Bucket=export_bucket.name)  # gone before the publish
    export_run(export_id=export.id)
    export.refresh_from_db()
    assert (export.status, export.path) == ("failed", "")
    assert "NoSuchBucket" in export.error
    assert list(Path(settings.EXPORT_WORK_DIR).iterdir()) == []


@pytest.mark.slow
def test_a_real_worker_publishes_an_api_export_to_the_bucket(
    transactional_db, redis_app, export_bucket, campaign, researcher
):
    campaign_with_votes(campaign)
    api = _api_client(researcher)
    with start_worker(redis_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        created = api.post(
            reverse("api:export-create", args=[campaign.slug]),
            {"format": "trl-kto", "filters": {"test_fraction": 0.5, "seed": 3}},
            format="json",
        ).json()
        deadline = time.monotonic() + 60
        while (status := api.get(created["status_url"]).json())["status"] not in (
            "done",
            "failed",
        ):
            assert time.monotonic() < deadline, "the worker did not finish the export"
            time.sleep(0.2)
    assert (status["status"], status["error"]) == ("done", "")
    assert export_bucket.keys() == [export_bucket.key(f"helpfulness/export-{created['id']}.zip")]
    body = b"".join(api.get(status["download_url"]).streaming_content)
    assert hashlib.sha256(body).hexdigest() == status["sha256"]


def test_the_bucket_is_configured_from_the_environment(export_bucket, monkeypatch):
    options = settings_from_env()["STORAGES"]["exports"]
    assert options["BACKEND"] == "annotate.bucket_storage.StreamingS3Storage"
    assert options["OPTIONS"] == {
        "bucket_name": export_bucket.name,
        "location": "annotate/exports",
        "endpoint_url": export_bucket.endpoint,
        "region_name": "eu-west-3",
        "access_key": ACCESS_KEY,  # read from EXPORT_BUCKET_ACCESS_KEY_ID_FILE, newline stripped
        "secret_key": SECRET_KEY,
        "addressing_style": "path",
        "signature_version": "s3v4",
        "querystring_expire": 120,
        "default_acl": None,
        "file_overwrite": True,
    }
    monkeypatch.setenv("EXPORT_BUCKET_ADDRESSING_STYLE", "sideways")
    with pytest.raises(ImproperlyConfigured, match="EXPORT_BUCKET_ADDRESSING_STYLE"):
        settings_from_env()


def test_without_a_bucket_exports_stay_on_the_local_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("EXPORT_BUCKET", raising=False)
    monkeypatch.setenv("EXPORT_ROOT", str(tmp_path / "shared"))
    monkeypatch.setenv("EXPORT_BUCKET_SIGNED_URLS", "1")  # ignored without a bucket
    computed = settings_from_env()
    assert computed["STORAGES"]["exports"] == {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": tmp_path / "shared", "allow_overwrite": True},
    }
    assert computed["EXPORT_DOWNLOAD_REDIRECT"] is False
