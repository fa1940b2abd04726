"""tests/selectors/test_browse.py, the browse API's tests and the exports of a browse view once more
on SQLite (the embedded default), in a pytest of its own: the filters, the FTS5 search, its ranking
and the keyset pages there must give the same answers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_the_browse_tests_pass_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'annotate.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": url, "TEST_DATABASE_URL": url, "DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/selectors/test_browse.py", "tests/api/test_browse_api.py",
         "tests/services/test_export_view.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    summary = done.stdout.splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "skipped" not in summary, summary
