"""The set protocols' claim (ranking, rating, step labels): pick a set and count the claim on its own
row, read its slots and the rotations its leases use, insert the lease and read what the rater is
shown; the vote's close-and-count; the lease read of the vote.

The rules (exactly k per set, never twice to one rater, the guard on the set's own row, SKIP LOCKED
on PostgreSQL only, the rotation chosen under the set's row lock) are annotate/services/sets.py's;
this module says them in SQL, as annotate/sql/leases.py does for pairs.

Why here and not the ORM: bench/rating.py --protocol sets, in-process (``_queries``, one rater):
the ORM's next was 17 statements and its vote 10 (the claim's pick, count, slots, rotations and a
savepoint around the insert, then the set, its prompt and its candidates read one by one after
the commit); with these, next is 9 and vote 7 on PostgreSQL, and the Python CPU per unit fell as
the tests/views/test_rank_page.py and tests/api counts pin.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection

from annotate.models import (
    Campaign,
    Candidate,
    CandidateSet,
    CandidateSetMember,
    Enrollment,
    Prompt,
    SetAssignment,
    StepTrace,
)
from annotate.sql import Table, rows

S, M, SA = Table(CandidateSet), Table(CandidateSetMember), Table(SetAssignment)
PR, C, E, T = Table(Prompt), Table(Candidate), Table(Enrollment), Table(StepTrace)
Status = SetAssignment.Status

# --- the lease with what the rater is shown -------------------------------------------------------

_LEASE_FIELDS = (
    "id", "campaign_id", "candidate_set_id", "rater_id", "status", "rotation", "shown_order",
    "created_at", "expires_at",
)  # fmt: skip
_PROMPT_FIELDS = ("id", "messages", "system", "rendered")
_TRACE_FIELDS = ("id", "candidate_set_id", "source", "steps", "steps_html")
# One row per member (the lease's columns repeated): K rows for a set of K, one for a trace.
_UNIT_COLUMNS = f"""
    SELECT {SA.cols(*_LEASE_FIELDS, alias="a")}, s.{S.gold_ranking},
           {PR.cols(*_PROMPT_FIELDS, alias="pr")},
           c.{C.id}, c.{C.text}, c.{C.html},
           {T.cols(*_TRACE_FIELDS, alias="t")}
"""
_UNIT_JOINS = f"""
    JOIN {S} s ON s.{S.id} = a.{SA.candidate_set_id}
    JOIN {PR} pr ON pr.{PR.id} = s.{S.prompt_id}
    JOIN {M} m ON m.{M.candidate_set_id} = s.{S.id}
    JOIN {C} c ON c.{C.id} = m.{M.candidate_id}
    LEFT JOIN {T} t ON t.{T.candidate_set_id} = s.{S.id}
"""
_UNIT = f"{_UNIT_COLUMNS} FROM {SA} a {_UNIT_JOINS}"
_LIVE = f"{_UNIT} WHERE a.{SA.campaign_id} = %s AND a.{SA.rater_id} = %s AND a.{SA.status} = %s"
_BY_ID = f"{_UNIT} WHERE a.{SA.id} = %s"


def _read_unit(sql: str, params: list) -> SetAssignment | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    return _from_unit_rows(found) if found else None


def _from_unit_rows(found: list[tuple]) -> SetAssignment:
    """A real ``SetAssignment`` with ``candidate_set`` (id, prompt, gold) and its ``prompt``
    (messages, system, rendered) loaded, ``responses``: {candidate id: (text, html)} of its
    members, and ``trace``: the StepTrace of a step unit (else None). Fields not read load on
    access like any deferred field."""
    first = found[0]
    n, p, t = len(_LEASE_FIELDS), len(_PROMPT_FIELDS), len(_TRACE_FIELDS)
    lease = rows.instance(SetAssignment, _LEASE_FIELDS, first[:n])
    gold = first[n]
    prompt = rows.instance(Prompt, _PROMPT_FIELDS, first[n + 1 : n + 1 + p])
    unit = rows.instance(
        CandidateSet, ("id", "prompt_id", "gold_ranking"), (lease.candidate_set_id, prompt.pk, gold)
    )
    unit.prompt = prompt
    lease.candidate_set = unit
    at = n + 1 + p
    lease.responses = {row[at]: (row[at + 1], row[at + 2]) for row in found}
    trace = first[at + 3 : at + 3 + t]
    lease.trace = None if trace[0] is None else rows.instance(StepTrace, _TRACE_FIELDS, trace)
    return lease


def live(*, campaign_id: int, rater_id: int) -> SetAssignment | None:
    """The rater's active lease in the campaign (expired or not), with what the rater is shown."""
    return _read_unit(_LIVE, [campaign_id, rater_id, Status.ACTIVE])


