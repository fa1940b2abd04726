"""Assignment engine: lease pairs to raters, exactly k per pair, never twice to one rater.

The claim updates the claimed pair's *own row* and guards on a column of that row
(``assigned < needed``). Under READ COMMITTED a ``SELECT … FOR UPDATE SKIP LOCKED`` guarded only by a
``NOT EXISTS (assignment …)`` sub-query double-assigns; re-checking ``assigned < needed`` in the
UPDATE's own WHERE clause is what makes the counter a hard limit (and the database CHECK
``assigned <= needed`` backs it up). On SQLite, IMMEDIATE transactions serialise writers, so the same
conditional UPDATE without SKIP LOCKED is enough.

``Pair.assigned`` counts live leases + votes. A lease that expires, is skipped or is released gives its
slot back (``assigned - 1``); a vote keeps it.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from annotate.sql import rows as raw_rows
from annotate.models import Assignment, Campaign, Candidate, Enrollment, Pair, Prompt, User
from annotate.services.prompts import prompt_rendered_ensure

# Expired leases are swept lazily: at most this often per campaign and process before a claim,
# and always when a claim finds nothing (the only time a stale lease can starve a rater).
SWEEP_INTERVAL_SECONDS = 2.0
_last_sweep: dict[int, float] = {}

_CLAIM_RETRIES = 4

# The rating page's lease: what the page shows and nothing more, in one statement. Everything else on
# these model instances is deferred (loaded on access), so callers still get real model objects.
_LEASE_COLUMNS = """
    SELECT a.id, a.campaign_id, a.pair_id, a.rater_id, a.status, a.left_is_a, a.created_at,
           a.expires_at, p.prompt_id, p.candidate_a_id, p.candidate_b_id, pr.system, pr.rendered,
           ca.html, cb.html, LENGTH(ca.text) + LENGTH(cb.text)
"""
_LEASE_JOINS = """
    JOIN annotate_pair p ON p.id = a.pair_id
    JOIN annotate_prompt pr ON pr.id = p.prompt_id
    JOIN annotate_candidate ca ON ca.id = p.candidate_a_id
    JOIN annotate_candidate cb ON cb.id = p.candidate_b_id
"""
_LEASE_SQL = f"{_LEASE_COLUMNS} FROM annotate_assignment a {_LEASE_JOINS}"
_INSERT_LEASE = (
    "INSERT INTO annotate_assignment (campaign_id, pair_id, rater_id, status, left_is_a, "
    "skip_reason, created_at, expires_at) VALUES (%s, %s, %s, %s, %s, '', %s, %s) "
    "ON CONFLICT DO NOTHING"
)
# PostgreSQL: insert the lease and read what the page shows in the same statement.
_INSERT_LEASE_FOR_PAGE_PG = (
    f"WITH a AS ({_INSERT_LEASE} RETURNING id, campaign_id, pair_id, rater_id, status, left_is_a, "
    f"created_at, expires_at) {_LEASE_COLUMNS} FROM a {_LEASE_JOINS}"
)
_LEASE_FIELDS = (
    "id",
    "campaign_id",
    "pair_id",
    "rater_id",
    "status",
    "left_is_a",
    "created_at",
    "expires_at",
)


class AssignmentError(Exception):
    """A lease operation the rater may not do; the message is shown on the page."""


def _now() -> datetime:
    return timezone.now()


def assignment_live(*, campaign: Campaign, rater: User) -> Assignment | None:
    """The rater's active lease in this campaign, with what the page shows loaded (one query)."""
    return _lease_for_page(
        "WHERE a.campaign_id = %s AND a.rater_id = %s AND a.status = %s",
        [campaign.pk, rater.pk, Assignment.Status.ACTIVE],
    )


def _lease_for_page(where: str, params: list) -> Assignment | None:
    """A lease with its pair, prompt (system, rendered turns) and both candidates' HTML, from one
    raw statement: the ORM's select_related of the same rows cost more than the rest of the vote.

    The result is a real ``Assignment``; ``read_chars`` holds the two responses' total length (for
    the minimum read time), and fields not selected here load on access like any deferred field.
    """
    with connection.cursor() as cursor:
        cursor.execute(f"{_LEASE_SQL} {where} LIMIT 1", params)
        row = cursor.fetchone()
    return None if row is None else _lease_from_row(row)


