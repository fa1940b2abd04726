"""The "active" ordering: score every open pair of a pairwise campaign by how much one more vote
on it is worth (annotate/analytics/informativeness.py), so the claim serves the highest first.

The claim itself stays one indexed read (annotate/sql/leases.py: ``priority DESC`` on the partial
index ``pair_active_idx``); the scoring runs beside it, in a worker: some serving process enqueues
``priorities_refresh_task`` about every ``PRIORITIES_REFRESH_SECONDS`` (a lease in the database,
annotate/work/workers.py), which rescores the campaigns whose votes or judge verdicts changed
since their last scoring, and the campaign page's setting rescores at once. Only the ``priority``
column is written, so a claim that counts a lease on the same row at the same moment loses nothing.
The leaderboard's counts are the dashboard's (selectors/analytics.leaderboard_outcomes: votes per
generator pair and choice, counted in SQL); one pass over the open pairs.
"""

from __future__ import annotations

import logging

from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from annotate.analytics.informativeness import (
    comparisons_by_generators,
    generator_overlap,
    interval_overlap,
    pair_priority,
)
from annotate.analytics.ranking import bradley_terry_counts
from annotate.models import Campaign, JudgeVerdict, Judgment, Pair
from annotate.selectors.analytics import leaderboard_outcomes
from annotate.selectors.exports import generator_names

log = logging.getLogger(__name__)

WRITE_BATCH = 1000


def _judge_by_pair(campaign: Campaign) -> dict[int, tuple[bool, str]]:
    """Pair id -> (consistent, choice) of its latest finished verdict."""
    verdicts = (
        JudgeVerdict.objects.filter(
            campaign=campaign, status=JudgeVerdict.Status.DONE, pair__isnull=False
        )
        .order_by("pair_id", "id")
        .values_list("pair_id", "consistent", "choice")
    )
    return {pid: (bool(consistent), choice) for pid, consistent, choice in verdicts.iterator()}


def _first_human(campaign: Campaign) -> dict[int, str]:
    """Open pair id -> the choice of its first human vote."""
    firsts = (
        Judgment.objects.filter(
            campaign=campaign,
            source=Judgment.Source.HUMAN,
            revises__isnull=True,
            pair__assigned__lt=F("pair__needed"),
        )
        .order_by("pair_id", "-id")
        .values_list("pair_id", "choice")
    )
    # Ordered newest first within a pair, so the dict keeps the first vote.
    return dict(firsts.iterator())


def priorities_refresh(*, campaign: Campaign) -> int:
    """Rescore the campaign's open pairs; returns how many scores changed."""
    started = timezone.now()
    names = generator_names(campaign_id=campaign.pk)
    counts = leaderboard_outcomes(campaign_id=campaign.pk)
    board = bradley_terry_counts(counts, n_boot=100) if counts else []
    overlap = interval_overlap(board)
    compared = comparisons_by_generators(counts)
    judge = _judge_by_pair(campaign)
    first = _first_human(campaign)
    changed: list[Pair] = []
    written = 0
    open_pairs = Pair.objects.filter(campaign=campaign, assigned__lt=F("needed")).values_list(
        "id", "candidate_a__generator_id", "candidate_b__generator_id", "priority"
    )
    for pid, gen_a, gen_b, old in open_pairs.iterator(chunk_size=5000):
        consistent, choice = judge.get(pid, (True, ""))
        human = first.get(pid)
        a, b = names.get(gen_a, ""), names.get(gen_b, "")
        score = pair_priority(
            judge_unsure=pid in judge and not consistent,
            judge_human_disagree=bool(consistent and choice and human and human != choice),
            generators_overlap=generator_overlap(overlap, a, b),
            comparisons=compared.get((a, b), 0),
        )
        if abs(score - old) > 1e-9:
            changed.append(Pair(id=pid, priority=score))
        if len(changed) >= WRITE_BATCH:
            written += Pair.objects.bulk_update(changed, ["priority"])
            changed = []
    if changed:
        written += Pair.objects.bulk_update(changed, ["priority"])
    Campaign.objects.filter(pk=campaign.pk).update(priorities_at=started)
    log.info("priorities of %s: %d pairs rescored", campaign.slug, written)
    return written


def priorities_due() -> list[Campaign]:
    """Open "active" campaigns whose votes or verdicts changed since they were last scored."""
    since = OuterRef("priorities_at")
    newer_votes = Judgment.objects.filter(campaign=OuterRef("pk"), created_at__gt=since)
    newer_verdicts = JudgeVerdict.objects.filter(campaign=OuterRef("pk"), finished_at__gt=since)
    return list(
        Campaign.objects.filter(
            ordering=Campaign.Ordering.ACTIVE,
            protocol=Campaign.Protocol.PAIRWISE,
            status=Campaign.Status.OPEN,
        ).filter(Q(priorities_at__isnull=True) | Exists(newer_votes) | Exists(newer_verdicts))
    )


def priorities_refresh_due() -> int:
    """Rescore every campaign that is due; returns how many were."""
    due = priorities_due()
    for campaign in due:
        priorities_refresh(campaign=campaign)
    return len(due)