def by_id(*, lease_id: int) -> SetAssignment | None:
    return _read_unit(_BY_ID, [lease_id])


# --- the claim ------------------------------------------------------------------------------------

# Both orders follow the partial index set_open_idx (campaign, completed, random_key).
_ORDER = {
    Campaign.Ordering.FINISH_STARTED: f"s.{S.completed} DESC, s.{S.random_key} DESC",
    Campaign.Ordering.RANDOM: f"s.{S.completed}, s.{S.random_key}",
}
# A JSON column compared with its empty list: jsonb equality on PostgreSQL, the stored text ("[]",
# as json.dumps writes it) on SQLite.
_GOLD = {None: "", True: f"AND s.{S.gold_ranking} <> '[]'", False: f"AND s.{S.gold_ranking} = '[]'"}
# The enrollment guard rides along: an unenrolled or paused rater claims nothing, without a query
# of its own on every claim.
_PICK = f"""
    SELECT s.{S.id} FROM {S} s
    WHERE s.{S.campaign_id} = %s AND s.{S.assigned} < s.{S.needed} {{gold}}
      AND NOT EXISTS (
          SELECT 1 FROM {SA} a WHERE a.{SA.candidate_set_id} = s.{S.id} AND a.{SA.rater_id} = %s)
      AND EXISTS (
          SELECT 1 FROM {E} e
          WHERE e.{E.campaign_id} = s.{S.campaign_id} AND e.{E.rater_id} = %s AND NOT e.{E.paused})
    ORDER BY {{order}}
    LIMIT 1 {{lock}}
"""
# The conditional UPDATE on the picked set's own row is what keeps exactly k (as for pairs).
_CLAIM = f"""
    UPDATE {S} SET {S.assigned} = {S.assigned} + 1
    WHERE {S.id} = ({{pick}}) AND {S.assigned} < {S.needed}
    RETURNING {S.id}
"""
# The set's members in slot order and the rotations of its live and done leases, in one read.
_SLOTS = f"""
    SELECT 0, m.{M.candidate_id}, m.{M.slot} FROM {M} m WHERE m.{M.candidate_set_id} = %s
    UNION ALL
    SELECT 1, a.{SA.rotation}, 0 FROM {SA} a
    WHERE a.{SA.candidate_set_id} = %s AND a.{SA.status} IN (%s, %s)
"""


def claim_set(*, campaign: Campaign, rater_id: int, gold: bool | None):
    """Count a claim on the next set for this rater: (set id, member ids in slot order, rotations
    its live and done leases use); None when nothing is claimable, or "raced" when a concurrent
    claimer filled the chosen set. Runs inside the caller's transaction, whose commit releases the
    set's row lock."""
    lock = "FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    order = _ORDER.get(campaign.ordering, _ORDER[Campaign.Ordering.RANDOM])
    pick = _PICK.format(gold=_GOLD[gold], order=order, lock=lock)
    params = [campaign.pk, rater_id, rater_id]
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM.format(pick=pick), params)
        row = cursor.fetchone()
        if row is None:
            # Empty pool, or every open set locked by a claimer right now: only the latter is
            # worth a retry, and telling them apart costs a query only on this path.
            cursor.execute(f"SELECT EXISTS ({pick.replace(lock, '')})", params)
            (exists,) = cursor.fetchone()
            return "raced" if exists else None
        set_id = row[0]
        # A statement of its own, after the UPDATE took the row lock: it reads the leases
        # committed up to now (a sub-query in RETURNING would read the UPDATE's older snapshot,
        # and could miss a claimer that committed while this one waited for the lock).
        cursor.execute(_SLOTS, [set_id, set_id, Status.ACTIVE, Status.DONE])
        members, used = [], []
        for kind, value, slot in cursor.fetchall():
            if kind == 0:
                members.append((slot, value))
            else:
                used.append(value)
    return set_id, [cid for _, cid in sorted(members)], used


