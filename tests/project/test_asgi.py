"""ASGI serving (project/asgi.py, gunicorn with uvicorn workers): sync views and file downloads
work as under WSGI, files stream in pieces instead of being read whole into memory, and the
database settings follow Django's advice for ASGI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import AsyncClient

from tests.async_run import run_async
from tests.project.asgi_urls import SIZE

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.urls("tests.project.asgi_urls")
def test_a_file_download_streams_in_pieces_under_asgi(db):
    async def fetch():
        response = await AsyncClient().get("/big/")
        assert response.is_async  # else Django reads it whole first (and warns: an error here)
        sizes = [len(chunk) async for chunk in response]
        return response, sizes

    response, sizes = run_async(fetch())
    assert response.status_code == 200
    assert sum(sizes) == SIZE and len(sizes) > 10
    assert response["Content-Disposition"] == 'attachment; filename="big.bin"'


def test_a_sync_page_answers_under_asgi(db):
    async def fetch():
        return await AsyncClient().get("/login/")

    response = run_async(fetch())
    assert response.status_code == 200
    assert "Content-Security-Policy" in response


@pytest.mark.parametrize("database", ["postgres://postgres@127.0.0.1:5432/x", ""])
def test_asgi_processes_keep_no_connection_and_pool_postgresql(database, tmp_path):
    code = (
        "import json, project.asgi; from django.conf import settings; "
        "d = settings.DATABASES['default']; "
        "print(json.dumps([settings.SERVER_GATEWAY, d['CONN_MAX_AGE'], 'pool' in d['OPTIONS']]))"
    )
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "DATA_DIR": str(tmp_path),
        "SECRET_KEY": "x" * 50,
        "DJANGO_SETTINGS_MODULE": "project.settings",
    }
    env.pop("SERVER_GATEWAY", None)
    if not database:
        env.pop("DATABASE_URL")  # the embedded default: SQLite
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    gateway, max_age, pooled = json.loads(out.stdout)
    assert (gateway, max_age, pooled) == ("asgi", 0, bool(database))


@pytest.mark.parametrize("module", ["project.asgi", "project.wsgi"])
def test_the_web_applications_load_every_view_before_their_first_request(module, tmp_path):
    """Under gunicorn's preload_app the master imports them once; no worker's first request
    waits seconds for the URLconf and what its views import."""
    code = f"import sys, {module}; print('annotate.api.urls' in sys.modules)"
    env = {**os.environ, "DATA_DIR": str(tmp_path), "SECRET_KEY": "x" * 50}
    env.pop("DATABASE_URL", None)
    env["DJANGO_SETTINGS_MODULE"] = "project.settings"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "True"


def test_db_pool_pools_postgresql_in_any_process(tmp_path):
    """A live worker's threads share a pool (DB_POOL=1) as an ASGI web process's requests do."""
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        "d = settings.DATABASES['default']; print(json.dumps([d['CONN_MAX_AGE'], 'pool' in d['OPTIONS']]))"
    )
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x",
        "DATA_DIR": str(tmp_path),
        "SECRET_KEY": "x" * 50,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DB_POOL": "1",
    }
    env.pop("SERVER_GATEWAY", None)
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == [0, True]
