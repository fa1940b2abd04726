"""Undoing the last vote: the rater takes back their most recent vote for a short while after it
(``RATE_UNDO_SECONDS``), sees the pair again with that vote filled in, and sends a correction.

Votes are never updated. A correction is a new human judgment with ``revises`` pointing at the
pair's *first* vote by the rater, as the revision after a judge reveal does; exports count each
rater's latest vote per pair (annotate/exports/aggregate.py ``counted_votes``), so the correction is
what they use. Only the rater's own last vote can be undone: the most recent judgment they made in
the campaign (a first vote, a revision or an earlier correction) names the pair.

    vote ──(within RATE_UNDO_SECONDS)──> undo: the pair again, the vote filled in
                                          └─(within a lease more)─> correction row (revises = first)
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from annotate.models import Campaign, Judgment, User
from annotate.selectors.judging import verdict_for_pair
from annotate.services.judgments import VoteRefused, _check_rewrite, judgment_validate
from annotate.sides import to_stored


def undo_seconds() -> int:
    return max(0, settings.RATE_UNDO_SECONDS)


def _last_vote(*, campaign: Campaign, rater: User) -> Judgment | None:
    return (
        Judgment.objects.filter(campaign=campaign, rater=rater, source=Judgment.Source.HUMAN)
        .select_related("revises")
        .order_by("-id")
        .first()
    )


def judgment_undoable(
    *, campaign: Campaign, rater: User, now: datetime | None = None, grace: int = 0
) -> tuple[Judgment, Judgment]:
    """The rater's last vote as (first vote of its pair, latest vote of its pair), if it may still be
    undone: within ``RATE_UNDO_SECONDS`` (plus ``grace`` seconds) of the first vote. Raises
    VoteRefused (code ``nothing`` or ``too_late``) otherwise."""
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


def judgment_correct(
    *,
    judgment_id: int,
    rater: User,
    campaign: Campaign,
    choice: str,
    strength: int | None,
    aspects: dict | None,
    rationale: str,
    rewrite: str,
    idempotency_key: str,
    now: datetime | None = None,
) -> Judgment:
    """Store the correction of the rater's last vote; ``choice`` and ``aspects`` in shown terms
    (left/right, as the page showed the pair). ``judgment_id`` must be the first vote of the pair
    the rater voted on last, and the correction must come within the undo window plus a lease.
    The same ``idempotency_key`` again returns the stored correction."""
    now = now or timezone.now()
    if not idempotency_key or len(idempotency_key) > 64:
        raise VoteRefused(
            gettext("This vote has no valid submission key; reload the page."), code="key"
        )
    replayed = Judgment.objects.filter(idempotency_key=idempotency_key).first()
    if replayed is not None:
        if replayed.rater_id == rater.pk and replayed.revises_id == judgment_id:
            return replayed
        raise VoteRefused(gettext("This submission key was already used."), code="key")
    first, _ = judgment_undoable(
        campaign=campaign, rater=rater, now=now, grace=campaign.lease_seconds
    )
    if first.pk != judgment_id:
        raise VoteRefused(gettext("Only your last vote can be undone."), code="not_last")
    left_is_a = first.left_is_a is not False
    stored = to_stored(choice, left_is_a=left_is_a)
    strength, aspects, rationale, rewrite = judgment_validate(
        campaign=campaign,
        choice=stored,
        strength=strength,
        aspects={k: to_stored(v, left_is_a=left_is_a) for k, v in (aspects or {}).items()},
        rationale=rationale,
        rewrite=rewrite,
    )
    if rewrite and first.assignment_id:
        _check_rewrite(assignment_id=first.assignment_id, rater=rater, rewrite=rewrite)
    try:
        with transaction.atomic():
            return Judgment.objects.create(
                campaign=campaign,
                pair_id=first.pair_id,
                assignment_id=first.assignment_id,
                rater=rater,
                source=Judgment.Source.HUMAN,
                choice=stored,
                strength=strength,
                aspects=aspects,
                rationale=rationale,
                rewrite=rewrite,
                left_is_a=first.left_is_a,
                judge_shown=_judge_seen(campaign=campaign, first=first),
                revises=first,
                idempotency_key=idempotency_key,
                created_at=now,
            )
    except IntegrityError:  # the same key, sent twice at once
        raise VoteRefused(gettext("This submission key was already used."), code="key") from None


def _judge_seen(*, campaign: Campaign, first: Judgment) -> bool:
    """Whether the rater had seen the judge on this pair by the time of the correction: with the
    first vote (before-vote mode), or in the reveal that followed it (after-vote mode)."""
    if first.judge_shown:
        return True
    if campaign.judge_mode != Campaign.JudgeMode.AFTER_VOTE:
        return False
    return verdict_for_pair(pair_id=first.pair_id) is not None