_GIVE_BACK = f"UPDATE {S} SET {S.assigned} = {S.assigned} - 1 WHERE {S.id} = %s"


def give_back(*, set_id: int) -> None:
    """One claim fewer on the set (the claimer's insert found a twin)."""
    with connection.cursor() as cursor:
        cursor.execute(_GIVE_BACK, [set_id])


# --- inserting the lease --------------------------------------------------------------------------

# ON CONFLICT DO NOTHING instead of catching IntegrityError: no savepoint round trips (the unique
# keys on (set, rater) and on the one active lease per campaign and rater tell a twin request).
_INSERT = (
    f"INSERT INTO {SA} ({SA.cols('campaign_id', 'candidate_set_id', 'rater_id', 'status')}, "
    f"{SA.cols('rotation', 'shown_order', 'skip_reason', 'created_at', 'expires_at')}) "
    "VALUES (%s, %s, %s, %s, %s, %s, '', %s, %s) ON CONFLICT DO NOTHING"
)
# PostgreSQL: insert and read what the rater is shown in one statement.
_INSERT_FOR_UNIT = f"WITH a AS ({_INSERT} RETURNING {SA.cols(*_LEASE_FIELDS)}) {_UNIT_COLUMNS} FROM a {_UNIT_JOINS}"


def _insert_params(
    *, campaign_id, set_id, rater_id, rotation, shown_order, now, expires_at
) -> list:
    ops = connection.ops
    shown = SetAssignment._meta.get_field("shown_order").get_db_prep_save(shown_order, connection)
    return [
        campaign_id, set_id, rater_id, Status.ACTIVE, rotation, shown,
        ops.adapt_datetimefield_value(now), ops.adapt_datetimefield_value(expires_at),
    ]  # fmt: skip


def insert_one_statement(**lease) -> SetAssignment | None:
    """PostgreSQL: the new active lease (keywords: campaign_id, set_id, rater_id, rotation,
    shown_order, now, expires_at) read with what the rater is shown; None if the rater already
    holds this set or another live lease in the campaign (a twin request)."""
    return _read_unit(_INSERT_FOR_UNIT, _insert_params(**lease))


def insert_step_by_step(**lease) -> SetAssignment | None:
    """``insert_one_statement`` as an INSERT, then the read (SQLite; runs anywhere)."""
    with connection.cursor() as cursor:
        cursor.execute(f"{_INSERT} RETURNING {SA.id}", _insert_params(**lease))
        row = cursor.fetchone()
    return None if row is None else by_id(lease_id=row[0])


def insert(**lease) -> SetAssignment | None:
    if connection.vendor == "postgresql":
        return insert_one_statement(**lease)
    return insert_step_by_step(**lease)


# --- the vote -------------------------------------------------------------------------------------

_VOTE_FIELDS = (
    "id", "campaign_id", "candidate_set_id", "rater_id", "status", "shown_order", "created_at",
    "expires_at",
)  # fmt: skip
_VOTE_TRACE_FIELDS = ("id", "candidate_set_id", "steps", "gold_labels")
_FOR_VOTE = (
    f"SELECT {SA.cols(*_VOTE_FIELDS, alias='a')}, s.{S.gold_ranking}, "
    f"{T.cols(*_VOTE_TRACE_FIELDS, alias='t')} FROM {SA} a "
    f"JOIN {S} s ON s.{S.id} = a.{SA.candidate_set_id} "
    f"LEFT JOIN {T} t ON t.{T.candidate_set_id} = s.{S.id} WHERE a.{SA.id} = %s"
)


