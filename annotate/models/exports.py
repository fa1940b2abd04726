"""Exports: one row per dataset a researcher asked for; the row is also the job that builds it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from annotate.models.campaigns import Campaign


class Export(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="exports")
    format = models.CharField(max_length=32)
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status, default=Status.QUEUED)
    row_count = models.PositiveIntegerField(default=0)
    progress = models.PositiveIntegerField(default=0)
    # The zip's name in storages["exports"] (annotate/export_files.py); rows made before exports
    # went through storage hold the absolute local folder, with the zip beside it.
    path = models.CharField(max_length=500, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    # Claimed like every background job (annotate/work): a killed build is rebuilt, a few times.
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.BigIntegerField(null=True, blank=True)  # WorkerProcess id
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"export {self.pk} ({self.format}, {self.status})"
