"""Generation: who writes candidates (generators), the jobs that ask them, the candidates, and the
prices and rate-limit buckets the workers share."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxLengthValidator, MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from annotate import endpoints
from annotate.models.campaigns import Campaign, Prompt
from annotate.reading import reading_length
from annotate.validation import MAX_TEXT, validate_json, validate_one_line, validate_text


class Generator(models.Model):
    class Provider(models.TextChoices):
        ANTHROPIC = "anthropic", "Anthropic (Messages API)"
        OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible server (vLLM, Ollama, …)"
        DEMO = "demo", "Offline demo candidates"
        IMPORTED = "imported", "Imported from a file"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="generators")
    name = models.CharField(
        max_length=100,
        help_text="Admin-facing label; raters never see it.",
        validators=[validate_one_line],
    )
    provider = models.CharField(max_length=24, choices=Provider)
    model = models.CharField(max_length=200, validators=[validate_one_line])
    # Where calls go: an endpoint the operator configured (its base URL and key variable come
    # from the environment, annotate/endpoints.py), or a typed base URL that gets no key.
    endpoint = models.CharField(max_length=100, blank=True, validators=[validate_one_line])
    base_url = models.URLField(blank=True)
    params = models.JSONField(
        default=dict,
        blank=True,
        help_text="temperature, max_tokens, top_p, stop …",
        validators=[validate_json],
    )
    system_prompt = models.TextField(
        blank=True, validators=[validate_text, MaxLengthValidator(MAX_TEXT)]
    )
    samples_per_prompt = models.PositiveSmallIntegerField(
        default=1, validators=[MaxValueValidator(32)]
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "name"], name="generator_unique_name"),
            models.CheckConstraint(
                condition=Q(samples_per_prompt__gte=1), name="generator_samples_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.provider}/{self.model})"

    def clean(self) -> None:
        """No key goes to a host the operator did not pair it with (annotate/endpoints.py)."""
        self.endpoint, self.base_url = endpoints.target_validated(
            provider=self.provider, endpoint=self.endpoint, base_url=self.base_url
        )


class GenerationJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Mode(models.TextChoices):
        FAST = "fast", "Fast (Messages API)"
        CHEAP = "cheap", "Cheap (Message Batches, half price)"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="generation_jobs")
    status = models.CharField(max_length=16, choices=Status, default=Status.QUEUED)
    mode = models.CharField(max_length=8, choices=Mode, default=Mode.FAST)
    total = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    provider_batch_ids = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"generation job {self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)


class Candidate(models.Model):
    """One response. Created PENDING by a job, then claimed and filled by exactly one task run."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="candidates")
    generator = models.ForeignKey(Generator, on_delete=models.CASCADE, related_name="candidates")
    sample_index = models.PositiveSmallIntegerField(default=0)
    job = models.ForeignKey(
        GenerationJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="candidates"
    )
    status = models.CharField(max_length=16, choices=Status, default=Status.PENDING)
    text = models.TextField(blank=True, validators=[validate_text])
    html = models.TextField(blank=True, editable=False)  # sanitised, rendered once at write time
    # ``text``'s reading length (annotate/reading.py), written with the text: save() measures it,
    # and every bulk_create / update() that writes text sets it too (the length-bias statistic
    # reads it instead of measuring every text on each recompute). Null: not measured (a row
    # written without it, or a text changed without it: PostgreSQL's trigger of migration
    # 0026 clears it then); the readers measure such rows from the text.
    read_length = models.PositiveIntegerField(null=True, blank=True, editable=False)
    # The model's reasoning (Claude's thinking blocks, reasoning_content, or a chain of thought
    # split off the reply), kept apart from the final response in ``text``. Its tokens are part of
    # output_tokens, its cost part of cost_usd (the share the reasoning took).
    reasoning = models.TextField(blank=True, validators=[validate_text])
    reasoning_html = models.TextField(blank=True, editable=False)
    reasoning_tokens = models.PositiveIntegerField(default=0)
    reasoning_cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("0"))
    # The final answer by the campaign's rule (annotate/answers.py), and the rule that found it
    # ("" until extracted; a rule that found nothing leaves final_answer empty).
    final_answer = models.TextField(blank=True)
    answer_rule = models.CharField(max_length=400, blank=True)
    stop_reason = models.CharField(max_length=40, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cache_read_tokens = models.PositiveIntegerField(default=0)
    cache_write_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("0"))
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    # Time to the first streamed token (live replies; null for replies not streamed).
    ttft_ms = models.PositiveIntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    self_identifies = models.BooleanField(default=False)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.BigIntegerField(null=True, blank=True)  # WorkerProcess id (annotate/work)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["prompt", "generator", "sample_index"], name="candidate_unique_sample"
            ),
            models.UniqueConstraint(fields=["id", "prompt"], name="candidate_id_prompt"),
        ]
        indexes = [
            models.Index(fields=["job", "status"], name="candidate_job_status"),
            # The few rows without a length, in id order: batches of them walk it by id.
            models.Index(
                fields=["id"], condition=Q(read_length__isnull=True), name="candidate_unmeasured"
            ),
        ]

    def __str__(self) -> str:
        return f"candidate {self.pk} ({self.status})"

    def save(self, *args, **kwargs):
        update_fields = kwargs.get("update_fields")
        if update_fields is None or "text" in update_fields:
            self.read_length = reading_length(self.text or "")
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "read_length"}
        super().save(*args, **kwargs)


class ModelPrice(models.Model):
    """USD per million tokens; admins edit these. Batch jobs apply ``batch_discount``."""

    provider = models.CharField(max_length=24, choices=Generator.Provider)
    model = models.CharField(max_length=200)
    input_per_mtok = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal("0"))
    output_per_mtok = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal("0"))
    cache_write_per_mtok = models.DecimalField(
        max_digits=10, decimal_places=4, default=Decimal("0")
    )
    cache_read_per_mtok = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal("0"))
    batch_discount = models.DecimalField(max_digits=4, decimal_places=3, default=Decimal("0.5"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "model"], name="modelprice_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model}"


class RateLimitBucket(models.Model):
    """A token bucket shared by every worker (generation's per-provider requests/min and tokens/min).

    A database row, so it works with any broker and on SQLite as on Postgres; claimed with
    SELECT … FOR UPDATE for a few microseconds per request (annotate/services/ratelimit.py).
    """

    key = models.CharField(max_length=300, unique=True)
    tokens = models.FloatField(default=0.0)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.key
