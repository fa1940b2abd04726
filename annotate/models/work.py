"""Background work (annotate/work/): which processes hold claims and whether they are alive, who
sweeps, and what the sweep recovered.

Claims themselves live on the rows they claim (``Candidate``, ``JudgeVerdict``, ``Export``: status,
``claimed_at``, ``claimed_by``, ``attempts``); these tables are what every kind of work shares.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class WorkerProcess(models.Model):
    """A process that claims work (a prefork child, or a threads/solo worker, or ``generate --inline``).

    A daemon thread in the process bumps ``beat_at`` every few seconds (annotate/work/workers.py). A
    claim stamped with a process whose beat is older than ``WORK_DEAD_AFTER_SECONDS`` belongs to a
    dead process and is sent again; a live process's claim is never taken, however long its call.
    The sweep sets ``lost_at`` once it has recovered the process's work, and deletes the row an
    hour later. ``claimed_by`` columns hold this id without a foreign key: a claim outlives the row.
    """

    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    beat_at = models.DateTimeField(default=timezone.now)
    lost_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"worker {self.pk} ({self.hostname}:{self.pid})"


class WorkLease(models.Model):
    """One row per periodic duty (``"sweep"``): the live process that moves ``ran_at`` forward with a
    conditional UPDATE runs it; the others see the UPDATE match nothing. So every process can run
    the sweep, and it runs about once per period however many there are."""

    name = models.CharField(max_length=40, unique=True)
    ran_at = models.DateTimeField(default=timezone.now)
    worker_id = models.BigIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"lease {self.name} (ran {self.ran_at:%H:%M:%S})"


class WorkRecovery(models.Model):
    """The sweep sent again work that a process held when it stopped: shown on the progress pages
    ("a worker stopped; its work was sent again") and counted by bench/recovery.py."""

    kind = models.CharField(max_length=32)  # annotate.work.Kind.name: candidate | verdict | export
    job_id = models.BigIntegerField()  # the job's id (an export is its own job)
    worker_id = models.BigIntegerField(null=True, blank=True)
    rows = models.PositiveIntegerField(default=0)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["kind", "job_id", "at"], name="workrecovery_job")]

    def __str__(self) -> str:
        return f"{self.kind} job {self.job_id}: {self.rows} sent again at {self.at:%H:%M:%S}"
