"""Accounts: one user model, with the role that decides what each person may see and do."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    class Role(models.TextChoices):
        RATER = "rater", _("Rater")
        RESEARCHER = "researcher", _("Researcher")
        ADMIN = "admin", _("Admin")

    role = models.CharField(max_length=16, choices=Role, default=Role.RATER)

    @property
    def is_campaign_admin(self) -> bool:
        return self.is_superuser or self.role == self.Role.ADMIN

    @property
    def is_researcher(self) -> bool:
        """Researchers read analytics and export; admins can do everything researchers can."""
        return self.is_campaign_admin or self.role == self.Role.RESEARCHER
