"""Invitations: raters an admin invites in bulk from the pages, the API or a command, each with a
one-time link (annotate/services/invitations.py).

An invitation's life::

    created (open) --link used once, before expires_at--> used   (the link answers 410 from then on)
          \\--------expires_at passes-------------------> expired (410 as well)

The link carries only the invitation's id, signed (django.core.signing); the row says whether it
may still be used, and the conditional UPDATE that sets ``used_at`` makes the use one-time.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from annotate.models.campaigns import Campaign


class Invitation(models.Model):
    class Kind(models.TextChoices):
        EMAIL = "email", _("Name and email")
        ANONYMOUS = "anonymous", _("Anonymous")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="invitations")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invitations"
    )
    kind = models.CharField(max_length=16, choices=Kind)
    # The account was made by this invitation (no password yet): only then may the link sign in.
    new_account = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["campaign", "used_at"], name="invitation_open")]

    def __str__(self) -> str:
        return f"invitation {self.pk} of {self.user_id} to campaign {self.campaign_id}"

    @property
    def is_open(self) -> bool:
        return self.used_at is None and self.expires_at > timezone.now()
