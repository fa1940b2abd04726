"""What a kind of background work declares, and the list of every kind there is.

A kind is rows that workers claim one at a time (candidates, judge verdicts, exports), and the job
they belong to if any. It names its model and its statuses, says how to send its rows' messages and
what happens when a job ends; the claim, the retries, the bound, the finish, the sweep and the
recovery are the same for every kind (annotate/work/claims.py, sweep.py). A new kind (prompt
imports in the background, live-conversation streams) declares one ``Kind`` beside its service and
adds it to ``all_kinds``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from importlib import import_module
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import QuerySet


def send_each_on_commit(task_name: str, arg: str, ids: Iterable[int]) -> None:
    """One message per row id to ``annotate.tasks.<task_name>`` (as ``arg=id``), sent once the current
    transaction commits, so a worker never claims a row it cannot see yet."""
    ids = list(ids)

    def send() -> None:
        task = getattr(import_module("annotate.tasks"), task_name)  # tasks import the services
        for row_id in ids:
            task.delay(**{arg: row_id})

    transaction.on_commit(send)


def task_time_limit() -> float:
    """The hard time limit of the project's tasks (the Celery default, ``CELERY_TASK_TIME_LIMIT``)."""
    return float(settings.CELERY_TASK_TIME_LIMIT)


@dataclass(frozen=True)
class Kind:
    """One kind of claimable work. Its rows have ``status``, ``claimed_at`` (the claim's stamp),
    ``claimed_by`` (the WorkerProcess holding it), ``attempts``, ``error`` and ``finished_at``."""

    name: str  # stored in WorkRecovery.kind and logs: "candidate", "verdict", "export"
    model: type[models.Model]
    # (job or None, row ids): send their messages once the current transaction commits.
    send: Callable[[Any, list[int]], None]
    noun: str = "items"  # plural, for progress notices: "responses", "verdicts"
    pending: str = "pending"
    running: str = "running"
    done: str = "done"
    failed: str = "failed"
    max_attempts: int = 6  # claims per row before it fails ("Gave up after N attempts: …")
    # The job the rows belong to (its Status has QUEUED, RUNNING, DONE, FAILED; it has
    # ``created_at``). None: every row is its own job, as an export is.
    job_model: type[models.Model] | None = None
    job_field: str = "job"
    # For a kind without jobs: the field (or path) holding when a row was asked for, so the sweep
    # can find the rows worth a look in one query (sweep.py ``_worth_a_look``).
    created_field: str = "created_at"
    # The longest a live process may hold one claim: its task's hard time limit.
    time_limit: Callable[[], float] = task_time_limit
    # Called once when a job has ended (its id and the status it ended with).
    on_job_end: Callable[[int, str], None] | None = None
    # Called after the sweep gave rows up (their ids, the message they failed with), outside its
    # transaction: a kind whose readers wait on something else than the row (live replies: the
    # relay's stream) tells them there.
    on_given_up: Callable[[list[int], str], None] | None = None
    # Rows may be held by Message Batches recorded in ``job.provider_batch_ids`` (work/batches.py).
    batched: bool = False

    @property
    def busy(self) -> tuple[str, str]:
        return (self.pending, self.running)

    @property
    def job_active(self) -> tuple[str, ...]:
        if self.job_model is None:
            return self.busy
        return (self.job_model.Status.QUEUED, self.job_model.Status.RUNNING)

    def rows(self, job_id: int) -> QuerySet:
        """The rows of one job (for a kind without jobs: the row itself)."""
        if self.job_model is None:
            return self.model.objects.filter(id=job_id)
        return self.model.objects.filter(**{f"{self.job_field}_id": job_id})

    def active_jobs(self) -> QuerySet:
        owner = self.job_model or self.model
        return owner.objects.filter(status__in=self.job_active)

    def stale_after(self) -> timedelta:
        """A claim older than this is a hung or dead holder's whoever it is (the backstop for claims
        made by a process without a heartbeat). It exceeds the longest a live task may run, so a
        slow call is never claimed twice. ``WORK_STALE_SECONDS`` overrides it for every kind."""
        seconds = getattr(settings, "WORK_STALE_SECONDS", 0) or self.time_limit() + 30
        return timedelta(seconds=float(seconds))


def all_kinds() -> tuple[Kind, ...]:
    """Every kind of claimable work, in the order the sweep visits them."""
    from annotate.services.exports import EXPORTS
    from annotate.services.generation import CANDIDATES
    from annotate.services.judging import VERDICTS
    from annotate.services.judging_ratings import RATING_JUDGEMENTS
    from annotate.services.judging_steps import STEP_JUDGEMENTS
    from annotate.services.live import LIVE_REPLIES
    from annotate.services.prompt_imports import PROMPT_IMPORTS
    from annotate.services.ttc_reviews import REVIEWS

    return (
        CANDIDATES,
        VERDICTS,
        EXPORTS,
        PROMPT_IMPORTS,
        REVIEWS,
        STEP_JUDGEMENTS,
        RATING_JUDGEMENTS,
        LIVE_REPLIES,
    )


def all_batch_kinds() -> tuple:
    """Every kind that also submits Message Batches (work/batches.py ``BatchKind``)."""
    from annotate.services.generation_batches import BATCHES as candidate_batches
    from annotate.services.judging_batch import BATCHES as verdict_batches

    return (candidate_batches, verdict_batches)
