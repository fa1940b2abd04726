"""Assignment engine: lease pairs to raters, exactly k per pair, never twice to one rater.

The claim updates the claimed pair's *own row* and guards on a column of that row
(``assigned < needed``). Under READ COMMITTED a ``SELECT … FOR UPDATE SKIP LOCKED`` guarded only by a
``NOT EXISTS (assignment …)`` sub-query double-assigns; re-checking ``assigned < needed`` in the
UPDATE's own WHERE clause is what makes the counter a hard limit (and the database CHECK
``assigned <= needed`` backs it up). On SQLite, IMMEDIATE transactions serialise writers, so the same
conditional UPDATE without SKIP LOCKED is enough. The claim, the left-side count, the lease's insert
with what the page shows, and the sweep are plain SQL (annotate/sql/leases.py); the rest is the ORM.

``Pair.assigned`` counts live leases + votes. A lease that expires, is skipped or is released gives its
slot back (``assigned - 1``); a vote keeps it.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Case, F, When
from django.utils import timezone
from django.utils.translation import gettext

from annotate.models import Assignment, Campaign, Enrollment, Pair, User
from annotate.services.prompts import prompt_rendered_ensure
from annotate.sql import leases as leases_sql

# Expired leases are swept lazily: at most this often per campaign and process before a claim,
# and always when a claim finds nothing (the only time a stale lease can starve a rater).
SWEEP_INTERVAL_SECONDS = 2.0
_last_sweep: dict[int, float] = {}

_CLAIM_RETRIES = 4


class AssignmentError(Exception):
    """A lease operation the rater may not do; the message is shown on the page."""


def _now() -> datetime:
    return timezone.now()


def assignment_live(*, campaign: Campaign, rater: User) -> Assignment | None:
    """The rater's active lease in this campaign, with what the page shows loaded (one query)."""
    return _rendered(leases_sql.live_for_page(campaign_id=campaign.pk, rater_id=rater.pk))


def _rendered(lease: Assignment | None) -> Assignment | None:
    """A lease whose prompt a large import's background render has not reached yet gets its
    markdown rendered (and stored) now."""
    if lease is not None and not lease.pair.prompt.rendered:
        prompt_rendered_ensure(prompt=lease.pair.prompt)
    return lease


def rater_enrollment(*, campaign: Campaign, rater: User) -> Enrollment | None:
    return Enrollment.objects.filter(campaign=campaign, rater=rater).first()


def assignment_next(
    *,
    campaign: Campaign,
    rater: User,
    after_vote: bool = False,
    now: datetime | None = None,
) -> Assignment | None:
    """The rater's live lease if there is one (a reload returns the same pair), else a newly claimed pair.

    Returns None when there is no work for this rater: campaign not open, rater not enrolled or paused,
    or every pair has its k raters (or was already seen by this rater). ``after_vote`` skips the
    live-lease lookup: the vote just closed the rater's only lease (a twin request in another tab
    is still handled by the claim).
    """
    now = now or _now()
    if not after_vote:
        live = assignment_live(campaign=campaign, rater=rater)
        if live is not None:
            if live.expires_at > now:
                return live
            assignment_expire_stale(campaign=campaign, now=now)
    if not campaign.is_open:
        return None
    last = _last_sweep.get(campaign.pk, 0.0)
    if time.monotonic() - last > SWEEP_INTERVAL_SECONDS:
        assignment_expire_stale(campaign=campaign, now=now)
    assignment = _claim(campaign=campaign, rater=rater, now=now)
    if assignment is None and assignment_expire_stale(campaign=campaign, now=now):
        assignment = _claim(campaign=campaign, rater=rater, now=now)
    return assignment


def _claim(*, campaign: Campaign, rater: User, now: datetime) -> Assignment | None:
    want_gold = campaign.gold_rate > 0 and random.random() < campaign.gold_rate
    # Try the preferred pool first (gold or regular), then the other one.
    pools = (want_gold, not want_gold) if campaign.gold_rate > 0 else (None,)
    for gold in pools:
        for attempt in range(_CLAIM_RETRIES):
            assignment, outcome = _claim_once(campaign=campaign, rater=rater, now=now, gold=gold)
            if outcome == "claimed":
                return assignment
            if outcome == "twin":
                # Same rater asking twice at once (two tabs): the other request holds the lease.
                return assignment_live(campaign=campaign, rater=rater)
            if outcome == "empty":
                break
            time.sleep(0.001 * (attempt + 1))  # "raced": the chosen row filled up; pick again
    return None


