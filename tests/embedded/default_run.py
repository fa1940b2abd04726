"""The embedded default end to end, in its own process: SQLite file, kombu's filesystem broker, a real
Celery worker subprocess, the offline demo provider (what `bin/run` starts, without the web server).

Run by test_embedded_default.py with DATA_DIR and DATABASE_URL pointing at a temporary folder; prints
one JSON line. It seeds the demo, lets the worker generate it, then votes through the rating page
(HTMX posts, as the browser sends them), has the worker export the votes (made on the research
page, published to the default local exports storage, downloaded from it by this process) and
reads back what was stored.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from annotate.models import (  # noqa: E402
    Candidate,
    Enrollment,
    Export,
    GenerationJob,
    Judgment,
    Pair,
)
from tests.fakes.worker import start_worker_process, stop  # noqa: E402

ASSIGNMENT = re.compile(r'name="assignment" value="(\d+)"')
KEY = re.compile(r'name="key" value="([0-9a-f]+)"')


def main() -> None:
    call_command("migrate", verbosity=0)
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    worker = start_worker_process(
        database_url=os.environ["DATABASE_URL"],
        broker_url=settings.CELERY_BROKER_URL,
        concurrency=2,
        name="embedded",
        log_path=Path(os.environ["DATA_DIR"]) / "worker.log",
    )
    try:
        deadline = time.monotonic() + 120
        while GenerationJob.objects.filter(status__in=["queued", "running"]).exists():
            if time.monotonic() > deadline:
                raise SystemExit("the demo job did not finish")
            time.sleep(0.5)
        votes = vote()
        export = export_votes()
    finally:
        stop(worker)
    print(
        json.dumps(
            {
                "jobs": list(GenerationJob.objects.values_list("status", flat=True)),
                "candidates_done": Candidate.objects.filter(status="done").count(),
                "candidates_other": Candidate.objects.exclude(status="done").count(),
                "pairs": Pair.objects.count(),
                "shown_counts": votes,
                "stored_votes": Judgment.objects.filter(rater__username="rater1").count(),
                "enrollment_votes": Enrollment.objects.get(
                    rater__username="rater1", campaign__slug="demo-helpfulness"
                ).votes,
                "export": export,
            }
        )
    )


def vote() -> list[str]:
    client = Client()
    # The login form, as a person logs in (axes' backend needs the request that Client.login lacks).
    login = client.post("/login/", {"username": "rater1", "password": "rater1-demo"})
    assert login.status_code == 302, login.status_code
    url = "/campaigns/demo-helpfulness/rate/"
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    page = response.content.decode()
    votes = []
    for verdict in ("left", "right", "tie"):
        found = ASSIGNMENT.search(page), KEY.search(page)
        if not all(found):
            break
        response = client.post(
            url + "vote/",
            {"assignment": found[0].group(1), "key": found[1].group(1), "verdict": verdict},
            headers={"HX-Request": "true"},
        )
        assert response.status_code == 200, response.status_code
        page = response.content.decode()
        votes.append(re.search(r'id="my-votes">(\d+)<', page).group(1))
    return votes


def export_votes() -> dict:
    """A raw export made on the research page, built by the worker, downloaded here."""
    client = Client()
    login = client.post("/login/", {"username": "researcher", "password": "researcher-demo"})
    assert login.status_code == 302, login.status_code
    response = client.post(
        "/campaigns/demo-helpfulness/exports/new/", {"format": "raw-jsonl", "min_votes": "1"}
    )
    assert response.status_code == 302, response.status_code
    export = Export.objects.get()
    deadline = time.monotonic() + 60
    while export.status in ("queued", "running"):
        if time.monotonic() > deadline:
            raise SystemExit("the export did not finish")
        time.sleep(0.3)
        export.refresh_from_db()
    download = client.get(f"/exports/{export.id}/download/")
    body = b"".join(download.streaming_content) if download.status_code == 200 else b""
    return {
        "status": export.status,
        "error": export.error,
        "rows": export.row_count,
        "path": export.path,
        "on_disk": (settings.EXPORT_ROOT / export.path).is_file(),
        "download_matches": hashlib.sha256(body).hexdigest() == export.sha256,
    }


if __name__ == "__main__":
    main()
