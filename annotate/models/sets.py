"""Ranking: sets of K candidates of one prompt, the leases that hand them to raters, the votes.

A *candidate set* is the ranking protocol's unit, as a pair is pairwise's. Its members keep a
``slot`` (a shuffled base order fixed at build time); each lease shows them in that order rotated
by the lease's ``rotation`` (annotate/protocols/ranking.py), chosen so that a set's raters see each
candidate in each position equally often. A ranking vote stores the ranks in the set's own terms
(candidate ids, best first, ties grouped) and the order the rater saw, like ``left_is_a`` for pairs.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from annotate.models.campaigns import Campaign, Prompt
from annotate.models.generation import Candidate
from annotate.models.judge import SetJudgement
from annotate.models.rating import Assignment
from annotate.validation import MAX_RATIONALE, MAX_REWRITE, validate_json, validate_text


class CandidateSet(models.Model):
    """K different candidates of one prompt, ranked (or rated) by ``needed`` raters (k).

    A ranking campaign has one set per prompt; a rating campaign splits a prompt's candidates
    into sets of ``rating_k``, numbered by ``part``."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="candidate_sets")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="candidate_sets")
    # Gold: the known ranking, best first, ties grouped: [[id], [id, id], ...]; [] = not gold.
    gold_ranking = models.JSONField(default=list, blank=True, validators=[validate_json])
    # Gold of a rating set: each member's known overall score, {"<candidate id>": 4, ...}; {} = not
    # gold. A gold rating set's gold_ranking is the ranking those scores make (so the lease's gold
    # pool, which reads gold_ranking, finds it; the CHECK below keeps the two together).
    gold_scores = models.JSONField(default=dict, blank=True, validators=[validate_json])
    part = models.PositiveSmallIntegerField(default=0)
    needed = models.PositiveSmallIntegerField(default=1, help_text="Votes wanted (k).")
    # Claim counter: live leases + votes (as Pair.assigned).
    assigned = models.PositiveSmallIntegerField(default=0)
    completed = models.PositiveSmallIntegerField(default=0)
    random_key = models.FloatField(default=0.0)
    created_at = models.DateTimeField(default=timezone.now)
    # A set of one (step labels, annotate/models/steps.py) names its candidate: such sets are one
    # per candidate, not one per prompt.
    candidate = models.ForeignKey(
        Candidate, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "prompt", "part"],
                condition=Q(candidate__isnull=True),
                name="set_one_per_prompt_part",
            ),
            models.UniqueConstraint(
                fields=["campaign", "candidate"],
                condition=Q(candidate__isnull=False),
                name="set_one_per_candidate",
            ),
            models.CheckConstraint(condition=Q(assigned__lte=F("needed")), name="set_not_over_k"),
            models.CheckConstraint(
                condition=Q(gold_scores={}) | ~Q(gold_ranking=[]), name="set_gold_scores_ranked"
            ),
        ]
        indexes = [
            models.Index(
                fields=["campaign", "completed", "random_key"],
                condition=Q(assigned__lt=F("needed")),
                name="set_open_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"set {self.pk} of prompt {self.prompt_id}"

    @property
    def is_gold(self) -> bool:
        return bool(self.gold_ranking)

    def member_ids(self) -> list[int]:
        """The members' candidate ids in slot order."""
        return list(self.members.order_by("slot").values_list("candidate_id", flat=True))

    def clean(self) -> None:
        """A gold ranking ranks exactly this set's members (ties allowed); gold scores score each
        member once, on the campaign's scale and aspects."""
        super().clean()
        if self.gold_scores and self.pk:
            from annotate.protocols.rating import RatingInvalid, rating_gold_clean
            from annotate.services.sets import rating_scale

            try:
                self.gold_scores = rating_gold_clean(
                    self.gold_scores,
                    members=self.member_ids(),
                    scale=rating_scale(self.campaign),
                )
            except RatingInvalid as exc:
                raise ValidationError({"gold_scores": str(exc)}) from None
        if self.gold_ranking and self.pk:
            from annotate.protocols.ranking import RankingInvalid, ranking_clean

            try:
                self.gold_ranking = ranking_clean(self.gold_ranking, members=self.member_ids())
            except RankingInvalid as exc:
                raise ValidationError({"gold_ranking": str(exc)}) from None


class CandidateSetMember(models.Model):
    candidate_set = models.ForeignKey(
        CandidateSet, on_delete=models.CASCADE, related_name="members"
    )
    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="+")
    slot = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["candidate_set_id", "slot"]
        constraints = [
            models.UniqueConstraint(fields=["candidate_set", "candidate"], name="member_unique"),
            models.UniqueConstraint(fields=["candidate_set", "slot"], name="member_slot_unique"),
        ]

    def __str__(self) -> str:
        return f"candidate {self.candidate_id} in set {self.candidate_set_id} (slot {self.slot})"

    def clean(self) -> None:
        super().clean()
        if (
            self.candidate_set_id
            and self.candidate_id
            and self.candidate.prompt_id != self.candidate_set.prompt_id
        ):
            raise ValidationError({"candidate": "A set's candidates answer the set's prompt."})


class SetAssignment(models.Model):
    """A rater's lease on a candidate set: Assignment's twin (same statuses and guarantees).

    A twin rather than a nullable pair on Assignment: the pairwise claim, vote and page read are
    single hand-written statements that join the pair; a nullable pair would put a branch on
    every one of them, and pairwise must not change.
    """

    Status = Assignment.Status

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="set_assignments")
    candidate_set = models.ForeignKey(
        CandidateSet, on_delete=models.CASCADE, related_name="assignments"
    )
    rater = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="set_assignments"
    )
    status = models.CharField(max_length=16, choices=Assignment.Status, default="active")
    # The members were shown in slot order rotated by this much; shown_order spells it out.
    rotation = models.PositiveSmallIntegerField(default=0)
    shown_order = models.JSONField(default=list, validators=[validate_json])
    skip_reason = models.CharField(max_length=300, blank=True, validators=[validate_text])
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["candidate_set", "rater"], name="set_assignment_unique_rater"
            ),
            models.UniqueConstraint(
                fields=["campaign", "rater"],
                condition=Q(status="active"),
                name="set_assignment_one_active",
            ),
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="set_assignment_lease_idx")]

    def __str__(self) -> str:
        return f"set lease {self.pk} of set {self.candidate_set_id} ({self.status})"


