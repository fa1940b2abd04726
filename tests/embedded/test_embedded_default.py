"""What `bin/run` gives a new user, checked end to end on the embedded default (no PostgreSQL, no
Redis): SQLite, the filesystem broker, a real worker, the offline demo, votes on the page, and an
export that the worker publishes to the local exports folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_embedded_default_generates_the_demo_and_takes_votes(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"ANTHROPIC_API_KEY", "CELERY_BROKER_URL", "DATABASE_URL"}
    }
    env.update(
        DATA_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'annotate.sqlite3'}",
        ALLOWED_HOSTS="testserver",  # the Django test client's host
    )
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("default_run.py"))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    log = tmp_path / "worker.log"
    assert proc.returncode == 0, proc.stderr[-3000:] + (
        log.read_text()[-2000:] if log.exists() else ""
    )
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["jobs"] and set(report["jobs"]) == {"done"}
    assert report["candidates_done"] > 0 and report["candidates_other"] == 0
    assert report["pairs"] >= 3
    # Three votes went through the SQLite writer; the page's count and the counter agree with them.
    assert report["shown_counts"] == ["1", "2", "3"]
    assert report["stored_votes"] == report["enrollment_votes"] == 3
    # The worker process published the export where this process, as the web, downloads it from.
    export = report["export"]
    assert (export["status"], export["error"], export["rows"]) == ("done", "", 3)
    assert export["path"].startswith("demo-helpfulness/export-") and export["on_disk"]
    assert export["download_matches"]
