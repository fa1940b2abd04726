"""CampaignStats: the researcher dashboard's figures, computed by a worker over every vote and kept
with their freshness (annotate/services/campaign_stats.py draws its states)."""

from __future__ import annotations

from django.db import models

from annotate.models.campaigns import Campaign


class CampaignStats(models.Model):
    """One row per campaign. ``figures`` is written whole, in the same UPDATE as ``computed_at``,
    ``votes_seen`` and ``last_vote_id``, so a reader never sees figures of one run with the counts
    of another, and a worker killed mid-compute leaves the previous figures as they were."""

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="stats")
    computed_at = models.DateTimeField(null=True, blank=True)
    votes_seen = models.PositiveIntegerField(default=0)
    # The highest human vote id the figures include: votes above it are "new since".
    last_vote_id = models.BigIntegerField(null=True, blank=True)
    figures = models.JSONField(default=dict, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # A vote sets due_at (when a recompute is wanted) if it is not set yet: the debounce.
    due_at = models.DateTimeField(null=True, blank=True)
    # The claim of the run computing now (its task id) and since when.
    computing_since = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "campaign stats"

    def __str__(self) -> str:
        return f"stats of campaign {self.campaign_id} ({self.votes_seen} votes)"
