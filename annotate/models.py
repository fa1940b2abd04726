"""All models of the app. Methods touch only their own row; anything that spans models is a service.

Vocabulary: a *campaign* holds *prompts*; *generators* produce *candidates* (responses) for them;
a *pair* is two candidates of one prompt; an *assignment* leases a pair to a rater; a *judgment* is a
rater's immutable vote on a pair. "a" and "b" always mean the pair's canonical candidate_a/candidate_b;
what the rater saw on the left is recorded separately (``left_is_a``).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class User(AbstractUser):
    class Role(models.TextChoices):
        RATER = "rater", "Rater"
        RESEARCHER = "researcher", "Researcher"
        ADMIN = "admin", "Admin"

    role = models.CharField(max_length=16, choices=Role, default=Role.RATER)

    @property
    def is_campaign_admin(self) -> bool:
        return self.is_superuser or self.role == self.Role.ADMIN

    @property
    def is_researcher(self) -> bool:
        """Researchers read analytics and export; admins can do everything researchers can."""
        return self.is_campaign_admin or self.role == self.Role.RESEARCHER


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        GENERATING = "generating", "Generating"
        OPEN = "open", "Open"
        PAUSED = "paused", "Paused"
        CLOSED = "closed", "Closed"

    class Scale(models.TextChoices):
        BINARY = "binary", "A or B"
        GRADED7 = "graded7", "7-point (A much better … tie … B much better)"

    class Rationale(models.TextChoices):
        OFF = "off", "Not asked"
        OPTIONAL = "optional", "Optional"
        REQUIRED = "required", "Required"

    class Ordering(models.TextChoices):
        FINISH_STARTED = "finish_started", "Finish pairs that already have votes first"
        RANDOM = "random", "Random"

    class Pairing(models.TextChoices):
        CROSS_GENERATOR = "cross_generator", "Cross-generator (model vs model on each prompt)"
        WITHIN_GENERATOR = "within_generator", "Within-generator samples (best-of-N)"
        ALL_PAIRS = "all_pairs", "All pairs, capped per prompt"
        RANDOM = "random", "Random pairs, capped per prompt"
        JUDGE_RANKED = "judge_ranked", "Judge best vs judge worst"

    class SelfIdPolicy(models.TextChoices):
        HIDE = "hide", "Hide candidates that name a model or vendor"
        SHOW_FLAGGED = "show_flagged", "Show them, flagged for admins"

    class JudgeMode(models.TextChoices):
        OFF = "off", "Off"
        AFTER_VOTE = "after_vote", "Reveal after the vote"
        BEFORE_VOTE = "before_vote", "Show before the vote"
        AUTO_LABEL = "auto_label", "Auto-label (RLAIF)"

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    guidelines = models.TextField(blank=True, help_text="Markdown shown to raters.")
    guidelines_html = models.TextField(blank=True, editable=False)
    status = models.CharField(max_length=16, choices=Status, default=Status.DRAFT)

    scale = models.CharField(max_length=16, choices=Scale, default=Scale.BINARY)
    allow_both_bad = models.BooleanField(default=True)
    aspects = models.JSONField(default=list, blank=True, help_text='e.g. ["helpful", "honest"]')
    rationale = models.CharField(max_length=16, choices=Rationale, default=Rationale.OPTIONAL)
    rationale_min_length = models.PositiveIntegerField(default=0)
    allow_rewrite = models.BooleanField(default=False)
    min_read_ms_per_1k_chars = models.PositiveIntegerField(
        default=0,
        help_text="Minimum read time before the vote unlocks, per 1,000 characters shown.",
    )

    overlap = models.PositiveSmallIntegerField(default=1, help_text="Votes wanted per pair (k).")
    lease_seconds = models.PositiveIntegerField(default=600)
    ordering = models.CharField(max_length=20, choices=Ordering, default=Ordering.FINISH_STARTED)
    pairing = models.CharField(max_length=20, choices=Pairing, default=Pairing.CROSS_GENERATOR)
    max_pairs_per_prompt = models.PositiveSmallIntegerField(default=6)
    self_id_policy = models.CharField(
        max_length=16, choices=SelfIdPolicy, default=SelfIdPolicy.HIDE
    )

    gold_rate = models.FloatField(default=0.0, help_text="Share of served pairs that are gold.")
    gold_min_accuracy = models.FloatField(default=0.0, help_text="Below this a rater is paused.")
    gold_min_answered = models.PositiveSmallIntegerField(default=5)

    judge_mode = models.CharField(max_length=16, choices=JudgeMode, default=JudgeMode.OFF)

    raters = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Enrollment", related_name="rated_campaigns", blank=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(overlap__gte=1), name="campaign_overlap_positive"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


class Enrollment(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="enrollments")
    rater = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrollments"
    )
    paused = models.BooleanField(default=False)
    paused_reason = models.CharField(max_length=300, blank=True)
    # The rater's first votes in this campaign, kept in step by the vote itself (same transaction),
    # so the rating page shows "You have rated N pairs" without counting every vote on each request.
    votes = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "rater"], name="enrollment_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.rater} in {self.campaign}"


class Prompt(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="prompts")
    external_id = models.CharField(max_length=200, blank=True)
    # A conversation: [{"role": "user"|"assistant", "content": str}, ...], the last turn from the user.
    messages = models.JSONField()
    system = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64)
    # Sanitised HTML per turn, rendered once at ingest: [{"role": ..., "html": ...}, ...]
    rendered = models.JSONField(default=list, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "content_hash"], name="prompt_unique_content"
            ),
            models.UniqueConstraint(
                fields=["campaign", "external_id"],
                condition=~Q(external_id=""),
                name="prompt_unique_external_id",
            ),
            # Lets Pair reference (candidate, prompt) pairs; see migration 0002.
        ]

    def __str__(self) -> str:
        return self.external_id or f"prompt {self.pk}"

    @property
    def last_user_text(self) -> str:
        return self.messages[-1]["content"] if self.messages else ""


class Generator(models.Model):
    class Provider(models.TextChoices):
        ANTHROPIC = "anthropic", "Anthropic (Messages API)"
        OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible server (vLLM, Ollama, …)"
        DEMO = "demo", "Offline demo candidates"
        IMPORTED = "imported", "Imported from a file"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="generators")
    name = models.CharField(max_length=100, help_text="Admin-facing label; raters never see it.")
    provider = models.CharField(max_length=24, choices=Provider)
    model = models.CharField(max_length=200)
    base_url = models.URLField(blank=True)
    # Name of the environment variable holding the key (never the key itself).
    api_key_env = models.CharField(max_length=100, blank=True)
    params = models.JSONField(
        default=dict, blank=True, help_text="temperature, max_tokens, top_p, stop …"
    )
    system_prompt = models.TextField(blank=True)
    samples_per_prompt = models.PositiveSmallIntegerField(default=1)
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
    text = models.TextField(blank=True)
    html = models.TextField(blank=True, editable=False)  # sanitised, rendered once at write time
    stop_reason = models.CharField(max_length=40, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cache_read_tokens = models.PositiveIntegerField(default=0)
    cache_write_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("0"))
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    self_identifies = models.BooleanField(default=False)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["prompt", "generator", "sample_index"], name="candidate_unique_sample"
            ),
            models.UniqueConstraint(fields=["id", "prompt"], name="candidate_id_prompt"),
        ]
        indexes = [models.Index(fields=["job", "status"], name="candidate_job_status")]

    def __str__(self) -> str:
        return f"candidate {self.pk} ({self.status})"


class Pair(models.Model):
    """Two different candidates of the same prompt (enforced in the database, see migration 0002)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="pairs")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="pairs")
    candidate_a = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="+")
    candidate_b = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="+")
    strategy = models.CharField(max_length=20, choices=Campaign.Pairing)
    # Gold: a known answer ("a", "b" or "tie"); the rater cannot tell a gold pair from any other.
    gold_answer = models.CharField(max_length=8, blank=True)
    needed = models.PositiveSmallIntegerField(default=1, help_text="Votes wanted (k).")
    # Claim counter: live leases + votes. The claim guards on this column of the pair's own row.
    assigned = models.PositiveSmallIntegerField(default=0)
    completed = models.PositiveSmallIntegerField(default=0)
    left_a_count = models.PositiveSmallIntegerField(default=0)  # for left/right balancing at k >= 2
    random_key = models.FloatField(default=0.0)  # fixed random order for the "random" ordering
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["candidate_a", "candidate_b"], name="pair_unique"),
            models.CheckConstraint(
                condition=Q(candidate_a__lt=F("candidate_b")), name="pair_candidates_ordered"
            ),
            models.CheckConstraint(condition=Q(assigned__lte=F("needed")), name="pair_not_over_k"),
        ]
        indexes = [
            # The claim scans only pairs still wanting raters.
            models.Index(
                fields=["campaign", "completed", "random_key"],
                condition=Q(assigned__lt=F("needed")),
                name="pair_open_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"pair {self.pk} ({self.candidate_a_id} vs {self.candidate_b_id})"

    @property
    def is_gold(self) -> bool:
        return bool(self.gold_answer)


class Assignment(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DONE = "done", "Done"
        SKIPPED = "skipped", "Skipped"
        EXPIRED = "expired", "Expired"
        RELEASED = "released", "Released by an admin"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="assignments")
    pair = models.ForeignKey(Pair, on_delete=models.CASCADE, related_name="assignments")
    rater = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    status = models.CharField(max_length=16, choices=Status, default=Status.ACTIVE)
    left_is_a = models.BooleanField(help_text="Candidate A of the pair was shown on the left.")
    skip_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # A rater never gets the same pair twice.
            models.UniqueConstraint(fields=["pair", "rater"], name="assignment_unique_rater"),
            # At most one live lease per rater per campaign: a reload returns the same pair.
            models.UniqueConstraint(
                fields=["campaign", "rater"],
                condition=Q(status="active"),
                name="assignment_one_active",
            ),
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="assignment_lease_idx")]

    def __str__(self) -> str:
        return f"assignment {self.pk} of pair {self.pair_id} ({self.status})"


