"""Live conversations (protocol "live"): the rater chats with two anonymous models at once.

Every turn is ordinary pairwise rows (a Prompt holding the shared history through the rater's
message, one Candidate per generator, a Pair wanting one vote, the rater's Assignment and then a
Judgment), so every pairwise export, the leaderboard and the bias statistics read live battles as
they read any pair. These tables hold what only a conversation has: its two generators, its turns
and what the conversation continued with (annotate/services/live.py).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from annotate.models.campaigns import Campaign, Prompt
from annotate.models.generation import Candidate, Generator
from annotate.models.rating import Pair
from annotate.validation import MAX_REWRITE, MAX_TEXT, validate_json, validate_text

MAX_BLOCKLIST = 200  # entries
MAX_BLOCK_ENTRY = 200  # characters of one word or pattern


class LiveSettings(models.Model):
    """A live campaign's rules: how a conversation starts, how long it may run, what a rater may
    write, which generators meet, whether names are revealed, and what it may cost."""

    class Start(models.TextChoices):
        RATER_WRITES = "rater_writes", _("The rater writes the first message")
        SEED_PROMPT = "seed_prompt", _("A prompt of the campaign opens the conversation")
        EITHER = "either", _("Either: a seed prompt is offered, the rater may write their own")

    class Draw(models.TextChoices):
        UNIFORM = "uniform", _("Uniform over pairs of generators")
        WIDEST_INTERVALS = "widest_intervals", _("Toward the widest leaderboard intervals")

    class SelfId(models.TextChoices):
        REGENERATE = "regenerate", _("Generate a reply that names its model again (once)")
        EXCLUDE = "exclude", _("Keep it, but leave the turn out of the leaderboard and exports")

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="live")
    start = models.CharField(max_length=16, choices=Start, default=Start.RATER_WRITES)
    max_turns = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )
    max_message_chars = models.PositiveIntegerField(
        default=4000, validators=[MinValueValidator(1), MaxValueValidator(MAX_TEXT)]
    )
    # Words (matched as whole words, any case) or patterns written as /pattern/.
    blocklist = models.JSONField(default=list, blank=True, validators=[validate_json])
    draw = models.CharField(max_length=20, choices=Draw, default=Draw.UNIFORM)
    arena_reveal = models.BooleanField(
        default=False, help_text="Show the two model names after the conversation's last vote."
    )
    # 0: no limit. Tokens are input + output of both replies; dollars their cost.
    rater_token_budget = models.PositiveIntegerField(default=0)
    rater_usd_budget = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal("0"))
    campaign_token_budget = models.PositiveBigIntegerField(default=0)
    campaign_usd_budget = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal("0"))
    self_id_policy = models.CharField(max_length=16, choices=SelfId, default=SelfId.REGENERATE)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(max_turns__gte=1, max_turns__lte=20), name="live_max_turns_range"
            ),
            models.CheckConstraint(
                condition=Q(rater_usd_budget__gte=0, campaign_usd_budget__gte=0),
                name="live_budgets_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"live settings of {self.campaign}"

    def clean(self) -> None:
        super().clean()
        from annotate.services.live import BlocklistError, blocklist_compile

        try:
            blocklist_compile(self.blocklist)
        except BlocklistError as exc:
            raise ValidationError({"blocklist": str(exc)}) from None


class LiveConversation(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        ENDED = "ended", _("Ended")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="conversations")
    rater = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="live_conversations"
    )
    generator_a = models.ForeignKey(Generator, on_delete=models.PROTECT, related_name="+")
    generator_b = models.ForeignKey(Generator, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=8, choices=Status, default=Status.ACTIVE)
    # The seed prompt the conversation opened with (start = seed_prompt), if any.
    seed = models.ForeignKey(
        Prompt, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    turns = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Arena mode: the names are shown once the last turn has its vote (set then, never before).
    revealed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # A rater holds at most one conversation open per campaign: a reload resumes it.
            models.UniqueConstraint(
                fields=["campaign", "rater"],
                condition=Q(status="active"),
                name="live_one_active_conversation",
            ),
            models.CheckConstraint(
                condition=~Q(generator_a=models.F("generator_b")), name="live_two_generators"
            ),
        ]

    def __str__(self) -> str:
        return f"conversation {self.pk} ({self.status}, {self.turns} turns)"


class LiveTurn(models.Model):
    class Continued(models.TextChoices):
        A = "a", _("Reply A")
        B = "b", _("Reply B")
        REWRITE = "rewrite", _("The rater's rewrite")

    conversation = models.ForeignKey(
        LiveConversation, on_delete=models.CASCADE, related_name="turn_rows"
    )
    index = models.PositiveSmallIntegerField()  # 1, 2, …
    user_message = models.TextField(validators=[validate_text, MaxLengthValidator(MAX_TEXT)])
    prompt = models.OneToOneField(Prompt, on_delete=models.CASCADE, related_name="live_turn")
    pair = models.OneToOneField(Pair, on_delete=models.CASCADE, related_name="live_turn")
    # Candidate a/b of the pair, by generator: reply_a is generator_a's (canonical, not shown order).
    reply_a = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="+")
    reply_b = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="+")
    left_is_a = models.BooleanField()
    choice = models.CharField(max_length=8, blank=True)  # the vote's canonical choice, once voted
    continued_with = models.CharField(max_length=8, blank=True, choices=Continued)
    continuation = models.TextField(
        blank=True, validators=[validate_text, MaxLengthValidator(MAX_REWRITE)]
    )
    # Self-identification: each reply is generated again at most once (policy "regenerate").
    regenerated_a = models.BooleanField(default=False)
    regenerated_b = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    voted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["conversation_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "index"], name="live_turn_unique"),
        ]

    def __str__(self) -> str:
        return f"turn {self.index} of conversation {self.conversation_id}"


class LiveReplyManager(models.Manager):
    def get_queryset(self):
        # A sub-query, not a join: the sweep locks these rows with SELECT … FOR UPDATE.
        turns = LiveTurn.objects.values("prompt_id")
        return super().get_queryset().filter(job__isnull=True, prompt_id__in=turns)


class LiveReply(Candidate):
    """The candidates of live turns, as one kind of claimable work (annotate/work): the same rows,
    seen only where a live turn holds them, so the sweep of live replies never touches generation's
    candidates (and generation's never touches these: they have no job)."""

    objects = LiveReplyManager()

    class Meta:
        proxy = True

    @property
    def created_at(self):
        """When the reply was asked for (the sweep's "silent since" for a row that is its own job)."""
        return self.prompt.created_at