class RankingVote(models.Model):
    """An immutable ranking of a set's candidates, best first; ties share a group."""

    class Source(models.TextChoices):
        HUMAN = "human", "Human"
        JUDGE = "judge", "AI judge (RLAIF)"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="ranking_votes")
    candidate_set = models.ForeignKey(CandidateSet, on_delete=models.CASCADE, related_name="votes")
    # One vote per lease: a double submit stores one row.
    lease = models.OneToOneField(
        SetAssignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="vote"
    )
    rater = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="ranking_votes",
    )
    source = models.CharField(max_length=8, choices=Source, default=Source.HUMAN)
    ranking = models.JSONField(validators=[validate_json])  # [[id], [id, id], ...] best first
    shown_order = models.JSONField(default=list, validators=[validate_json])
    all_bad = models.BooleanField(default=False)
    aspects = models.JSONField(default=dict, blank=True, validators=[validate_json])
    rationale = models.TextField(
        blank=True, validators=[validate_text, MaxLengthValidator(MAX_RATIONALE)]
    )
    rewrite = models.TextField(
        blank=True, validators=[validate_text, MaxLengthValidator(MAX_REWRITE)]
    )
    time_on_task_ms = models.PositiveIntegerField(null=True, blank=True)
    # A correction of an undone vote (services/set_corrections.py): a new row pointing at the
    # rater's first vote on the set; the latest row per (set, rater) is the one that counts.
    revises = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="revisions"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["candidate_set", "rater"],
                condition=Q(source="human", revises__isnull=True),
                name="ranking_vote_one_per_rater",
            ),
        ]
        indexes = [models.Index(fields=["campaign", "created_at"], name="ranking_vote_time")]

    def __str__(self) -> str:
        return f"ranking {self.pk} of set {self.candidate_set_id}"


