"""Message Batches for any kind of work (half price, results within 24 hours).

A batch holds many rows of one job at once, so their claims belong to the batch, not to a process:

    pending --claim_rows (one stamp per chunk)--> running --collect (guarded by the stamp)--> done | failed
       ^                                            |
       +--- retryable item error, expired item -----+   (into a new batch, up to max_attempts)

* ``submit`` claims the job's PENDING rows chunk by chunk (``claims.claim_rows``: RUNNING,
  ``claimed_at`` = the chunk's stamp, ``claimed_by`` NULL), records the submission in
  ``job.provider_batch_ids`` as ``{"id": None, "claimed_at", "size", "worker", …}`` *before* the
  call, and stores the batch id when the call returns. A failed call hands every row its error
  (retried in a later batch, or failed) and drops the entry.
* ``poll`` asks for the batch's status until it has ended, then hands the result lines to the kind's
  ``collect``, which writes each under the chunk's stamp (nothing is written twice), and marks the
  entry collected. Each poll stamps ``polled_at`` on the entry, and a poll that finds another one
  was made less than half a period ago stops: a poll sent again never doubles the polling.
* ``recover`` settles a submission whose answer was lost (its worker died between the provider's
  reply and storing the id; the rows wait RUNNING under the entry's stamp). Once the submitting
  process is dead (or the entry is older than the stale window): if the provider has a batch of
  that size created since the stamp, it is ours, so record its id and poll it; if not, the rows go
  back to PENDING for a new batch. Either way they are paid for once.
* ``sweep_job`` (from the sweep) asks for that recovery, and polls again an open batch whose poll
  message was lost (none for longer than the stale window, or a process died since).

A kind that submits batches declares a ``BatchKind``: how to group rows, build and send one
submission, read and write the results. Rows inside a submitted batch are left alone by the sweep
(``held_by_batches``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from annotate.providers.base import ProviderError
from annotate.work import claims, workers
from annotate.work.kinds import Kind

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchKind:
    kind: Kind
    groups: Callable[[Any], list]  # (job) -> what one batch may hold (its generators, its judge)
    pending: Callable[[Any, Any], QuerySet]  # (job, group) -> the group's PENDING rows
    entry_key: Callable[[Any], dict]  # (group) -> what an entry records to find its group again
    group_of: Callable[[Any, dict], Any]  # (job, entry) -> that group
    provider: Callable[[Any, Any], Any]  # (job, group) -> the transport; may raise ProviderError
    submit: Callable[[Any, Any, list[int]], str]  # (provider, job, claimed ids) -> batch id
    results: Callable[[Any, str], list]  # (provider, batch id) -> the ended batch's lines
    # (job, stamp, lines): write them under the stamp; True if rows went back for a new batch.
    collect: Callable[[Any, datetime | None, list], bool]
    tasks: tuple[str, str, str]  # names in annotate.tasks: submit(job_id), poll(job_id,
    # batch_id), recover(job_id)
    poll_setting: str  # seconds between polls: settings.<this>, default 30
    chunk: Callable[[], int]  # rows per batch
    requests_per_row: int = 1

    def poll_seconds(self) -> float:
        return float(getattr(settings, self.poll_setting, 30))


@dataclass(frozen=True)
class Submitted:
    batches: int = 0
    retry_in: float | None = None  # a retryable error: submit again after this many seconds


# --- the job's record of its submissions ----------------------------------------------------------


def entries(job) -> list[dict]:
    return [e for e in (job.provider_batch_ids or []) if isinstance(e, dict)]


def stamp(entry: dict) -> datetime | None:
    return datetime.fromisoformat(entry["claimed_at"]) if entry.get("claimed_at") else None


def entry_for(job, batch_id: str | None) -> dict | None:
    for entry in entries(job):
        if batch_id and entry.get("id") == batch_id:
            return entry
    return None


def open_entries(job) -> list[dict]:
    return [e for e in entries(job) if not e.get("collected")]


def held_by_batches(kind: Kind, job) -> Q:
    """The job's rows that wait inside a submission not yet collected (the sweep's to leave)."""
    open_ = open_entries(job)
    if any(stamp(e) is None for e in open_):
        # Recorded before submissions carried their stamp: any running row may be in it.
        return Q(status=kind.running)
    return Q(status=kind.running, claimed_at__in=[stamp(e) for e in open_])


def _change(kind: Kind, job_id: int, change: Callable[[list], list]) -> None:
    with transaction.atomic():
        job = kind.job_model.objects.select_for_update().get(id=job_id)
        job.provider_batch_ids = change(list(job.provider_batch_ids or []))
        job.save(update_fields=["provider_batch_ids"])


def _unsent(entry, token: datetime | None = None) -> bool:
    """An entry recorded before its submission whose batch id never came back (yet)."""
    return (
        isinstance(entry, dict)
        and entry.get("id") is None
        and (token is None or entry.get("claimed_at") == token.isoformat())
    )


def _task(name: str):
    from annotate import tasks

    return getattr(tasks, name)


def _schedule_poll(spec: BatchKind, job_id: int, batch_id: str, countdown: float) -> None:
    poll_task = _task(spec.tasks[1])
    transaction.on_commit(
        lambda: poll_task.apply_async(
            kwargs={"job_id": job_id, "batch_id": batch_id}, countdown=countdown
        )
    )


def _schedule(spec: BatchKind, which: int, job_id: int) -> None:
    task = _task(spec.tasks[which])
    transaction.on_commit(lambda: task.delay(job_id=job_id))


# --- submit, poll, recover ------------------------------------------------------------------------


def submit(spec: BatchKind, *, job_id: int) -> Submitted:
    """Submit every PENDING row of the job, chunk by chunk, group by group."""
    kind = spec.kind
    job = kind.job_model.objects.filter(id=job_id).first()
    if job is None or job.status not in kind.job_active:
        return Submitted()
    created = 0
    for group in spec.groups(job):
        while True:
            ids = list(
                spec.pending(job, group).order_by("id").values_list("id", flat=True)[: spec.chunk()]
            )
            if not ids:
                break
            token = timezone.now()
            claims.claim_rows(kind, ids=ids, token=token)
            claims.job_started(kind, job.id, token)
            claimed = list(
                kind.model.objects.filter(id__in=ids, status=kind.running, claimed_at=token)
                .order_by("id")
                .values_list("id", flat=True)
            )
            if not claimed:
                continue  # someone else took them; look again
            outcome = _submit_chunk(spec, job, group, token, claimed)
            if isinstance(outcome, float):
                return Submitted(batches=created, retry_in=outcome)
            created += outcome
    claims.finish_if_complete(kind, job.id)
    return Submitted(batches=created)


def _submit_chunk(spec: BatchKind, job, group, token: datetime, ids: list[int]) -> int | float:
    """1 if a batch was created, 0 if its rows failed, or seconds to wait before trying again."""
    kind = spec.kind
    entry = {
        "id": None,
        "claimed_at": token.isoformat(),
        "size": len(ids) * spec.requests_per_row,
        "worker": workers.current(),
        **spec.entry_key(group),
    }
    # Recorded before the call: if this process dies after the provider has accepted the batch but
    # before its id is stored, ``recover`` finds that batch instead of paying for it again.
    _change(kind, job.id, lambda all_: [*all_, entry])
    try:
        batch_id = spec.submit(spec.provider(job, group), job, ids)
    except ProviderError as exc:
        _change(kind, job.id, lambda all_: [e for e in all_ if not _unsent(e, token)])
        # Submission is all-or-nothing: every claimed row shares the error (retried, or failed).
        for row_id in ids:
            claims.record_error(kind, row_id, token, exc, job_id=job.id)
        if exc.retryable:
            return max(exc.retry_after or 0.0, 5.0)
        return 0
    with transaction.atomic():
        _change(
            kind,
            job.id,
            lambda all_: [{**e, "id": batch_id} if _unsent(e, token) else e for e in all_],
        )
        _schedule_poll(spec, job.id, batch_id, spec.poll_seconds())
    log.info("%s job %s: submitted batch %s (%s rows)", kind.name, job.id, batch_id, len(ids))
    return 1


def poll(spec: BatchKind, *, job_id: int, batch_id: str) -> float | None:
    """Check one batch; when it has ended, write its results. Seconds until the next poll, or None
    when this batch is finished with (or another poll is looking after it)."""
    kind = spec.kind
    now = timezone.now()
    with transaction.atomic():
        job = kind.job_model.objects.select_for_update().filter(id=job_id).first()
        entry = entry_for(job, batch_id) if job else None
        if entry is None or entry.get("collected"):
            return None  # a poll after collection: nothing to do
        polled = entry.get("polled_at")
        if polled and now - datetime.fromisoformat(polled) < timedelta(
            seconds=spec.poll_seconds() / 2
        ):
            return None  # a twin poll (sent again by a sweep): the other one carries on
        job.provider_batch_ids = [
            {**e, "polled_at": now.isoformat()} if e is entry else e for e in job.provider_batch_ids
        ]
        job.save(update_fields=["provider_batch_ids"])
    token = stamp(entry)
    try:
        provider = spec.provider(job, spec.group_of(job, entry))
        if not provider.batch_status(batch_id).ended:
            return spec.poll_seconds()
        results = list(spec.results(provider, batch_id))
    except ProviderError as exc:
        if exc.retryable:
            return max(exc.retry_after or 0.0, spec.poll_seconds())
        error = ProviderError(f"Batch {batch_id}: {exc.message}", retryable=False)
        for row_id in rows_of(kind, job, token).values_list("id", flat=True):
            claims.record_error(kind, row_id, token, error, job_id=job.id)
        _mark_collected(spec, job.id, batch_id, resubmit=False)
        return None
    resubmit = spec.collect(job, token, results)
    _mark_collected(spec, job.id, batch_id, resubmit=resubmit)
    claims.finish_if_complete(kind, job.id)
    return None


def rows_of(kind: Kind, job, token: datetime | None) -> QuerySet:
    """The RUNNING rows of one submission (of the whole job for an entry without a stamp)."""
    rows = kind.rows(job.id).filter(status=kind.running)
    return rows if token is None else rows.filter(claimed_at=token)


def _mark_collected(spec: BatchKind, job_id: int, batch_id: str, *, resubmit: bool) -> None:
    kind = spec.kind
    with transaction.atomic():
        _change(
            kind,
            job_id,
            lambda all_: [
                {**e, "collected": True} if isinstance(e, dict) and e.get("id") == batch_id else e
                for e in all_
            ],
        )
        if resubmit and kind.job_model.objects.filter(id=job_id, status__in=kind.job_active):
            _schedule(spec, 0, job_id)


def lost_submissions(spec: BatchKind, job, *, now: datetime) -> list[dict]:
    """Submissions recorded without a batch id whose process is dead, or older than the window."""
    from annotate.models import WorkerProcess

    cutoff = now - spec.kind.stale_after()
    alive = set(
        WorkerProcess.objects.filter(beat_at__gte=now - workers.dead_after()).values_list(
            "id", flat=True
        )
    )
    lost = []
    for entry in entries(job):
        token = stamp(entry)
        if not _unsent(entry) or token is None:
            continue
        worker = entry.get("worker")
        if token < cutoff or (worker is not None and worker not in alive):
            lost.append(entry)
    return lost


def recover(spec: BatchKind, *, job_id: int) -> int:
    """Settle the job's lost submissions (see the module's docstring); how many were settled."""
    kind = spec.kind
    job = kind.job_model.objects.filter(id=job_id).first()
    if job is None or job.status not in kind.job_active:
        return 0
    settled = 0
    for entry in lost_submissions(spec, job, now=timezone.now()):
        token = stamp(entry)
        known = {e["id"] for e in entries(job) if e.get("id")}
        provider = spec.provider(job, spec.group_of(job, entry))
        # A minute of slack for the provider's clock against ours.
        found = provider.batch_find(
            size=entry["size"], created_from=token - timedelta(minutes=1), exclude=known
        )
        with transaction.atomic():
            if found is not None:
                _change(
                    kind,
                    job.id,
                    lambda all_, f=found, t=token: [
                        {**e, "id": f} if _unsent(e, t) else e for e in all_
                    ],
                )
                _schedule_poll(spec, job.id, found, 0)
                log.info("%s job %s: found batch %s of a lost submission", kind.name, job.id, found)
            else:
                _change(kind, job.id, lambda all_, t=token: [e for e in all_ if not _unsent(e, t)])
                rows_of(kind, job, token).update(status=kind.pending, claimed_at=None)
                _schedule(spec, 0, job.id)
                log.info(
                    "%s job %s: a lost submission never reached the provider", kind.name, job.id
                )
        settled += 1
    return settled


def sweep_job(spec: BatchKind, job, *, now: datetime, someone_died: bool) -> None:
    """Ask for the recovery of lost submissions, and poll again batches whose poll was lost."""
    with transaction.atomic():
        if lost_submissions(spec, job, now=now):
            _schedule(spec, 2, job.id)
        overdue = now - spec.kind.stale_after() - timedelta(seconds=spec.poll_seconds())
        for entry in open_entries(job):
            if not entry.get("id"):
                continue
            last = entry.get("polled_at") or entry.get("claimed_at")
            if someone_died or last is None or datetime.fromisoformat(last) < overdue:
                _schedule_poll(spec, job.id, entry["id"], 0)


def poll_open_on_commit(spec: BatchKind, job) -> None:
    """After a Resume: poll every batch not yet collected, and settle lost submissions."""
    for entry in open_entries(job):
        if entry.get("id"):
            _schedule_poll(spec, job.id, entry["id"], 0)
    if any(_unsent(e) for e in entries(job)):
        _schedule(spec, 2, job.id)
