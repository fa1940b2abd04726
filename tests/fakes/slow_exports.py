"""A Celery app for worker subprocesses whose exports read their votes slowly, so that a test can
kill a worker in the middle of one: ``start_worker_process(app="tests.fakes.slow_exports")``, with
``TEST_EXPORT_ROW_SECONDS`` (the pause per vote row read) in the worker's environment."""

from __future__ import annotations

import os
import time

from celery import signals

from project.celery import app  # noqa: F401 (the app `celery -A tests.fakes.slow_exports` runs)


@signals.worker_init.connect
def _read_votes_slowly(**kwargs) -> None:
    from annotate.selectors import exports as selectors

    pause = float(os.environ.get("TEST_EXPORT_ROW_SECONDS", "0"))
    original = selectors.export_vote_rows

    def slow(**kw):
        for row in original(**kw):
            time.sleep(pause)
            yield row

    selectors.export_vote_rows = slow