class Judgment(models.Model):
    """An immutable vote. A revision (after the judge is revealed) is a new row pointing at the first."""

    class Choice(models.TextChoices):
        A = "a", "A better"
        B = "b", "B better"
        TIE = "tie", "Tie"
        BOTH_BAD = "both_bad", "Both bad"

    class Source(models.TextChoices):
        HUMAN = "human", "Human"
        JUDGE = "judge", "AI judge (RLAIF)"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="judgments")
    pair = models.ForeignKey(Pair, on_delete=models.CASCADE, related_name="judgments")
    assignment = models.ForeignKey(
        Assignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="judgments"
    )
    rater = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="judgments",
    )
    source = models.CharField(max_length=8, choices=Source, default=Source.HUMAN)
    choice = models.CharField(max_length=8, choices=Choice)
    # Graded scale: 1 slightly, 2 clearly, 3 much better; 0 for tie / both bad; null on the binary scale.
    strength = models.PositiveSmallIntegerField(null=True, blank=True)
    aspects = models.JSONField(default=dict, blank=True)  # {"helpful": "a", "honest": "tie", ...}
    rationale = models.TextField(blank=True)
    rewrite = models.TextField(blank=True)  # an SFT demonstration written or edited by the rater
    left_is_a = models.BooleanField(null=True)
    time_on_task_ms = models.PositiveIntegerField(null=True, blank=True)
    judge_shown = models.BooleanField(default=False)
    revises = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="revisions"
    )
    idempotency_key = models.CharField(max_length=64, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            # One first vote per rater per pair; revisions are extra rows.
            models.UniqueConstraint(
                fields=["pair", "rater"],
                condition=Q(revises__isnull=True, source="human"),
                name="judgment_one_vote_per_rater",
            ),
            models.CheckConstraint(
                condition=Q(strength__isnull=True) | Q(strength__lte=3),
                name="judgment_strength_range",
            ),
        ]
        indexes = [models.Index(fields=["campaign", "created_at"], name="judgment_campaign_time")]

    def __str__(self) -> str:
        return f"judgment {self.pk} on pair {self.pair_id}: {self.choice}"


