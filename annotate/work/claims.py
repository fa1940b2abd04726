"""Claim a row, write under the claim, hand it back, retry or give up, end the job: for every kind.

The rules, in one place (the plain-SQL claim of generation's hot path, annotate/sql/generation.py,
says the same rule in SQL):

* a row may be claimed when it is PENDING, or RUNNING under a claim that is *abandoned*: stamped by
  a process that no longer beats (``workers.dead_after``), or older than the kind's stale window
  (``Kind.stale_after``: a hung holder, or one that never had a heartbeat). A live process's claim
  is never taken, however slow its call;
* the claim sets RUNNING, ``claimed_at`` (the stamp every later write is guarded by), ``claimed_by``
  and ``attempts + 1`` in one conditional UPDATE, so of two messages for one row one claims it;
* a write matches only the row still RUNNING under its own stamp (``held``), so a late twin of a
  taken-over claim changes nothing;
* a retryable error hands the row back (PENDING, error kept visible) with a backoff that honours
  ``retry-after``, until ``max_attempts`` claims; then, or on any other error, the row fails with the
  message, which also goes on the job;
* a job whose rows are neither PENDING nor RUNNING ends (failed if something failed and nothing was
  done), exactly once: every writer asks after its own write, the conditional UPDATE picks one.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Exists, F, OuterRef, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotate.providers.base import ProviderError
from annotate.sql import generation as generation_sql
from annotate.work import workers
from annotate.work.kinds import Kind

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 60.0
MAX_ERROR = 2000


@dataclass(frozen=True)
class Outcome:
    status: str  # done | failed | retry | skipped
    retry_in: float | None = None


def _worker_model():
    from annotate.models import WorkerProcess

    return WorkerProcess


# --- the claim rule ------------------------------------------------------------------------------


def held_by_the_dead(now: datetime) -> Q:
    """Claims stamped by a process that no longer beats (or whose row is gone)."""
    alive = _worker_model().objects.filter(
        id=OuterRef("claimed_by"), beat_at__gte=now - workers.dead_after()
    )
    return Q(claimed_by__isnull=False) & ~Exists(alive)


def abandoned(kind: Kind, now: datetime) -> Q:
    """RUNNING rows whose holder is dead, or whose claim is older than the stale window."""
    return Q(status=kind.running) & (
        Q(claimed_at__lt=now - kind.stale_after()) | held_by_the_dead(now)
    )


def claimable(kind: Kind, now: datetime) -> Q:
    return Q(status=kind.pending) | abandoned(kind, now)


# --- claiming and writing under the claim --------------------------------------------------------


def claim(kind: Kind, row_id: int, *, now: datetime | None = None) -> datetime | None:
    """Claim one row; its stamp (the token every later write is guarded by), or None if it is done,
    failed, cancelled or held by a live process (a redelivered message then does nothing)."""
    now = now or timezone.now()
    claimed = (
        kind.model.objects.filter(id=row_id)
        .filter(claimable(kind, now))
        .update(
            status=kind.running,
            claimed_at=now,
            claimed_by=workers.current(),
            attempts=F("attempts") + 1,
        )
    )
    return now if claimed == 1 else None


def claim_rows(kind: Kind, *, ids: list[int], token: datetime) -> int:
    """Claim PENDING rows together under one stamp and no process: a Message Batch holds them
    (work/batches.py records the stamp on the job, which is what the sweep goes by)."""
    return kind.model.objects.filter(id__in=ids, status=kind.pending).update(
        status=kind.running, claimed_at=token, claimed_by=None, attempts=F("attempts") + 1
    )


def job_started(kind: Kind, job_id: int | None, now: datetime) -> None:
    """A QUEUED job becomes RUNNING at its first claim (``started_at`` keeps the first start)."""
    if job_id is None or kind.job_model is None:
        return
    values: dict[str, Any] = {"status": kind.job_model.Status.RUNNING}
    if any(f.name == "started_at" for f in kind.job_model._meta.concrete_fields):
        values["started_at"] = Coalesce("started_at", Value(now))
    kind.job_model.objects.filter(id=job_id, status=kind.job_model.Status.QUEUED).update(**values)


def held(kind: Kind, row_id: int, token: datetime | None):
    """The row, if it is still RUNNING under this claim: every write after a claim goes through it."""
    return kind.model.objects.filter(id=row_id, status=kind.running, claimed_at=token)


def release(kind: Kind, row_id: int, token: datetime) -> bool:
    """Hand the row back unspent (e.g. the rate limiter said wait): PENDING, the attempt returned."""
    return bool(held(kind, row_id, token).update(status=kind.pending, attempts=F("attempts") - 1))


def record_error(
    kind: Kind,
    row_id: int,
    token: datetime | None,
    error: ProviderError,
    *,
    job_id: int | None,
    also: dict[str, Any] | None = None,
) -> Outcome:
    """A retryable error hands the row back with a backoff, up to ``max_attempts`` claims; anything
    else fails it now. ``also`` is written with either (e.g. the usage a partial call cost)."""
    attempts = kind.model.objects.filter(id=row_id).values_list("attempts", flat=True).first() or 0
    if error.retryable and attempts < kind.max_attempts:
        handed_back = held(kind, row_id, token).update(
            status=kind.pending, error=error.message[:MAX_ERROR], **(also or {})
        )
        if not handed_back:
            return Outcome("skipped")
        delay = backoff_seconds(attempts=attempts, retry_after=error.retry_after)
        log.info("%s %s: %s; retry %s in %.1fs", kind.name, row_id, error, attempts, delay)
        return Outcome("retry", retry_in=delay)
    message = error.message
    if error.retryable:
        message = f"Gave up after {attempts} attempts: {message}"
    fail(kind, row_id, token, message, job_id=job_id, also=also)
    return Outcome("failed")


def record_exception(
    kind: Kind,
    row_id: int,
    token: datetime | None,
    exc: Exception,
    *,
    job_id: int | None,
    also: dict[str, Any] | None = None,
) -> Outcome:
    """``record_error`` for whatever a call raised: anything but a ProviderError (a bug, a surprise
    from an SDK) is logged and retried like a retryable error, so it is bounded, then visible."""
    if not isinstance(exc, ProviderError):
        log.error("%s %s: unexpected error from the provider", kind.name, row_id, exc_info=exc)
        exc = ProviderError(f"Unexpected error: {type(exc).__name__}: {exc}", retryable=True)
    return record_error(kind, row_id, token, exc, job_id=job_id, also=also)


def fail(
    kind: Kind,
    row_id: int,
    token: datetime | None,
    message: str,
    *,
    job_id: int | None,
    also: dict[str, Any] | None = None,
) -> bool:
    """RUNNING (under this claim) -> FAILED with the message, which the job shows too."""
    message = message[:MAX_ERROR]
    written = held(kind, row_id, token).update(
        status=kind.failed, error=message, finished_at=timezone.now(), **(also or {})
    )
    if written:
        log.warning("%s %s failed: %s", kind.name, row_id, message)
        job_failed_row(kind, job_id, message)
    return bool(written)


def job_failed_row(kind: Kind, job_id: int | None, message: str) -> None:
    """The first failure's message goes on the job; the job ends if that was its last row."""
    if job_id is None or kind.job_model is None:
        return
    kind.job_model.objects.filter(id=job_id, error="").update(error=message[:MAX_ERROR])
    finish_if_complete(kind, job_id)


def backoff_seconds(*, attempts: int, retry_after: float | None) -> float:
    """Exponential backoff with jitter, never sooner than the provider's ``retry-after``."""
    exp = min(0.5 * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)
    jittered = exp * random.uniform(0.75, 1.0)
    return round(max(jittered, retry_after or 0.0), 3)


# --- ending a job --------------------------------------------------------------------------------


def finish_if_complete(kind: Kind, job_id: int) -> bool:
    """End the job once nothing is PENDING or RUNNING: failed if rows failed and none is done,
    done otherwise. Safe under races: the conditional UPDATE lets exactly one caller end it, and
    only that one runs ``kind.on_job_end``."""
    if kind.job_model is None or generation_sql.work_left(kind, job_id):
        return False
    rows = kind.rows(job_id)
    failed = rows.filter(status=kind.failed).exists()
    status = kind.job_model.Status.DONE
    if failed and not rows.filter(status=kind.done).exists():
        status = kind.job_model.Status.FAILED
    ended = kind.job_model.objects.filter(id=job_id, status__in=kind.job_active).update(
        status=status, finished_at=timezone.now()
    )
    if not ended:
        return False
    if kind.on_job_end is not None:
        kind.on_job_end(job_id, status)
    return True
