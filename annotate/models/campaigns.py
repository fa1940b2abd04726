"""A campaign, the raters enrolled in it, and the prompts it asks about."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from annotate.validation import (
    MAX_GUIDELINES,
    MAX_RATIONALE,
    MAX_TEXT,
    validate_aspects,
    validate_finite,
    validate_json,
    validate_one_line,
    validate_text,
)


def _share() -> list:
    message = "A share between 0 and 1."
    return [MinValueValidator(0.0, message), MaxValueValidator(1.0, message), validate_finite]


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        GENERATING = "generating", _("Generating")
        OPEN = "open", _("Open")
        PAUSED = "paused", _("Paused")
        CLOSED = "closed", _("Closed")

    class Scale(models.TextChoices):
        BINARY = "binary", _("A or B")
        GRADED7 = "graded7", _("7-point (A much better … tie … B much better)")

    class Rationale(models.TextChoices):
        OFF = "off", _("Not asked")
        OPTIONAL = "optional", _("Optional")
        REQUIRED = "required", _("Required")

    class Ordering(models.TextChoices):
        FINISH_STARTED = "finish_started", _("Finish pairs that already have votes first")
        RANDOM = "random", _("Random")
        # Pairwise: the pairs that carry the most information first (annotate/services/priorities.py).
        ACTIVE = (
            "active",
            _("Most informative first (judge unsure, judge and raters disagree, close generators)"),
        )

    class Pairing(models.TextChoices):
        CROSS_GENERATOR = "cross_generator", _("Cross-generator (model vs model on each prompt)")
        WITHIN_GENERATOR = "within_generator", _("Within-generator samples (best-of-N)")
        ALL_PAIRS = "all_pairs", _("All pairs, capped per prompt")
        RANDOM = "random", _("Random pairs, capped per prompt")
        JUDGE_RANKED = "judge_ranked", _("Judge best vs judge worst")

    class Protocol(models.TextChoices):
        """How raters give their preferences (annotate/protocols/)."""

        PAIRWISE = "pairwise", "Pairwise: compare two responses"
        RANKING = "ranking", "Ranking: order K responses best to worst"
        RATING = "rating", "Rating: score each response on the campaign's aspects"
        STEPS = "steps", "Step labels: mark each step of a response correct, neutral or wrong"
        LIVE = "live", "Live: chat with two anonymous models, pick the better reply each turn"

    class StepSplit(models.TextChoices):
        """How the steps protocol splits a response into steps (annotate/protocols/steps.py)."""

        PARAGRAPH = "paragraph", _("By paragraph (blank lines)")
        NUMBERED = "numbered", _("By numbered lines (1. 2. … or Step 1:)")
        REGEX = "regex", _("By the campaign's pattern")

    class StepSource(models.TextChoices):
        ANSWER = "answer", _("The final answer")
        REASONING = "reasoning", _("The reasoning trace")

    class SelfIdPolicy(models.TextChoices):
        HIDE = "hide", _("Hide candidates that name a model or vendor")
        SHOW_FLAGGED = "show_flagged", _("Show them, flagged for admins")

    class JudgeMode(models.TextChoices):
        OFF = "off", _("Off")
        AFTER_VOTE = "after_vote", _("Reveal after the vote")
        BEFORE_VOTE = "before_vote", _("Show before the vote")
        AUTO_LABEL = "auto_label", _("Auto-label (RLAIF)")

    title = models.CharField(max_length=200, validators=[validate_one_line])
    slug = models.SlugField(max_length=80, unique=True)
    guidelines = models.TextField(
        blank=True,
        help_text="Markdown shown to raters.",
        validators=[validate_text, MaxLengthValidator(MAX_GUIDELINES)],
    )
    guidelines_html = models.TextField(blank=True, editable=False)
    status = models.CharField(max_length=16, choices=Status, default=Status.DRAFT)

    scale = models.CharField(max_length=16, choices=Scale, default=Scale.BINARY)
    allow_both_bad = models.BooleanField(default=True)
    aspects = models.JSONField(
        default=list,
        blank=True,
        help_text='e.g. ["helpful", "honest"]',
        validators=[validate_aspects],
    )
    rationale = models.CharField(max_length=16, choices=Rationale, default=Rationale.OPTIONAL)
    rationale_min_length = models.PositiveIntegerField(
        default=0, validators=[MaxValueValidator(MAX_RATIONALE // 4)]
    )
    allow_rewrite = models.BooleanField(default=False)
    min_read_ms_per_1k_chars = models.PositiveIntegerField(
        default=0,
        help_text="Minimum read time before the vote unlocks, per 1,000 characters shown.",
        validators=[MaxValueValidator(60_000)],
    )

    overlap = models.PositiveSmallIntegerField(
        default=1,
        help_text="Votes wanted per pair (k).",
        validators=[MinValueValidator(1), MaxValueValidator(50)],
    )
    # Below 30 s no one can read a pair and vote before the lease ends.
    lease_seconds = models.PositiveIntegerField(
        default=600, validators=[MinValueValidator(30), MaxValueValidator(86_400)]
    )
    ordering = models.CharField(max_length=20, choices=Ordering, default=Ordering.FINISH_STARTED)
    # When the "active" ordering last scored the open pairs (annotate/services/priorities.py).
    priorities_at = models.DateTimeField(null=True, blank=True, editable=False)
    protocol = models.CharField(max_length=16, choices=Protocol, default=Protocol.PAIRWISE)
    # Ranking: candidates per set (fewer when a prompt has fewer distinct responses).
    ranking_k = models.PositiveSmallIntegerField(
        default=4,
        help_text="Ranking: responses per set (K, 3 to 9).",
        validators=[
            MinValueValidator(3, "Rank at least 3 responses (2 is a pairwise campaign)."),
            MaxValueValidator(9, "Rank at most 9 responses (the keys are 1 to 9)."),
        ],
    )
    # Rating: responses per unit, and the scale every aspect (and the overall score) is rated on.
    rating_k = models.PositiveSmallIntegerField(
        default=1,
        help_text="Rating: responses per unit (1 to 9).",
        validators=[
            MinValueValidator(1, "Rate at least 1 response per unit."),
            MaxValueValidator(9, "Rate at most 9 responses per unit (the keys are 1 to 9)."),
        ],
    )
    rating_min = models.PositiveSmallIntegerField(
        default=1,
        help_text="Rating: the lowest score (0 or 1).",
        validators=[MaxValueValidator(1, "The scale starts at 0 or 1.")],
    )
    rating_max = models.PositiveSmallIntegerField(
        default=5,
        help_text="Rating: the highest score (2 to 9, a number key).",
        validators=[
            MinValueValidator(2, "The scale ends at 2 or more."),
            MaxValueValidator(9, "The scale ends at 9 at most (the number keys)."),
        ],
    )
    rating_low_label = models.CharField(
        max_length=60, blank=True, default="Poor", validators=[validate_one_line]
    )
    rating_high_label = models.CharField(
        max_length=60, blank=True, default="Excellent", validators=[validate_one_line]
    )
    pairing = models.CharField(max_length=20, choices=Pairing, default=Pairing.CROSS_GENERATOR)
    max_pairs_per_prompt = models.PositiveSmallIntegerField(
        default=6, validators=[MaxValueValidator(1000)]
    )
    self_id_policy = models.CharField(
        max_length=16, choices=SelfIdPolicy, default=SelfIdPolicy.HIDE
    )

    gold_rate = models.FloatField(
        default=0.0, help_text="Share of served pairs that are gold.", validators=_share()
    )
    gold_min_accuracy = models.FloatField(
        default=0.0, help_text="Below this a rater is paused.", validators=_share()
    )
    gold_min_answered = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )

    judge_mode = models.CharField(max_length=16, choices=JudgeMode, default=JudgeMode.OFF)
    # Responses with a reasoning trace: raters see the final answer, and the trace one key away.
    reasoning_for_raters = models.BooleanField(default=False)
    # Step labels (protocol "steps"): how a response is split, which text, and whether the first
    # wrong step ends the trace (later steps are then left unlabelled, as in PRM800K).
    step_split = models.CharField(max_length=16, choices=StepSplit, default=StepSplit.PARAGRAPH)
    step_pattern = models.CharField(
        max_length=200,
        blank=True,
        help_text="Steps: the regular expression between steps (regex split only).",
        validators=[validate_text],
    )
    step_source = models.CharField(max_length=16, choices=StepSource, default=StepSource.ANSWER)
    step_stop_at_wrong = models.BooleanField(
        default=True, help_text="Steps: the first wrong step ends the trace."
    )

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
            models.CheckConstraint(
                condition=Q(ranking_k__gte=3, ranking_k__lte=9), name="campaign_ranking_k_range"
            ),
            models.CheckConstraint(
                condition=Q(rating_k__gte=1, rating_k__lte=9), name="campaign_rating_k_range"
            ),
            models.CheckConstraint(
                condition=Q(rating_min__lte=1, rating_max__gte=2, rating_max__lte=9),
                name="campaign_rating_scale_range",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    @property
    def is_ranking(self) -> bool:
        return self.protocol == self.Protocol.RANKING

    @property
    def is_rating(self) -> bool:
        return self.protocol == self.Protocol.RATING

    @property
    def uses_sets(self) -> bool:
        """Ranking, rating and steps hand out candidate sets (annotate/models/sets.py), not pairs:
        K responses to rank, responses to rate, one response to label step by step. (Pairwise
        and live campaigns vote on pairs.)"""
        return self.protocol in (self.Protocol.RANKING, self.Protocol.RATING, self.Protocol.STEPS)

    @property
    def set_size(self) -> int:
        """Candidates per set: K for ranking, the unit size for rating, one for step labels."""
        if self.is_steps:
            return 1
        return self.rating_k if self.is_rating else self.ranking_k

    @property
    def rating_scale(self) -> range:
        return range(self.rating_min, self.rating_max + 1)

    @property
    def is_live(self) -> bool:
        return self.protocol == self.Protocol.LIVE

    @property
    def is_steps(self) -> bool:
        return self.protocol == self.Protocol.STEPS

    def judge_shown(self, *, voted: bool) -> bool:
        """May a rater see the judge on a unit now? Before their vote only where the judge mode
        is "before_vote"; after their vote is stored only where it is "after_vote" (blind first,
        then reveal). Never in the other modes."""
        wanted = self.JudgeMode.AFTER_VOTE if voted else self.JudgeMode.BEFORE_VOTE
        return self.judge_mode == wanted

    def clean(self) -> None:
        super().clean()
        if self.ordering == self.Ordering.ACTIVE and self.protocol != self.Protocol.PAIRWISE:
            raise ValidationError(
                {"ordering": _("“Most informative first” orders pairs: choose it for pairwise.")}
            )
        # A pattern given is judged now; a regex split without one is refused when the campaign
        # opens (a draft may be saved before its pattern is written).
        if (self.step_pattern or "").strip():
            from annotate.protocols.steps import SplitError, pattern_check

            try:
                pattern_check(self.step_pattern)
            except SplitError as exc:
                raise ValidationError({"step_pattern": str(exc)}) from None


class Enrollment(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="enrollments")
    rater = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrollments"
    )
    paused = models.BooleanField(default=False)
    paused_reason = models.CharField(max_length=300, blank=True, validators=[validate_text])
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
    external_id = models.CharField(max_length=200, blank=True, validators=[validate_one_line])
    # A conversation: [{"role": "user"|"assistant", "content": str}, ...], the last turn from the user.
    messages = models.JSONField(validators=[validate_json])
    system = models.TextField(blank=True, validators=[validate_text, MaxLengthValidator(MAX_TEXT)])
    metadata = models.JSONField(default=dict, blank=True, validators=[validate_json])
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
