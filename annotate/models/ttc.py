"""Test-time compute: how a campaign finds final answers and references, the judge's per-sample
reviews (verifier scores, judge-read answers), and the best-of-N choices per prompt."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from annotate.answers import MAX_PATTERN, RULES
from annotate.models.campaigns import Campaign, Prompt
from annotate.models.generation import Candidate, Generator
from annotate.validation import validate_one_line, validate_text

DEFAULT_REFERENCE_KEY = "reference_answer"


class TTCConfig(models.Model):
    """A campaign's answer rule (annotate/answers.py) and where its prompts keep the reference."""

    class Rule(models.TextChoices):
        CONVENTION = "convention", RULES["convention"]
        REGEX = "regex", RULES["regex"]
        LAST_LINE = "last_line", RULES["last_line"]
        JUDGE = "judge", RULES["judge"]

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="ttc_config")
    answer_rule = models.CharField(max_length=16, choices=Rule, default=Rule.CONVENTION)
    answer_pattern = models.CharField(
        max_length=MAX_PATTERN, blank=True, validators=[validate_one_line]
    )
    # The key of Prompt.metadata holding the reference answer (imported with the prompts).
    reference_key = models.CharField(
        max_length=100, default=DEFAULT_REFERENCE_KEY, validators=[validate_one_line]
    )
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"answers of {self.campaign} by {self.answer_rule}"

    @property
    def rule_key(self) -> str:
        """What Candidate.answer_rule records: the rule, and for a regex its pattern."""
        if self.answer_rule == self.Rule.REGEX:
            return f"regex:{self.answer_pattern}"[:400]
        return self.answer_rule


class CandidateReview(models.Model):
    """The judge on one sample alone: a verifier score, or the final answer it reads.

    A kind of claimable work (annotate/work; services/ttc_reviews.py), each row its own job.
    """

    class Task(models.TextChoices):
        SCORE = "score", "Verifier score"
        ANSWER = "answer", "Final answer"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="reviews")
    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="reviews")
    task = models.CharField(max_length=8, choices=Task)
    provider = models.CharField(max_length=24)
    model = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status, default=Status.PENDING)
    score = models.FloatField(null=True, blank=True)  # 0..1: how likely the answer is right
    answer = models.TextField(blank=True, validators=[validate_text, MaxLengthValidator(500)])
    rationale = models.TextField(blank=True)
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
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["candidate", "task", "model"], name="candidatereview_unique"
            ),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | (Q(score__gte=0) & Q(score__lte=1)),
                name="candidatereview_score_share",
            ),
        ]
        indexes = [models.Index(fields=["campaign", "status"], name="candidatereview_status")]

    def __str__(self) -> str:
        return f"{self.task} review {self.pk} ({self.status})"


class BestOfNChoice(models.Model):
    """One method's pick among a prompt's samples from one generator (and the sample it likes
    least, for best-vs-worst pairs). Recomputed as a whole by services/ttc.py."""

    class Method(models.TextChoices):
        MAJORITY = "majority", "Majority vote"
        JUDGE = "judge", "Judge (listwise)"
        VERIFIER = "verifier", "Verifier score"
        HUMAN = "human", "Human preference"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="bon_choices")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="bon_choices")
    generator = models.ForeignKey(Generator, on_delete=models.CASCADE, related_name="+")
    method = models.CharField(max_length=16, choices=Method)
    candidate = models.ForeignKey(
        Candidate, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    worst = models.ForeignKey(
        Candidate, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    pool = models.PositiveSmallIntegerField(default=0)  # samples the method chose among
    answer = models.TextField(blank=True)  # the chosen sample's final answer
    correct = models.BooleanField(null=True)  # against the reference; None: no reference
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["prompt_id", "generator_id", "method"]
        constraints = [
            models.UniqueConstraint(
                fields=["prompt", "generator", "method"], name="bonchoice_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method} pick for prompt {self.prompt_id}"