def _claim_once(*, campaign: Campaign, rater: User, now: datetime, gold: bool | None):
    # savepoint=False: inside the vote's transaction this adds no SAVEPOINT round trips; a failure
    # here is a real error and may take the whole request down with it.
    with transaction.atomic(savepoint=False):
        row = leases_sql.claim_pair(campaign=campaign, rater_id=rater.pk, gold=gold)
        if row is None or row == "raced":
            return None, ("empty" if row is None else "raced")
        pair_id, assigned_after, left_a_count = row
        left_is_a = _choose_left(
            claims_before=assigned_after - 1, left_a_count=left_a_count, overlap=campaign.overlap
        )
        insert = (
            leases_sql.insert_one_statement
            if connection.vendor == "postgresql"
            else leases_sql.insert_step_by_step
        )
        lease = insert(
            campaign_id=campaign.pk,
            pair_id=pair_id,
            rater_id=rater.pk,
            left_is_a=left_is_a,
            now=now,
            expires_at=now + timedelta(seconds=campaign.lease_seconds),
        )
        if lease is None:
            # Same rater asking twice at once (two tabs): give the slot back.
            Pair.objects.filter(pk=pair_id).update(assigned=F("assigned") - 1)
            return None, "twin"
        if left_is_a and campaign.overlap >= 2:
            # Only balancing (k >= 2) reads the count. Our UPDATE holds the row lock until
            # commit, so this cannot race.
            leases_sql.count_left_shown(pair_id=pair_id)
    return _rendered(lease), "claimed"


def _choose_left(*, claims_before: int, left_a_count: int, overlap: int) -> bool:
    """Random side; at k >= 2 the side shown less often so far on this pair wins."""
    if overlap >= 2:
        shown_right = claims_before - left_a_count
        if left_a_count < shown_right:
            return True
        if left_a_count > shown_right:
            return False
    return random.random() < 0.5


def _give_back(rows: list[tuple[int, bool]], *, balanced: bool) -> None:
    """Return lease slots to the pool: assigned -= n, and at k >= 2 (where claims count the
    left side) left_a_count -= lefts (never below 0), per pair."""
    slots = Counter(pair_id for pair_id, _ in rows)
    lefts = Counter(pair_id for pair_id, left in rows if left) if balanced else Counter()
    for pair_id, n in slots.items():
        left = lefts[pair_id]
        Pair.objects.filter(pk=pair_id).update(
            assigned=F("assigned") - n,
            left_a_count=Case(
                When(left_a_count__gt=left, then=F("left_a_count") - left), default=0
            ),
        )


def assignment_expire_stale(*, campaign: Campaign, now: datetime | None = None) -> int:
    """Expire leases past their deadline and put their pairs back in the pool. Returns how many.

    The status guard (``status = 'active'``) in the UPDATE makes each lease expire exactly once,
    even when two requests sweep at the same moment.
    """
    now = now or _now()
    _last_sweep[campaign.pk] = time.monotonic()
    with transaction.atomic(savepoint=False):
        rows = leases_sql.expire_stale(campaign_id=campaign.pk, now=now)
        if rows:
            _give_back(rows, balanced=campaign.overlap >= 2)
    return len(rows)


def _end_lease(*, assignment_id: int, status: str, where: dict, skip_reason: str = "") -> bool:
    """Close an active lease and give its slot back, guarded on the lease still being active."""
    with transaction.atomic():
        updated = Assignment.objects.filter(
            pk=assignment_id, status=Assignment.Status.ACTIVE, **where
        ).update(status=status, skip_reason=skip_reason[:300], completed_at=_now())
        if not updated:
            return False
        pair_id, left_is_a, overlap = Assignment.objects.values_list(
            "pair_id", "left_is_a", "campaign__overlap"
        ).get(pk=assignment_id)
        _give_back([(pair_id, left_is_a)], balanced=overlap >= 2)
    return True


def assignment_skip(*, assignment_id: int, rater: User, reason: str) -> None:
    """The rater passes on a pair (with a reason). The pair goes back to the pool for others."""
    reason = (reason or "").strip()
    if not reason:
        raise AssignmentError(gettext("Please say why you are skipping this pair."))
    if not _end_lease(
        assignment_id=assignment_id,
        status=Assignment.Status.SKIPPED,
        where={"rater": rater, "expires_at__gt": _now()},
        skip_reason=reason,
    ):
        raise AssignmentError(gettext("This pair is no longer yours to skip (its lease ended)."))


def assignment_release(*, campaign: Campaign, assignment_id: int) -> bool:
    """An admin takes a lease back; the pair returns to the pool."""
    return _end_lease(
        assignment_id=assignment_id,
        status=Assignment.Status.RELEASED,
        where={"campaign": campaign},
        skip_reason="released by an admin",
    )


def assignment_renew(*, assignment_id: int, rater: User, now: datetime | None = None) -> bool:
    """Heartbeat while the rater is active: push the deadline out by the campaign's lease length.

    An already expired lease is not revived (its pair may be with someone else by now).
    """
    now = now or _now()
    lease = (
        Assignment.objects.filter(
            pk=assignment_id, rater=rater, status=Assignment.Status.ACTIVE, expires_at__gt=now
        )
        .select_related("campaign")
        .only("id", "campaign__lease_seconds")
        .first()
    )
    if lease is None:
        return False
    return bool(
        Assignment.objects.filter(
            pk=assignment_id, status=Assignment.Status.ACTIVE, expires_at__gt=now
        ).update(expires_at=now + timedelta(seconds=lease.campaign.lease_seconds))
    )
