"""Undoing the last vote on a candidate set (ranking, rating, step labels), as pairwise has it
(services/corrections.py): for ``RATE_UNDO_SECONDS`` after a vote the rater may take it back, sees
the same unit again (in the order they saw it) with their vote filled in, and sends a correction.

Votes are never updated. A correction is a new row of the protocol's vote model with ``revises``
pointing at the rater's *first* vote on the set, written by the protocol's own vote function with
the same rules (services/sets.py ``set_vote_revise``); the lease and the counters stay as the
first vote left them. Exports, agreement and gold accuracy count the latest row per (set, rater)
(annotate/models/sets.py ``counted_votes``). Only the rater's own last vote can be undone.

    vote ──(within RATE_UNDO_SECONDS)──> undo: the unit again, the vote filled in
                                          └─(within a lease more)─> correction row (revises = first)

The page, the API and any command call these functions; the window and "only your last vote" are
checked here, once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from annotate.models import Campaign, RankingVote, RatingVote, StepVote, User
from annotate.protocols.ranking import ranking_to_shown
from annotate.services.corrections import undo_seconds
from annotate.services.judgments import VoteRefused

SetVote = RankingVote | RatingVote | StepVote


def set_vote_model(campaign: Campaign) -> type[SetVote]:
    if campaign.is_rating:
        return RatingVote
    if campaign.is_steps:
        return StepVote
    return RankingVote


def _last_vote(*, campaign: Campaign, rater: User) -> SetVote | None:
    model = set_vote_model(campaign)
    return (
        model.objects.filter(campaign=campaign, rater=rater, source="human")
        .select_related("revises")
        .order_by("-id")
        .first()
    )


def set_vote_undoable(
    *, campaign: Campaign, rater: User, now: datetime | None = None, grace: int = 0
) -> tuple[SetVote, SetVote]:
    """The rater's last vote as (first vote on its set, latest row on it), if it may still be
    undone: within ``RATE_UNDO_SECONDS`` (plus ``grace``) of the first vote. VoteRefused (code
    ``nothing`` or ``too_late``) otherwise."""
    last = _last_vote(campaign=campaign, rater=rater)
    if last is None:
        raise VoteRefused(gettext("You have no vote to undo yet."), code="nothing")
    first = last.revises or last
    window = undo_seconds()
    if (now or timezone.now()) - first.created_at > timedelta(seconds=window + grace):
        raise VoteRefused(
            gettext(
                "Your last vote can no longer be undone: undo lasts %(seconds)s seconds after a "
                "vote. It is kept as you sent it."
            )
            % {"seconds": window},
            code="too_late",
        )
    return first, last


def set_undo_ms(*, campaign: Campaign, rater: User, now: datetime | None = None) -> int:
    """Milliseconds left to undo the rater's last vote (0: nothing to undo), for the button."""
    now = now or timezone.now()
    try:
        first, _ = set_vote_undoable(campaign=campaign, rater=rater, now=now)
    except VoteRefused:
        return 0
    left = undo_seconds() - (now - first.created_at).total_seconds()
    return max(0, int(left * 1000))


def set_vote_correct(
    *,
    campaign: Campaign,
    rater: User,
    vote_id: int,
    vote: dict,
    prior_id: int | None = None,
    now: datetime | None = None,
) -> SetVote:
    """Store the correction of the rater's last vote. ``vote_id``: the first vote on the set (as
    the undo named it); ``vote``: the protocol's vote keywords in shown numbers (ranking, all_bad,
    aspects, rationale, rewrite / scores / labels, notes), checked with the vote's own rules;
    ``prior_id``: the row the undo filled the form from: a second submit of the same correction
    finds a newer row and is refused (one row per submit).

    Refuses with code ``missing`` (no such first vote of this rater: the API's 404), ``too_late``
    (the window plus a lease has passed), ``not_last`` (a later vote, or corrected already), or
    the protocol's own codes for a vote that breaks its rules."""
    now = now or timezone.now()
    model = set_vote_model(campaign)
    with transaction.atomic():
        # The first vote's row lock serialises two corrections of it (PostgreSQL; SQLite's
        # writers are serialised anyway).
        first = (
            model.objects.select_for_update()
            .filter(
                pk=vote_id,
                campaign=campaign,
                rater=rater,
                source="human",
                revises__isnull=True,
            )
            .first()
        )
        if first is None:
            raise VoteRefused(gettext("There is no such vote of yours to correct."), code="missing")
        last_first, last = set_vote_undoable(
            campaign=campaign, rater=rater, now=now, grace=campaign.lease_seconds
        )
        if last_first.pk != first.pk or (prior_id is not None and last.pk != prior_id):
            raise VoteRefused(gettext("Only your last vote can be undone."), code="not_last")
        if campaign.is_rating:
            from annotate.services.sets import rating_vote_record as record
        elif campaign.is_steps:
            from annotate.services.steps import step_vote_record as record
        else:
            from annotate.services.sets import ranking_vote_record as record
        return record(
            lease=first.lease_id or 0,
            rater=rater,
            campaign=campaign,
            now=now,
            revises=first,
            **vote,
        )


def set_vote_shown(vote: SetVote, *, campaign: Campaign) -> dict:
    """A stored vote in the shape it was sent (shown numbers, the API's keys), to fill the form
    in again on an undo."""
    if isinstance(vote, StepVote):
        return {"labels": list(vote.labels), "notes": list(vote.notes or [])}
    shown = list(vote.shown_order)
    number = {cid: i + 1 for i, cid in enumerate(shown)}
    if isinstance(vote, RatingVote):
        return {
            "scores": sorted(
                (
                    {
                        "number": number[s.candidate_id],
                        "overall": s.overall,
                        "aspects": dict(s.aspects or {}),
                        "rationale": s.rationale,
                    }
                    for s in vote.scores.all()
                    if s.candidate_id in number
                ),
                key=lambda e: e["number"],
            )
        }
    return {
        "ranking": [sorted(g) for g in ranking_to_shown(vote.ranking, shown_order=shown)],
        "all_bad": vote.all_bad,
        "aspects": {k: number[v] for k, v in (vote.aspects or {}).items() if v in number},
        "rationale": vote.rationale,
        "rewrite": vote.rewrite,
    }
