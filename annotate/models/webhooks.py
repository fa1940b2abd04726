"""Webhooks: where a campaign's events are sent (an admin's setting), and each sending of one."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from annotate.models.campaigns import Campaign
from annotate.validation import validate_json

EVENTS = {
    "export.done": _("An export finished"),
    "export.failed": _("An export failed"),
    "campaign.complete": _("Every unit of the campaign has its votes"),
}


class Webhook(models.Model):
    """A URL that receives a campaign's events, signed with WEBHOOK_SECRET (never stored)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, validators=[validate_json])
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "url"], name="webhook_unique_url"),
        ]

    def __str__(self) -> str:
        return f"webhook {self.pk} of campaign {self.campaign_id}"


class WebhookDelivery(models.Model):
    """One event for one webhook: sent until the receiver answers 2xx, a few times at most."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DONE = "done", _("Delivered")
        FAILED = "failed", _("Failed")

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40)
    payload = models.JSONField(validators=[validate_json])
    status = models.CharField(max_length=12, choices=Status, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When the next try is due; a message lost with a killed worker is sent again after it.
    next_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # "campaign.complete" is sent once per webhook, however many sweeps see it.
            models.UniqueConstraint(
                fields=["webhook", "event"],
                condition=Q(event="campaign.complete"),
                name="webhookdelivery_complete_once",
            ),
        ]
        indexes = [models.Index(fields=["status", "next_at"], name="webhookdelivery_due")]

    def __str__(self) -> str:
        return f"delivery {self.pk} of {self.event} ({self.status})"