class PairFlag(models.Model):
    class Reason(models.TextChoices):
        HARMFUL = "harmful", "Harmful content"
        BROKEN = "broken", "Broken or unreadable"
        IDENTITY = "identity", "Model identity visible"
        OTHER = "other", "Other"

    pair = models.ForeignKey(Pair, on_delete=models.CASCADE, related_name="flags")
    rater = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=16, choices=Reason)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.reason} flag on pair {self.pair_id}"


# --- AI judge (annotate/judge/, services/judging.py). The mode itself is Campaign.judge_mode. ---


def _default_judge_model() -> str:
    return settings.ANTHROPIC_DEFAULT_MODEL


class JudgeConfig(models.Model):
    """The campaign's judge: which provider/model, how to run it, and when it may label on its own.

    ``provider``/``model``/``base_url``/``api_key_env``/``params`` mirror Generator's fields so the same
    provider factory builds the transport.
    """

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="judge_config")
    provider = models.CharField(
        max_length=24, choices=Generator.Provider, default=Generator.Provider.ANTHROPIC
    )
    model = models.CharField(max_length=200, default=_default_judge_model)
    base_url = models.URLField(blank=True)
    api_key_env = models.CharField(max_length=100, blank=True)
    params = models.JSONField(
        default=dict, blank=True, help_text="max_tokens, temperature, timeout"
    )
    mode = models.CharField(
        max_length=8, choices=GenerationJob.Mode, default=GenerationJob.Mode.CHEAP
    )
    auto_label_min_kappa = models.FloatField(
        default=0.6, help_text="Auto-label only when Cohen's κ(judge, humans) is at least this."
    )
    auto_label_min_pairs = models.PositiveIntegerField(
        default=20, help_text="Human-labelled pairs needed before κ is trusted."
    )
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"judge {self.provider}/{self.model}"


class JudgeRubric(models.Model):
    """Versioned judge instructions. An edit is a new version; verdicts point at the version used."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="judge_rubrics")
    version = models.PositiveIntegerField()
    text = models.TextField()
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
    mode = models.CharField(
        max_length=8, choices=GenerationJob.Mode, default=GenerationJob.Mode.FAST
    )
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
    provider = models.CharField(max_length=24, choices=Generator.Provider)
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
    path = models.CharField(max_length=500, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"export {self.pk} ({self.format}, {self.status})"
