"""The AI judge (annotate/judge/, services/judging.py): its configuration, versioned rubrics, jobs
and verdicts. When raters see it is Campaign.judge_mode."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from annotate import endpoints
from annotate.models.campaigns import Campaign, Prompt
from annotate.models.generation import Candidate
from annotate.models.rating import Pair
from annotate.validation import validate_json, validate_one_line, validate_text


def _default_judge_model() -> str:
    return settings.ANTHROPIC_DEFAULT_MODEL


class JudgeConfig(models.Model):
    """The campaign's judge: which provider/model, how to run it, and when it may label on its own."""

    class Provider(models.TextChoices):
        ANTHROPIC = "anthropic", "Anthropic (Messages API)"
        OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible server (vLLM, Ollama, …)"
        DEMO = "demo", "Offline demo judge"

    class Mode(models.TextChoices):
        FAST = "fast", "Fast (one request per verdict)"
        CHEAP = "cheap", "Cheap (Message Batches, half price)"

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="judge_config")
    provider = models.CharField(max_length=24, choices=Provider, default=Provider.ANTHROPIC)
    model = models.CharField(
        max_length=200, default=_default_judge_model, validators=[validate_one_line]
    )
    # As for generators: an endpoint the operator configured, or a typed base URL with no key.
    endpoint = models.CharField(max_length=100, blank=True, validators=[validate_one_line])
    base_url = models.URLField(blank=True)
    params = models.JSONField(
        default=dict,
        blank=True,
        help_text="max_tokens, temperature, timeout",
        validators=[validate_json],
    )
    mode = models.CharField(max_length=8, choices=Mode, default=Mode.CHEAP)
    auto_label_min_kappa = models.FloatField(
        default=0.6, help_text="Auto-label only when Cohen's κ(judge, humans) is at least this."
    )
    auto_label_min_pairs = models.PositiveIntegerField(
        default=20, help_text="Human-labelled pairs needed before κ is trusted."
    )
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"judge {self.provider}/{self.model}"

    def clean(self) -> None:
        """No key goes to a host the operator did not pair it with (annotate/endpoints.py)."""
        self.endpoint, self.base_url = endpoints.target_validated(
            provider=self.provider, endpoint=self.endpoint, base_url=self.base_url
        )


class JudgeRubric(models.Model):
    """Versioned judge instructions. An edit is a new version; verdicts point at the version used."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="judge_rubrics")
    version = models.PositiveIntegerField()
    text = models.TextField(validators=[validate_text])
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["campaign", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "version"], name="judgerubric_unique_version"
            ),
        ]

    def __str__(self) -> str:
        return f"rubric v{self.version}"


class JudgeJob(models.Model):
    """One "start judging" click: which verdicts, fast or batch, progress, provider batch ids."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Kind(models.TextChoices):
        PAIRS = "pairs", "Judge the campaign's pairs"
        RANK = "rank", "Rank each prompt's candidates (best-of-N)"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="judge_jobs")
    rubric = models.ForeignKey(JudgeRubric, on_delete=models.PROTECT, related_name="jobs")
    kind = models.CharField(max_length=8, choices=Kind, default=Kind.PAIRS)
    mode = models.CharField(max_length=8, choices=JudgeConfig.Mode, default=JudgeConfig.Mode.FAST)
    status = models.CharField(max_length=16, choices=Status, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    provider_batch_ids = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"judge job {self.pk} ({self.status})"


class JudgeVerdict(models.Model):
    """The judge's answer on two candidates of one prompt, asked in both presentation orders.

    ``order1`` is the answer with candidate a shown first, ``order2`` with b first, each already mapped
    to canonical a/b. ``choice`` is kept only when they agree, else "inconsistent" (shown as uncertain).
    A verdict may exist without a Pair (best-of-N ranking judges candidates no human is shown yet).
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    INCONSISTENT = "inconsistent"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="judge_verdicts")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="judge_verdicts")
    pair = models.ForeignKey(
        Pair, null=True, blank=True, on_delete=models.CASCADE, related_name="judge_verdicts"
    )
    candidate_a = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="+")
    candidate_b = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="+")
    rubric = models.ForeignKey(JudgeRubric, on_delete=models.PROTECT, related_name="verdicts")
    job = models.ForeignKey(
        JudgeJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="verdicts"
    )
    provider = models.CharField(max_length=24, choices=JudgeConfig.Provider)
    model = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status, default=Status.PENDING)
    order1 = models.JSONField(null=True, blank=True)  # a shown first, mapped to canonical
    order2 = models.JSONField(null=True, blank=True)  # b shown first, mapped to canonical
    choice = models.CharField(max_length=16, blank=True)  # a | b | tie | both_bad | inconsistent
    strength = models.PositiveSmallIntegerField(null=True, blank=True)
    consistent = models.BooleanField(null=True)
    aspects = models.JSONField(default=dict, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    rationale = models.TextField(blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cache_read_tokens = models.PositiveIntegerField(default=0)
    cache_write_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("0"))
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.BigIntegerField(null=True, blank=True)  # WorkerProcess id (annotate/work)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            # One verdict per candidate pair per rubric version and model: a retry cannot add a twin.
            models.UniqueConstraint(
                fields=["candidate_a", "candidate_b", "rubric", "model"],
                name="judgeverdict_unique",
            ),
            models.CheckConstraint(
                condition=Q(candidate_a__lt=F("candidate_b")), name="judgeverdict_ordered"
            ),
        ]
        indexes = [models.Index(fields=["campaign", "status"], name="judgeverdict_status")]

    def __str__(self) -> str:
        return f"verdict {self.pk} ({self.status})"

    @property
    def is_consistent_verdict(self) -> bool:
        return self.status == self.Status.DONE and bool(self.consistent)


class SetJudgement(models.Model):
    """The AI judge on one candidate set, as claimable work (annotate/work): a row per set and
    judge model, its own job. The step judge (StepJudgement) and the rating judge
    (RatingJudgement) share these fields; each names its campaign, set and the vote it wrote."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    provider = models.CharField(max_length=24)
    model = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status, default=Status.PENDING)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cache_read_tokens = models.PositiveIntegerField(default=0)
    cache_write_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("0"))
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.BigIntegerField(null=True, blank=True)  # WorkerProcess id
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True
        ordering = ["id"]