def _lease_from_row(row: tuple) -> Assignment:
    lease = raw_rows.instance(Assignment, _LEASE_FIELDS, row[:8])
    prompt_id, cand_a_id, cand_b_id, system, rendered, html_a, html_b, chars = row[8:]
    pair = raw_rows.instance(
        Pair, ("id", "prompt_id", "candidate_a_id", "candidate_b_id"),
        (lease.pair_id, prompt_id, cand_a_id, cand_b_id),
    )  # fmt: skip
    pair.prompt = raw_rows.instance(
        Prompt, ("id", "system", "rendered"), (prompt_id, system, rendered)
    )
    if not pair.prompt.rendered:  # a large import's prompt the background render has not reached
        prompt_rendered_ensure(prompt=pair.prompt)
    pair.candidate_a = raw_rows.instance(Candidate, ("id", "html"), (cand_a_id, html_a))
    pair.candidate_b = raw_rows.instance(Candidate, ("id", "html"), (cand_b_id, html_b))
    lease.pair = pair
    lease.read_chars = chars or 0
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
        row = _claim_pair_row(campaign=campaign, rater=rater, gold=gold)
        if row is None or row == "raced":
            return None, ("empty" if row is None else "raced")
        pair_id, assigned_after, left_a_count = row
        left_is_a = _choose_left(
            claims_before=assigned_after - 1, left_a_count=left_a_count, overlap=campaign.overlap
        )
        ops = connection.ops
        params = [
            campaign.pk,
            pair_id,
            rater.pk,
            Assignment.Status.ACTIVE,
            left_is_a,
            ops.adapt_datetimefield_value(now),
            ops.adapt_datetimefield_value(now + timedelta(seconds=campaign.lease_seconds)),
        ]
        with connection.cursor() as cursor:
            # ON CONFLICT DO NOTHING instead of catching IntegrityError: no savepoint needed.
            if connection.vendor == "postgresql":
                cursor.execute(_INSERT_LEASE_FOR_PAGE_PG, params)
                row = cursor.fetchone()
                lease = None if row is None else _lease_from_row(row)
            else:
                cursor.execute(f"{_INSERT_LEASE} RETURNING id", params)
                row = cursor.fetchone()
                lease = None if row is None else _lease_for_page("WHERE a.id = %s", [row[0]])
            if lease is None:
                # Same rater asking twice at once (two tabs): give the slot back.
                cursor.execute(
                    "UPDATE annotate_pair SET assigned = assigned - 1 WHERE id = %s", [pair_id]
                )
                return None, "twin"
            if left_is_a and campaign.overlap >= 2:
                # Only balancing (k >= 2) reads the count. Our UPDATE holds the row lock until
                # commit, so this cannot race.
                cursor.execute(
                    "UPDATE annotate_pair SET left_a_count = left_a_count + 1 WHERE id = %s",
                    [pair_id],
                )
    return lease, "claimed"


def _order_sql(campaign: Campaign) -> str:
    # Both orders follow the partial index pair_open_idx (campaign, completed, random_key), so the
    # claim reads a few index entries and stops at LIMIT 1 instead of sorting every open pair.
    if campaign.ordering == Campaign.Ordering.FINISH_STARTED:
        # Pairs that already have votes first, so fewer pairs sit half-rated; random among equals.
        return "p.completed DESC, p.random_key DESC"
    # "Random": the fixed random order among the pairs with the fewest votes (breadth first).
    return "p.completed, p.random_key"


def _claim_pair_row(*, campaign: Campaign, rater: User, gold: bool | None):
    """One conditional UPDATE on the chosen pair's row. Returns (id, assigned, left_a_count),
    None when nothing is claimable, or "raced" when the guard refused the chosen row."""
    gold_sql = ""
    if gold is True:
        gold_sql = "AND p.gold_answer <> ''"
    elif gold is False:
        gold_sql = "AND p.gold_answer = ''"
    lock = "FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    # The enrollment guard rides along in the same statement: an unenrolled or paused rater
    # claims nothing, without a separate query on the hot path.
    pick = f"""
        SELECT p.id FROM annotate_pair p
        WHERE p.campaign_id = %s AND p.assigned < p.needed {gold_sql}
          AND NOT EXISTS (
              SELECT 1 FROM annotate_assignment a WHERE a.pair_id = p.id AND a.rater_id = %s)
          AND EXISTS (
              SELECT 1 FROM annotate_enrollment e
              WHERE e.campaign_id = p.campaign_id AND e.rater_id = %s AND NOT e.paused)
        ORDER BY {_order_sql(campaign)}
        LIMIT 1 {lock}
    """
    sql = f"""
        UPDATE annotate_pair SET assigned = assigned + 1
        WHERE id = ({pick}) AND assigned < needed
        RETURNING id, assigned, left_a_count
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [campaign.pk, rater.pk, rater.pk])
        row = cursor.fetchone()
        if row is not None:
            return row
        # 0 rows: either the pool is empty or a concurrent claimer filled the chosen pair. Only the
        # latter is worth a retry; telling them apart costs a query only on this rare path.
        cursor.execute(
            f"SELECT EXISTS ({pick.replace(lock, '')})", [campaign.pk, rater.pk, rater.pk]
        )
        (exists,) = cursor.fetchone()
    return "raced" if exists else None


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
    left side) left_a_count -= lefts, per pair."""
    slots = Counter(pair_id for pair_id, _ in rows)
    lefts = Counter(pair_id for pair_id, left in rows if left) if balanced else Counter()
    with connection.cursor() as cursor:
        for pair_id, n in slots.items():
            cursor.execute(
                "UPDATE annotate_pair SET assigned = assigned - %s, left_a_count = "
                "CASE WHEN left_a_count > %s THEN left_a_count - %s ELSE 0 END WHERE id = %s",
                [n, lefts[pair_id], lefts[pair_id], pair_id],
            )


def assignment_expire_stale(*, campaign: Campaign, now: datetime | None = None) -> int:
    """Expire leases past their deadline and put their pairs back in the pool. Returns how many.

    The status guard (``status = 'active'``) in the UPDATE makes each lease expire exactly once,
    even when two requests sweep at the same moment.
    """
    now = now or _now()
    _last_sweep[campaign.pk] = time.monotonic()
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE annotate_assignment SET status = %s "
            "WHERE campaign_id = %s AND status = %s AND expires_at <= %s "
            "RETURNING pair_id, left_is_a",
            [
                Assignment.Status.EXPIRED,
                campaign.pk,
                Assignment.Status.ACTIVE,
                connection.ops.adapt_datetimefield_value(now),
            ],
        )
        rows = [(pair_id, bool(left)) for pair_id, left in cursor.fetchall()]
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
        raise AssignmentError("Please say why you are skipping this pair.")
    if not _end_lease(
        assignment_id=assignment_id,
        status=Assignment.Status.SKIPPED,
        where={"rater": rater, "expires_at__gt": _now()},
        skip_reason=reason,
    ):
        raise AssignmentError("This pair is no longer yours to skip (its lease ended).")


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
