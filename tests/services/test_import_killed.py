"""A process killed in the middle of an import leaves no prompt behind: while it reads the file
(rows staged already) and after its INSERT, before the commit. Both databases (SQLite through
test_import_sqlite.py)."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from annotate.models import Prompt
from annotate.services.prompts import prompts_import
from tests import factories

pytestmark = pytest.mark.slow
CHILD = Path(__file__).with_name("import_killed_child.py")


def database_url() -> str:
    """The test database, for a subprocess."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.parametrize("stage", ["reading", "inserted"])
def test_a_killed_import_leaves_no_prompts(transactional_db, tmp_path, stage):
    campaign = factories.CampaignFactory(slug="killed")
    path = tmp_path / "p.jsonl"
    path.write_text(
        "".join(json.dumps({"id": f"q{i}", "prompt": f"Question {i}?"}) + "\n" for i in range(3000))
    )
    child = subprocess.Popen(
        [sys.executable, str(CHILD), "killed", str(path), stage],
        env={**os.environ, "DATABASE_URL": database_url()},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([child.stdout], [], [], 120)
        said = child.stdout.readline().strip() if ready else ""
        assert said == "paused", child.stderr.read() if child.poll() is not None else "no word"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert not Prompt.objects.filter(campaign=campaign).exists()
    with path.open("rb") as source:  # nothing is left in the way of importing the file again
        assert prompts_import(campaign=campaign, file_name="p.jsonl", data=source).created == 3000
