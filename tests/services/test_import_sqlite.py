"""The import tests once more on SQLite (the embedded default), in a pytest of their own: the
staging statements differ by backend (COPY or executemany, the INSERT's ids) and both must hold."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
MODULES = [
    "tests/services/test_prompt_import.py",
    "tests/services/test_prompt_import_scale.py",
    "tests/services/test_import_hostile.py",
    "tests/services/test_response_import.py",
    "tests/services/test_import_killed.py",
]


def test_the_import_tests_pass_on_sqlite(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'annotate.sqlite3'}",
        "TEST_DATABASE_URL": f"sqlite:///{tmp_path / 'annotate.sqlite3'}",
        "DATA_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *MODULES],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " passed" in done.stdout.splitlines()[-1] and "failed" not in done.stdout
