"""Raters who arrive from a crowd platform (Prolific, MTurk, a signed link): the campaign's platform
settings, the participant row, and the training phase.

A participant's state machine (``Participant.status``)::

    arrive -> WORKING --consent declined--------------------------> RETURNED
                 |  --training below the pass mark---------------> SCREENED_OUT
                 |  --gold accuracy below the attention mark-----> FAILED_ATTENTION
                 |  --quota reached or campaign out of work------> COMPLETED
                 |  --platform says returned/timed out/rejected--> RETURNED
    (any state but WORKING is final: the account gets no new lease and lands on the finish page)

Within WORKING, ``consented_at`` then ``training_done`` say which page comes next.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from annotate.models.campaigns import Campaign
from annotate.models.rating import Pair
from annotate.validation import MAX_GUIDELINES, validate_finite, validate_one_line, validate_text

PROLIFIC_COMPLETE = "https://app.prolific.com/submissions/complete?cc="
PROLIFIC_ID = re.compile(r"[0-9a-f]{24}\Z")
_CODE = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
_HOST = re.compile(
    r"(?=.{1,253}\Z)[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?)*(:\d{1,5})?\Z"
)
MAX_RETURN_HOSTS = 20


def validate_code(value: str) -> None:
    if value and not _CODE.match(value):
        raise ValidationError(
            "A code is 1 to 64 letters, digits, “-” or “_” (Prolific shows e.g. C1A2B3C4).",
            code="code",
        )


def loopback_allowed() -> bool:
    """Tests and a developer's machine may send participants to 127.0.0.1 (a capture endpoint)."""
    return bool(getattr(settings, "CROWD_ALLOW_LOOPBACK", False))


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a place we send a participant to, or None: https only (http on
    loopback when CROWD_ALLOW_LOOPBACK is set), no credentials, a host."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 (a bad port raises here)
    except ValueError:
        return "This is not a URL."
    if parts.username or parts.password:
        return "A URL with a user name or password is refused."
    loopback = host in ("127.0.0.1", "localhost")
    if parts.scheme == "https" and host:
        return None
    if parts.scheme == "http" and loopback and loopback_allowed():
        return None
    return "Use an https:// URL."


def validate_return_hosts(value) -> None:
    if not isinstance(value, list) or not all(isinstance(h, str) for h in value):
        raise ValidationError('A list of host names, e.g. ["survey.example.org"].')
    if len(value) > MAX_RETURN_HOSTS:
        raise ValidationError(f"At most {MAX_RETURN_HOSTS} hosts.")
    for host in value:
        if not _HOST.match(host):
            raise ValidationError(
                f"{host[:80]!r} is not a host name (lower case, e.g. survey.example.org)."
            )


def _salt() -> str:
    return secrets.token_hex(16)


class CrowdSettings(models.Model):
    """How a campaign takes raters from crowd platforms. One row per campaign; without it (or with
    ``enabled`` off) every platform entry answers 404."""

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="crowd")
    enabled = models.BooleanField(default=False, help_text="Platform links let participants in.")
    completion_code = models.CharField(max_length=64, blank=True, validators=[validate_code])
    screened_out_code = models.CharField(max_length=64, blank=True, validators=[validate_code])
    failed_attention_code = models.CharField(max_length=64, blank=True, validators=[validate_code])
    returned_code = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_code],
        help_text="Sent when a participant declines consent (blank: no code, the study's page).",
    )
    completion_url = models.CharField(
        max_length=500,
        default=PROLIFIC_COMPLETE,
        validators=[validate_one_line],
        help_text="Prolific's completion URL; the code is appended.",
    )
    units_per_participant = models.PositiveIntegerField(
        default=20, validators=[MinValueValidator(1), MaxValueValidator(10_000)]
    )
    attention_min_accuracy = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0), validate_finite],
        help_text="Gold accuracy below this (after the minimum gold answered) fails attention.",
    )
    attention_min_answered = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )
    consent = models.TextField(
        blank=True,
        validators=[validate_text, MaxLengthValidator(MAX_GUIDELINES)],
        help_text="Markdown shown before anything else; declining ends the session.",
    )
    consent_html = models.TextField(blank=True, editable=False)
    training_units = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(100)],
        help_text="Training pairs each participant answers first (0: no training).",
    )
    training_pass = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0), validate_finite],
        help_text="Share of training answers that must be right to go on.",
    )
    return_hosts = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_return_hosts],
        help_text="Hosts a signed link's return URL may point at.",
    )
    prolific_study_id = models.CharField(
        max_length=24, blank=True, help_text="Polled for returned and timed-out submissions."
    )
    pseudonym_salt = models.CharField(max_length=64, default=_salt, editable=False)

    def __str__(self) -> str:
        return f"crowd settings of {self.campaign}"

    def clean(self) -> None:
        super().clean()
        errors: dict[str, str] = {}
        problem = url_problem(self.completion_url or "")
        if problem:
            errors["completion_url"] = problem
        if self.prolific_study_id and not PROLIFIC_ID.match(self.prolific_study_id):
            errors["prolific_study_id"] = "A Prolific id is 24 hexadecimal characters."
        if self.enabled and not self.completion_code:
            errors["completion_code"] = "A participant who finishes needs a completion code."
        if self.attention_min_accuracy > 0 and not self.failed_attention_code:
            errors["failed_attention_code"] = "An attention threshold needs its own code."
        if self.training_units and not self.screened_out_code:
            errors["screened_out_code"] = "A training phase needs a screened-out code."
        if errors:
            raise ValidationError(errors)

    def completion_link(self, code: str) -> str:
        return f"{self.completion_url}{code}"


