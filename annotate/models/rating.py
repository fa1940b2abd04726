"""Rating: pairs of candidates, the leases that hand them to raters, the votes, flags, and the words
each pair is searched by."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.search import SearchVectorExact
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from annotate.models.campaigns import Campaign, Prompt
from annotate.models.generation import Candidate
from annotate.validation import (
    MAX_NOTE,
    MAX_RATIONALE,
    MAX_REWRITE,
    validate_json,
    validate_one_line,
    validate_text,
)


class Pair(models.Model):
    """Two different candidates of the same prompt (enforced in the database, see migration 0002)."""

    class Gold(models.TextChoices):
        """A gold pair's known answer, in the pair's own terms (a = candidate_a)."""

        A = "a", _("A is better")
        B = "b", _("B is better")
        TIE = "tie", _("Tie")
        BOTH_BAD = "both_bad", _("Both bad")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="pairs")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="pairs")
    candidate_a = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="+")
    candidate_b = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="+")
    strategy = models.CharField(max_length=20, choices=Campaign.Pairing)
    # Gold: a known answer (a, b, tie, or both bad where the campaign allows it); blank: not gold.
    # The rater cannot tell a gold pair from any other.
    gold_answer = models.CharField(max_length=8, blank=True, choices=Gold)
    needed = models.PositiveSmallIntegerField(default=1, help_text="Votes wanted (k).")
    # Claim counter: live leases + votes. The claim guards on this column of the pair's own row.
    assigned = models.PositiveSmallIntegerField(default=0)
    completed = models.PositiveSmallIntegerField(default=0)
    left_a_count = models.PositiveSmallIntegerField(default=0)  # for left/right balancing at k >= 2
    random_key = models.FloatField(default=0.0)  # fixed random order for the "random" ordering
    # How much a vote on this pair is worth now, for the "active" ordering (higher first);
    # rescored by annotate/services/priorities.py, 0 under the other orderings.
    priority = models.FloatField(default=0.0, editable=False)
    # Left out of the leaderboard and every export, votes kept (a live reply named its model under
    # the campaign's "exclude" policy: FastChat's rule for anonymous votes).
    excluded = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["candidate_a", "candidate_b"], name="pair_unique"),
            models.CheckConstraint(
                condition=Q(candidate_a__lt=F("candidate_b")), name="pair_candidates_ordered"
            ),
            models.CheckConstraint(condition=Q(assigned__lte=F("needed")), name="pair_not_over_k"),
            models.CheckConstraint(
                condition=Q(gold_answer__in=["", "a", "b", "tie", "both_bad"]),
                name="pair_gold_answer_known",
            ),
        ]
        indexes = [
            # The claim scans only pairs still wanting raters.
            models.Index(
                fields=["campaign", "completed", "random_key"],
                condition=Q(assigned__lt=F("needed")),
                name="pair_open_idx",
            ),
            # The "active" ordering's claim: most informative open pair first.
            models.Index(
                F("campaign"),
                F("priority").desc(),
                F("completed"),
                F("random_key"),
                condition=Q(assigned__lt=F("needed")),
                name="pair_active_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"pair {self.pk} ({self.candidate_a_id} vs {self.candidate_b_id})"

    @property
    def is_gold(self) -> bool:
        return bool(self.gold_answer)

    def clean(self) -> None:
        """A gold answer is one the campaign's raters can give: "both bad" only where it is allowed
        (the choices refuse anything else, the database too)."""
        super().clean()
        if (
            self.gold_answer == self.Gold.BOTH_BAD
            and self.campaign_id
            and not self.campaign.allow_both_bad
        ):
            raise ValidationError(
                {"gold_answer": "This campaign does not allow “both bad”, so it cannot be gold."}
            )


class Assignment(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        DONE = "done", _("Done")
        SKIPPED = "skipped", _("Skipped")
        EXPIRED = "expired", _("Expired")
        RELEASED = "released", _("Released by an admin")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="assignments")
    pair = models.ForeignKey(Pair, on_delete=models.CASCADE, related_name="assignments")
    rater = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    status = models.CharField(max_length=16, choices=Status, default=Status.ACTIVE)
    left_is_a = models.BooleanField(help_text="Candidate A of the pair was shown on the left.")
    skip_reason = models.CharField(max_length=300, blank=True, validators=[validate_text])
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
        A = "a", _("A better")
        B = "b", _("B better")
        TIE = "tie", _("Tie")
        BOTH_BAD = "both_bad", _("Both bad")

    class Source(models.TextChoices):
        HUMAN = "human", _("Human")
        JUDGE = "judge", _("AI judge (RLAIF)")
        # An adjudicator's final label on a contested pair: the rater field holds who decided, the
        # rationale why. Never updated; a later adjudication of the same pair replaces it (the
        # earlier rows stay as the audit trail).
        ADJUDICATED = "adjudicated", _("Adjudicated")

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
    source = models.CharField(max_length=12, choices=Source, default=Source.HUMAN)
    choice = models.CharField(max_length=8, choices=Choice)
    # Graded scale: 1 slightly, 2 clearly, 3 much better; 0 for tie / both bad; null on the binary scale.
    strength = models.PositiveSmallIntegerField(null=True, blank=True)
    # {"helpful": "a", "honest": "tie", ...}
    aspects = models.JSONField(default=dict, blank=True, validators=[validate_json])
    rationale = models.TextField(
        blank=True, validators=[validate_text, MaxLengthValidator(MAX_RATIONALE)]
    )
    # an SFT demonstration written or edited by the rater
    rewrite = models.TextField(
        blank=True, validators=[validate_text, MaxLengthValidator(MAX_REWRITE)]
    )
    left_is_a = models.BooleanField(null=True)
    time_on_task_ms = models.PositiveIntegerField(null=True, blank=True)
    judge_shown = models.BooleanField(default=False)
    revises = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="revisions"
    )
    idempotency_key = models.CharField(
        max_length=64, unique=True, null=True, blank=True, validators=[validate_one_line]
    )
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
        HARMFUL = "harmful", _("Harmful content")
        BROKEN = "broken", _("Broken or unreadable")
        IDENTITY = "identity", _("Model identity visible")
        OTHER = "other", _("Other")

    pair = models.ForeignKey(Pair, on_delete=models.CASCADE, related_name="flags")
    rater = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=16, choices=Reason)
    note = models.TextField(blank=True, validators=[validate_text, MaxLengthValidator(MAX_NOTE)])
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.reason} flag on pair {self.pair_id}"


class SearchDocumentField(models.TextField):
    """A pair's search document: a ``tsvector`` on PostgreSQL (GIN-indexed; ``=`` a SearchQuery is
    ``@@``), plain text on SQLite (indexed by the FTS5 table ``annotate_pairsearch_fts``, whose
    external content it is)."""

    def db_type(self, connection) -> str:
        return "tsvector" if connection.vendor == "postgresql" else "text"


SearchDocumentField.register_lookup(SearchVectorExact)


class PairSearch(models.Model):
    """The words a pair is found by: its prompt (system prompt and every turn), both responses, and
    every rationale and rewrite written about it (votes, adjudications, the judge's verdicts).

    Written only by the database's triggers (migration 0022_search): a pair's row is made when the
    pair is inserted, however it is inserted (``bulk_create``, ``INSERT … SELECT``), and rebuilt when
    a vote with a rationale or rewrite arrives, a verdict's rationale is stored, or a candidate's or
    prompt's text changes. Python never writes it, so no write path can forget it.
    """

    pair = models.OneToOneField(
        Pair, primary_key=True, on_delete=models.CASCADE, related_name="search"
    )
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    document = SearchDocumentField(blank=True)

    def __str__(self) -> str:
        return f"search document of pair {self.pair_id}"
