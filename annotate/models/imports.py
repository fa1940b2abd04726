"""Background prompt imports: one row per large file a worker imports (the row is also its job)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class PromptImport(models.Model):
    """A prompt file imported by a worker, all or nothing, with its progress and its result.

    ``lines_read`` and ``bad_lines`` move while it runs; at the end either ``created`` (and
    ``skipped``) say what was added, or ``errors`` lists the bad lines (nothing was added). ``error``
    is a failure that is not the file's (the worker gave up). Claimed like every background job
    (annotate/work): a killed import starts again from the top, a few times.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    campaign = models.ForeignKey(
        "annotate.Campaign", on_delete=models.CASCADE, related_name="prompt_imports"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    file_name = models.CharField(max_length=255)  # as uploaded, shown on the page
    upload = models.CharField(max_length=500, blank=True)  # the stored file until the import ends
    size = models.BigIntegerField(default=0)
    skip_existing = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    lines_read = models.PositiveBigIntegerField(default=0)
    bad_lines = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)  # [{"line": n, "reason": "..."}]
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.BigIntegerField(null=True, blank=True)  # WorkerProcess id
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"import {self.pk} of {self.file_name}"

    @property
    def ended(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def refused(self) -> bool:
        return self.status == self.Status.DONE and bool(self.errors)
