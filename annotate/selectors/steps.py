"""Reads of the step-labels protocol: its traces with their votes (what both step exports are
built from), its voters, and its agreement per step.

A trace row (``step_export_rows``), one per trace that has votes, sorted by prompt, then set::

    {"set_id", "prompt_id", "prompt_hash", "prompt_external_id", "messages", "system",
     "candidate_id", "generator", "source", "steps": [...], "gold_labels": [...] or [],
     "stop_at_wrong": the campaign's setting,
     "votes": [{"vote_id", "rater_id", "source", "labels", "notes", "time_on_task_ms",
                "created_at"}, ...]}

Memory holds one trace's votes at a time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from itertools import groupby

from django.db.models import Count, Max

from annotate.models import StepTrace, StepVote
from annotate.models.sets import counted_votes
from annotate.selectors.exports import generator_names

_VOTE_FIELDS = (
    "id",
    "candidate_set_id",
    "rater_id",
    "source",
    "labels",
    "notes",
    "time_on_task_ms",
    "created_at",
)


def step_votes(*, campaign_id: int, chunk_size: int = 2000) -> Iterator[dict]:
    """Every counted step vote of the campaign (a rater's latest row per trace:
    ``counted_votes``), ordered by prompt, set, vote id."""
    rows = (
        counted_votes(StepVote.objects.filter(campaign_id=campaign_id))
        .order_by("candidate_set__prompt_id", "candidate_set_id", "id")
        .values_list(*_VOTE_FIELDS)
        .iterator(chunk_size=chunk_size)
    )
    for values in rows:
        vote = dict(zip(_VOTE_FIELDS, values, strict=True))
        vote["vote_id"] = vote.pop("id")
        yield vote


def _trace_facts(set_id: int) -> dict:
    return (
        StepTrace.objects.filter(candidate_set_id=set_id)
        .values(
            "candidate_set__prompt_id",
            "candidate_set__prompt__content_hash",
            "candidate_set__prompt__external_id",
            "candidate_set__prompt__messages",
            "candidate_set__prompt__system",
            "candidate_id",
            "candidate__generator_id",
            "source",
            "steps",
            "gold_labels",
        )
        .get()
    )


def step_export_rows(*, campaign_id: int) -> Iterator[dict]:
    """One row per trace with votes (the module docstring), by prompt then set."""
    from annotate.models import Campaign

    names = generator_names(campaign_id=campaign_id)
    stop = Campaign.objects.values_list("step_stop_at_wrong", flat=True).get(pk=campaign_id)
    for set_id, votes in groupby(
        step_votes(campaign_id=campaign_id), key=lambda v: v["candidate_set_id"]
    ):
        f = _trace_facts(set_id)
        yield {
            "set_id": set_id,
            "prompt_id": f["candidate_set__prompt_id"],
            "prompt_hash": f["candidate_set__prompt__content_hash"],
            "prompt_external_id": f["candidate_set__prompt__external_id"] or "",
            "messages": f["candidate_set__prompt__messages"],
            "system": f["candidate_set__prompt__system"] or "",
            "candidate_id": f["candidate_id"],
            "generator": names.get(f["candidate__generator_id"], ""),
            "source": f["source"],
            "steps": f["steps"],
            "gold_labels": f["gold_labels"] or [],
            "stop_at_wrong": stop,
            "votes": list(votes),
        }


def step_voters(*, campaign_id: int) -> list[dict]:
    """Raters who labelled steps in the campaign, with their counts (as ranking_voters)."""
    return list(
        counted_votes(
            StepVote.objects.filter(campaign_id=campaign_id, source=StepVote.Source.HUMAN)
        )
        .values("rater_id", "rater__username")
        .annotate(votes=Count("id"), last_vote=Max("created_at"))
        .order_by("rater__username")
    )


def step_agreement(*, campaign) -> dict:
    """Krippendorff's α per step (a unit = one step of one trace; raters' -1 / 0 / 1), ordinal and
    nominal, over human votes on regular traces; label counts; progress."""
    from annotate.analytics.agreement import units_alpha
    from annotate.services.sets import set_progress

    units: dict[tuple[int, int], dict[int, int]] = {}
    counts: Counter = Counter()
    votes = counted_votes(
        StepVote.objects.filter(campaign=campaign, source=StepVote.Source.HUMAN)
    ).values_list("candidate_set_id", "rater_id", "labels")
    for set_id, rater_id, labels in votes:
        for i, label in enumerate(labels):
            if label is None:
                counts["unlabelled"] += 1
                continue
            counts[{1: "correct", 0: "neutral", -1: "wrong"}[label]] += 1
            units.setdefault((set_id, i), {})[rater_id] = label
    ordinal = units_alpha(units, level="ordinal")
    nominal = units_alpha(units, level="nominal")
    return {
        "step_progress": set_progress(campaign=campaign),
        "step_alpha_ordinal": ordinal["alpha"],
        "step_alpha_nominal": nominal["alpha"],
        "step_units": ordinal["units"],
        "step_labels": dict(counts),
        **step_judge_agreement(campaign=campaign),
    }


def step_judge_agreement(*, campaign) -> dict:
    """Human–judge agreement per step: over the steps where both the raters' majority
    (``trace_majority``, the trl-stepwise aggregate) and the judge's latest labels give a label,
    the share where they are the same. ``step_judge_agreement`` is None with no such step."""
    from annotate.protocols.steps import trace_majority

    judge: dict[int, list] = {}
    for set_id, labels in (
        StepVote.objects.filter(campaign=campaign, source=StepVote.Source.JUDGE)
        .order_by("id")
        .values_list("candidate_set_id", "labels")
    ):
        judge[set_id] = labels  # the latest wins
    human: dict[int, list] = {}
    for set_id, labels in counted_votes(
        StepVote.objects.filter(
            campaign=campaign, source=StepVote.Source.HUMAN, candidate_set_id__in=list(judge)
        )
    ).values_list("candidate_set_id", "labels"):
        human.setdefault(set_id, []).append(labels)
    same = compared = 0
    for set_id, votes in human.items():
        labels = judge[set_id]
        majority = trace_majority(votes, n=len(labels), stop_at_wrong=campaign.step_stop_at_wrong)
        for mine, theirs in zip(majority, labels, strict=True):
            if mine is not None and theirs is not None:
                compared += 1
                same += mine == theirs
    return {
        "step_judge_agreement": same / compared if compared else None,
        "step_judge_steps": compared,
        "step_judge_traces": len(judge),
    }


def step_judge_reveal(*, campaign, candidate_set_id: int) -> dict | None:
    """The judge's labels of a trace, for the rater who has just voted on it: only where the
    campaign's judge mode shows the judge after the vote, and the judge has labelled the trace.
    ``{"labels": [1, 0, -1, None...], "reasons": ["...", ...]}``, or None. Callers ask only after
    the rater's vote is stored (blind first, then reveal)."""
    if not campaign.judge_shown(voted=True):
        return None
    return _judge_labels(campaign=campaign, candidate_set_id=candidate_set_id)


def step_judge_suggestion(*, campaign, candidate_set_id: int) -> dict | None:
    """The judge's labels of a trace shown *before* the rater votes on it: only where the
    campaign's judge mode says "before_vote" (never in after-vote mode: blind first there).
    The same shape as ``step_judge_reveal``, or None."""
    if not campaign.judge_shown(voted=False):
        return None
    return _judge_labels(campaign=campaign, candidate_set_id=candidate_set_id)


def _judge_labels(*, campaign, candidate_set_id: int) -> dict | None:
    vote = (
        StepVote.objects.filter(
            campaign=campaign, candidate_set_id=candidate_set_id, source=StepVote.Source.JUDGE
        )
        .order_by("-id")
        .values("labels", "notes")
        .first()
    )
    if vote is None:
        return None
    return {"labels": vote["labels"], "reasons": vote["notes"]}