class RatingVote(models.Model):
    """An immutable rating of a set's candidates: one RatingScore row per candidate."""

    Source = RankingVote.Source

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="rating_votes")
    candidate_set = models.ForeignKey(
        CandidateSet, on_delete=models.CASCADE, related_name="rating_votes"
    )
    # One vote per lease: a double submit stores one row.
    lease = models.OneToOneField(
        SetAssignment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rating_vote",
    )
    rater = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rating_votes",
    )
    source = models.CharField(max_length=8, choices=RankingVote.Source, default="human")
    shown_order = models.JSONField(default=list, validators=[validate_json])
    time_on_task_ms = models.PositiveIntegerField(null=True, blank=True)
    # A correction of an undone vote (services/set_corrections.py): a new row pointing at the
    # rater's first vote on the set; the latest row per (set, rater) is the one that counts.
    revises = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="revisions"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["candidate_set", "rater"],
                condition=Q(source="human", revises__isnull=True),
                name="rating_vote_one_per_rater",
            ),
        ]
        indexes = [models.Index(fields=["campaign", "created_at"], name="rating_vote_time")]

    def __str__(self) -> str:
        return f"rating {self.pk} of set {self.candidate_set_id}"


class RatingScore(models.Model):
    """One candidate's scores in a rating vote: overall, per aspect, and an optional rationale."""

    vote = models.ForeignKey(RatingVote, on_delete=models.CASCADE, related_name="scores")
    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="+")
    overall = models.PositiveSmallIntegerField()
    aspects = models.JSONField(default=dict, blank=True, validators=[validate_json])
    rationale = models.TextField(
        blank=True, validators=[validate_text, MaxLengthValidator(MAX_RATIONALE)]
    )

    class Meta:
        ordering = ["vote_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["vote", "candidate"], name="rating_score_unique"),
            models.CheckConstraint(condition=Q(overall__lte=9), name="rating_score_on_scale"),
        ]

    def __str__(self) -> str:
        return f"score {self.overall} of candidate {self.candidate_id} in rating {self.vote_id}"


class RatingJudgement(SetJudgement):
    """The AI judge scoring one rating unit's responses (services/judging_ratings.py): a kind of
    claimable work, each row its own job. When done, its scores are a RatingVote of its own
    (source judge, no rater, ``vote``); human votes are never touched."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="rating_judgements"
    )
    candidate_set = models.ForeignKey(
        CandidateSet, on_delete=models.CASCADE, related_name="rating_judgements"
    )
    vote = models.OneToOneField(
        RatingVote, null=True, blank=True, on_delete=models.SET_NULL, related_name="judgement"
    )

    class Meta(SetJudgement.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["candidate_set", "model"], name="ratingjudgement_unique"
            ),
        ]
        indexes = [models.Index(fields=["campaign", "status"], name="ratingjudgement_status")]

    def __str__(self) -> str:
        return f"rating judgement {self.pk} ({self.status})"


def counted_votes(votes: models.QuerySet) -> models.QuerySet:
    """The rows of ``votes`` that count: a human vote only while no later correction of it exists
    (the latest row per (set, rater)); the judge's rows as they are. One rule for ranking, rating
    and step votes (exports, agreement, gold accuracy)."""
    later = votes.model.objects.filter(
        candidate_set=OuterRef("candidate_set"),
        rater=OuterRef("rater"),
        source="human",
        revises__isnull=False,
        pk__gt=OuterRef("pk"),
    )
    return votes.exclude(Q(source="human") & Exists(later))
