"""An S3-compatible server on 127.0.0.1 (moto's server mode) and the exports storage pointed at it.

The exports storage is configured the way a deployment configures it: the EXPORT_BUCKET* variables
are set and project/settings.py is run again to read them. Credentials are dummies, given
explicitly (one through a ``_FILE``), the endpoint is the loopback server, and boto3's instance
metadata look-up and config files are switched off, so nothing leaves the machine.

Import the fixtures by their function names, as with tests/fakes/fixtures.py, e.g.
``from tests.fakes.bucket import export_bucket_fixture, s3_server_fixture  # noqa: F401``.
"""

from __future__ import annotations

import logging
import runpy
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

SETTINGS_FILE = Path(__file__).resolve().parents[2] / "project" / "settings.py"
ACCESS_KEY = "test-access-key-not-real"
SECRET_KEY = "test-secret-key-not-real"
REGION = "eu-west-3"


@dataclass
class Bucket:
    name: str
    endpoint: str
    prefix: str
    client: object  # a boto3 S3 client on the same server

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}"

    def keys(self) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=self.name)
        return sorted(entry["Key"] for entry in listed.get("Contents", []))

    def read(self, name: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=self.key(name))["Body"].read()


def settings_from_env() -> dict:
    """project/settings.py run again, reading the environment as it is now."""
    return runpy.run_path(str(SETTINGS_FILE))


def configure_from_env(settings) -> None:
    """The exports storage and download settings as the current environment makes them."""
    computed = settings_from_env()
    settings.STORAGES = computed["STORAGES"]
    settings.EXPORT_DOWNLOAD_REDIRECT = computed["EXPORT_DOWNLOAD_REDIRECT"]


@pytest.fixture(name="s3_server", scope="session")
def s3_server_fixture():
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(name="export_bucket")
def export_bucket_fixture(s3_server, settings, monkeypatch, tmp_path):
    """A fresh bucket, and settings.STORAGES["exports"] on it (downloads streamed)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))

    name = f"exports-{uuid.uuid4().hex[:12]}"
    key_file = tmp_path / "bucket-access-key"
    key_file.write_text(ACCESS_KEY + "\n")
    env = {
        "EXPORT_BUCKET": name,
        "EXPORT_BUCKET_ENDPOINT_URL": s3_server,
        "EXPORT_BUCKET_REGION": REGION,
        "EXPORT_BUCKET_ACCESS_KEY_ID_FILE": str(key_file),
        "EXPORT_BUCKET_SECRET_ACCESS_KEY": SECRET_KEY,
        "EXPORT_BUCKET_ADDRESSING_STYLE": "path",
        "EXPORT_BUCKET_PREFIX": "annotate/exports",
        "EXPORT_BUCKET_SIGNED_URL_SECONDS": "120",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})

    configure_from_env(settings)
    return Bucket(name=name, endpoint=s3_server, prefix="annotate/exports", client=client)


@pytest.fixture(name="signed_export_bucket")
def signed_export_bucket_fixture(export_bucket, settings, monkeypatch):
    """The same bucket, with downloads redirected to signed URLs (EXPORT_BUCKET_SIGNED_URLS=1)."""
    monkeypatch.setenv("EXPORT_BUCKET_SIGNED_URLS", "1")
    configure_from_env(settings)
    return export_bucket