class Participant(models.Model):
    class Platform(models.TextChoices):
        PROLIFIC = "prolific", "Prolific"
        MTURK = "mturk", "MTurk"
        LINK = "link", "Signed link"

    class Status(models.TextChoices):
        WORKING = "working", "Working"
        COMPLETED = "completed", "Completed"
        SCREENED_OUT = "screened_out", "Screened out"
        RETURNED = "returned", "Returned"
        FAILED_ATTENTION = "failed_attention", "Failed attention checks"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="participants")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="participant"
    )
    platform = models.CharField(max_length=16, choices=Platform)
    external_id = models.CharField(max_length=64, validators=[validate_one_line])
    study_id = models.CharField(max_length=64, blank=True, validators=[validate_one_line])
    session_id = models.CharField(max_length=64, blank=True, validators=[validate_one_line])
    # MTurk: the assignment, the HIT, and where the finish posts to.
    assignment_id = models.CharField(max_length=64, blank=True, validators=[validate_one_line])
    hit_id = models.CharField(max_length=64, blank=True, validators=[validate_one_line])
    submit_to = models.CharField(max_length=200, blank=True, validators=[validate_one_line])
    # Signed link: where the participant goes back to.
    return_url = models.CharField(max_length=500, blank=True, validators=[validate_one_line])
    status = models.CharField(max_length=20, choices=Status, default=Status.WORKING)
    status_reason = models.CharField(max_length=300, blank=True, validators=[validate_text])
    consented_at = models.DateTimeField(null=True, blank=True)
    training_done = models.BooleanField(default=False)
    training_correct = models.PositiveSmallIntegerField(default=0)
    training_answered = models.PositiveSmallIntegerField(default=0)
    # Active time: heartbeats and votes closer together than CROWD_IDLE_SECONDS add up.
    active_seconds = models.FloatField(default=0.0)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # One account per platform id per campaign: two arrivals at once get the same row.
            models.UniqueConstraint(
                fields=["campaign", "platform", "external_id"], name="participant_unique_id"
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "working",
                        "completed",
                        "screened_out",
                        "returned",
                        "failed_attention",
                    ]
                ),
                name="participant_status_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} participant {self.pk} in campaign {self.campaign_id}"

    @property
    def is_working(self) -> bool:
        return self.status == self.Status.WORKING

    @property
    def training_score(self) -> float | None:
        if not self.training_answered:
            return None
        return self.training_correct / self.training_answered


class TrainingUnit(models.Model):
    """A gold pair used for training: shown with feedback before real work, never leased (its pair
    is taken out of the pool: ``needed = 0``)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="training_units")
    pair = models.OneToOneField(Pair, on_delete=models.CASCADE, related_name="training")
    explanation = models.TextField(
        blank=True, validators=[validate_text, MaxLengthValidator(5_000)]
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"training unit {self.pk} (pair {self.pair_id})"

    def clean(self) -> None:
        super().clean()
        if self.pair_id and not self.pair.gold_answer:
            raise ValidationError({"pair": "A training pair needs a gold answer first."})
        if self.pair_id and self.campaign_id and self.pair.campaign_id != self.campaign_id:
            raise ValidationError({"pair": "This pair belongs to another campaign."})


class TrainingAnswer(models.Model):
    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="training_answers"
    )
    unit = models.ForeignKey(TrainingUnit, on_delete=models.CASCADE, related_name="answers")
    choice = models.CharField(max_length=8, choices=Pair.Gold)
    correct = models.BooleanField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "unit"], name="training_answer_once"),
        ]

    def __str__(self) -> str:
        return f"training answer of participant {self.participant_id} on unit {self.unit_id}"
