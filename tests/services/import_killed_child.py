"""An import that stops half-way and waits to be killed (run by test_import_killed.py).

    python import_killed_child.py <campaign-slug> <file.jsonl> reading|inserted

``reading``: paused after 1,500 of the file's lines, some of them staged in the database already.
``inserted``: paused inside the import's transaction, after the INSERT into the prompt table and
before the commit. Either way it prints "paused" and sleeps until it is killed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

import django  # noqa: E402

django.setup()

from annotate.models import Campaign  # noqa: E402
from annotate.services import prompts as prompt_service  # noqa: E402
from annotate.sql import imports as imports_sql  # noqa: E402


def _pause() -> None:
    print("paused", flush=True)
    time.sleep(600)
    sys.exit("not killed")


def main(slug: str, path: str, stage: str) -> None:
    imports_sql.CHUNK = 200
    prompt_service.PROGRESS_LINES = 500
    progress = None
    if stage == "reading":

        def progress(lines: int, bad: int) -> None:
            if lines >= 1500:
                _pause()

    else:
        real_insert = imports_sql.PromptStaging.insert

        def insert(self, **kwargs):
            added = real_insert(self, **kwargs)
            _pause()
            return added

        imports_sql.PromptStaging.insert = insert
    with open(path, "rb") as source:
        prompt_service.prompts_import(
            campaign=Campaign.objects.get(slug=slug),
            file_name=path,
            data=source,
            progress=progress,
        )


if __name__ == "__main__":
    main(*sys.argv[1:4])