def for_vote(*, lease_id: int) -> SetAssignment | None:
    """The lease a vote names, with its set's gold ranking (``candidate_set.gold_ranking``) and,
    for a step unit, its trace's steps and gold labels (``candidate_set.trace``)."""
    with connection.cursor() as cursor:
        cursor.execute(_FOR_VOTE, [lease_id])
        row = cursor.fetchone()
    if row is None:
        return None
    n = len(_VOTE_FIELDS)
    lease = rows.instance(SetAssignment, _VOTE_FIELDS, row[:n])
    unit = rows.instance(CandidateSet, ("id", "gold_ranking"), (lease.candidate_set_id, row[n]))
    if row[n + 1] is not None:
        unit.trace = rows.instance(StepTrace, _VOTE_TRACE_FIELDS, row[n + 1 :])
    lease.candidate_set = unit
    return lease


_CLOSE = (
    f"UPDATE {SA} SET {SA.status} = %s, {SA.completed_at} = %s WHERE {SA.id} = %s "
    f"AND {SA.rater_id} = %s AND {SA.campaign_id} = %s AND {SA.status} = %s "
    f"AND {SA.expires_at} > %s RETURNING {SA.candidate_set_id}"
)
_COUNT_SET = f"UPDATE {S} SET {S.completed} = {S.completed} + 1 WHERE {S.id} = %s"
_COUNT_RATER = (
    f"UPDATE {E} SET {E.votes} = {E.votes} + 1 WHERE {E.campaign_id} = %s AND {E.rater_id} = %s"
)
# PostgreSQL: close the lease and count the vote on the set and the enrollment in one statement;
# the counts run only when the close matched (they read its RETURNING).
_CLOSE_AND_COUNT = f"""
    WITH closed AS ({_CLOSE}),
    counted AS (
        UPDATE {S} SET {S.completed} = {S.completed} + 1
        WHERE {S.id} IN (SELECT {SA.candidate_set_id} FROM closed) RETURNING {S.id}
    ),
    rater AS (
        UPDATE {E} SET {E.votes} = {E.votes} + 1
        WHERE {E.campaign_id} = %s AND {E.rater_id} = %s AND EXISTS (SELECT 1 FROM closed)
        RETURNING {E.id}
    )
    SELECT COUNT(*) FROM closed
"""


def _close_params(*, lease_id: int, rater_id: int, campaign_id: int, now: datetime) -> list:
    at = connection.ops.adapt_datetimefield_value(now)
    return [Status.DONE, at, lease_id, rater_id, campaign_id, Status.ACTIVE, at]


def close_and_count_one_statement(
    *, lease_id: int, rater_id: int, campaign_id: int, now: datetime
) -> bool:
    """PostgreSQL: close the rater's active, unexpired lease as done and count the vote on its set
    and the rater's enrollment; False (nothing written) when the lease is not that (any more). In
    the caller's transaction, with the vote's insert."""
    params = _close_params(lease_id=lease_id, rater_id=rater_id, campaign_id=campaign_id, now=now)
    with connection.cursor() as cursor:
        cursor.execute(_CLOSE_AND_COUNT, [*params, campaign_id, rater_id])
        return bool(cursor.fetchone()[0])


def close_and_count_step_by_step(
    *, lease_id: int, rater_id: int, campaign_id: int, now: datetime
) -> bool:
    """``close_and_count_one_statement`` as three statements (SQLite; runs anywhere)."""
    params = _close_params(lease_id=lease_id, rater_id=rater_id, campaign_id=campaign_id, now=now)
    with connection.cursor() as cursor:
        cursor.execute(_CLOSE, params)
        row = cursor.fetchone()
        if row is None:
            return False
        cursor.execute(_COUNT_SET, [row[0]])
        cursor.execute(_COUNT_RATER, [campaign_id, rater_id])
    return True


def close_and_count(**vote) -> bool:
    if connection.vendor == "postgresql":
        return close_and_count_one_statement(**vote)
    return close_and_count_step_by_step(**vote)
