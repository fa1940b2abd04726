"""Step labels (protocol "steps"): the stored split of a response, and the raters' step votes.

A step unit is a candidate set of one (annotate/models/sets.py, ``CandidateSet.candidate`` set),
so the ranking protocol's leases serve it unchanged: overlap k, expiry, gold share, never twice to
a rater. Its ``StepTrace`` holds the steps as split once at build time (every rater labels the
same steps) and, for a gold trace, the known labels. A gold trace's set is also marked gold the way
every set is (``gold_ranking`` names its one member), so the lease's gold pool finds it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from annotate.models.campaigns import Campaign
from annotate.models.generation import Candidate
from annotate.models.judge import SetJudgement
from annotate.models.sets import CandidateSet, SetAssignment
from annotate.validation import validate_json


class StepTrace(models.Model):
    """The steps of one candidate's answer (or reasoning), as the campaign's rule split them."""

    candidate_set = models.OneToOneField(
        CandidateSet, on_delete=models.CASCADE, related_name="trace"
    )
    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=16, choices=Campaign.StepSource)
    split = models.CharField(max_length=16, choices=Campaign.StepSplit)
    steps = models.JSONField(validators=[validate_json])  # ["step text", ...]
    steps_html = models.JSONField(validators=[validate_json])  # sanitised HTML of each step
    # Gold: the known label of each step (1, 0, -1, None after the first wrong); [] = not gold.
    gold_labels = models.JSONField(default=list, blank=True, validators=[validate_json])

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{len(self.steps)} steps of candidate {self.candidate_id}"


class StepVote(models.Model):
    """An immutable vote: one label per step (1 correct, 0 neutral, -1 wrong, None unlabelled
    after the first wrong step where the campaign ends the trace there) and a note per step."""

    class Source(models.TextChoices):
        HUMAN = "human", "Human"
        JUDGE = "judge", "AI judge (RLAIF)"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="step_votes")
    candidate_set = models.ForeignKey(
        CandidateSet, on_delete=models.CASCADE, related_name="step_votes"
    )
    # One vote per lease: a double submit stores one row.
    lease = models.OneToOneField(
        SetAssignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="step_vote"
    )
    rater = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="step_votes",
    )
    source = models.CharField(max_length=8, choices=Source, default=Source.HUMAN)
    labels = models.JSONField(validators=[validate_json])
    notes = models.JSONField(default=list, validators=[validate_json])
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
                name="step_vote_one_per_rater",
            ),
        ]
        indexes = [models.Index(fields=["campaign", "created_at"], name="step_vote_time")]

    def __str__(self) -> str:
        return f"step vote {self.pk} on set {self.candidate_set_id}"


class StepJudgement(SetJudgement):
    """The AI judge labelling one trace's steps (services/judging_steps.py): a kind of claimable
    work, each row its own job. When done, its labels are a StepVote of its own (source judge,
    ``vote``); human votes are never touched."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="step_judgements")
    candidate_set = models.ForeignKey(
        CandidateSet, on_delete=models.CASCADE, related_name="step_judgements"
    )
    vote = models.OneToOneField(
        StepVote, null=True, blank=True, on_delete=models.SET_NULL, related_name="judgement"
    )

    class Meta(SetJudgement.Meta):
        constraints = [
            models.UniqueConstraint(fields=["candidate_set", "model"], name="stepjudgement_unique"),
        ]
        indexes = [models.Index(fields=["campaign", "status"], name="stepjudgement_status")]

    def __str__(self) -> str:
        return f"step judgement {self.pk} ({self.status})"
