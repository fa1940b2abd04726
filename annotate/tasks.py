"""Celery tasks: ids in, one service call (imported inside the body), nothing else.

Every task here is idempotent by data (it claims its row with a conditional UPDATE), so the project
runs them with acks_late and reject_on_worker_lost (settings.CELERY_*).
"""

from __future__ import annotations

from celery import shared_task  # noqa: F401

# --- generation ---

# --- exports ---
