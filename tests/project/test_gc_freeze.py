"""The web and worker processes freeze what they made while starting, so Python's full garbage
collections stop walking Django's hundreds of thousands of objects (100-340 ms a collection in a
process streaming 200 live replies; bench/live.py)."""

from __future__ import annotations

import gc
import runpy
from pathlib import Path

import pytest
from celery import signals

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


@pytest.mark.parametrize("hook", ["when_ready", "post_worker_init"])
def test_gunicorns_master_before_it_forks_and_each_worker_freeze(unfrozen, hook):
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert gc.get_freeze_count() == 0
    config[hook](None)
    assert gc.get_freeze_count() > 10_000


def test_a_celery_worker_freezes_once_it_is_ready_and_each_prefork_child_once_it_starts(unfrozen):
    from project import celery

    for signal in (signals.worker_ready, signals.worker_process_init):
        # Sending the signal would also start this process serving work; its receivers are enough.
        assert celery.freeze_what_start_made in [ref() for _, ref in signal.receivers]
    assert gc.get_freeze_count() == 0
    celery.freeze_what_start_made()
    assert gc.get_freeze_count() > 10_000
