"""The rating claim: pick a pair and count the claim on its own row, insert the lease and read what
the page shows, and the sweep that expires leases.

The rules (exactly k per pair, never twice to one rater, why the claim guards on the pair's own row,
SKIP LOCKED on PostgreSQL only) are annotate/services/assignment.py's; this module says them in SQL.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection

from annotate.models import Assignment, Campaign, Candidate, Enrollment, Pair, Prompt
from annotate.reading import reading_length
from annotate.sql import Table, rows

A, P, PR, C, E = Table(Assignment), Table(Pair), Table(Prompt), Table(Candidate), Table(Enrollment)

# --- the lease with what the rating page shows --------------------------------------------------

# The page's lease in one statement: the ORM's select_related of the same four rows cost more than
# the rest of the vote (90b01ae, in-process, one rater, 400 votes: Python CPU per vote 8.7 -> 6.0 ms
# with this read, prepared statements and the raw campaign lookup). Named columns, never *: a
# prepared statement must not change its result type under a migration.
_LEASE_FIELDS = (
    "id", "campaign_id", "pair_id", "rater_id", "status", "left_is_a", "created_at", "expires_at",
)  # fmt: skip
_PAGE_COLUMNS = f"""
    SELECT {A.cols(*_LEASE_FIELDS, alias="a")},
           p.{P.prompt_id}, p.{P.candidate_a_id}, p.{P.candidate_b_id}, pr.{PR.system},
           pr.{PR.rendered}, ca.{C.html}, cb.{C.html}, ca.{C.text}, cb.{C.text}
"""
_PAGE_JOINS = f"""
    JOIN {P} p ON p.{P.id} = a.{A.pair_id}
    JOIN {PR} pr ON pr.{PR.id} = p.{P.prompt_id}
    JOIN {C} ca ON ca.{C.id} = p.{P.candidate_a_id}
    JOIN {C} cb ON cb.{C.id} = p.{P.candidate_b_id}
"""
_PAGE = f"{_PAGE_COLUMNS} FROM {A} a {_PAGE_JOINS}"
_LIVE = (
    f"{_PAGE} WHERE a.{A.campaign_id} = %s AND a.{A.rater_id} = %s AND a.{A.status} = %s LIMIT 1"
)
_BY_ID = f"{_PAGE} WHERE a.{A.id} = %s"


def live_for_page(*, campaign_id: int, rater_id: int) -> Assignment | None:
    """The rater's active lease in the campaign (expired or not), with what the page shows."""
    return _read_for_page(_LIVE, [campaign_id, rater_id, Assignment.Status.ACTIVE])


def _read_for_page(sql: str, params: list) -> Assignment | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else _from_page_row(row)


def _from_page_row(row: tuple) -> Assignment:
    """A real ``Assignment`` with its pair, prompt (system, rendered turns) and both candidates'
    HTML; ``read_length`` holds the two responses' reading length (annotate/reading.py, for the
    minimum read time). Fields
    not read load on access like any deferred field."""
    n = len(_LEASE_FIELDS)
    lease = rows.instance(Assignment, _LEASE_FIELDS, row[:n])
    prompt_id, cand_a_id, cand_b_id, system, rendered, html_a, html_b, text_a, text_b = row[n:]
    pair = rows.instance(
        Pair, ("id", "prompt_id", "candidate_a_id", "candidate_b_id"),
        (lease.pair_id, prompt_id, cand_a_id, cand_b_id),
    )  # fmt: skip
    pair.prompt = rows.instance(Prompt, ("id", "system", "rendered"), (prompt_id, system, rendered))
    pair.candidate_a = rows.instance(Candidate, ("id", "html"), (cand_a_id, html_a))
    pair.candidate_b = rows.instance(Candidate, ("id", "html"), (cand_b_id, html_b))
    lease.pair = pair
    lease.read_length = reading_length(text_a or "") + reading_length(text_b or "")
    return lease


# --- inserting the lease ------------------------------------------------------------------------

# ON CONFLICT DO NOTHING instead of catching IntegrityError: no savepoint round trips on the vote
# path (and the unique key on (pair, rater) tells a twin request from a second tab).
_INSERT = (
    f"INSERT INTO {A} ({A.cols('campaign_id', 'pair_id', 'rater_id', 'status', 'left_is_a')}, "
    f"{A.cols('skip_reason', 'created_at', 'expires_at')}) "
    "VALUES (%s, %s, %s, %s, %s, '', %s, %s) ON CONFLICT DO NOTHING"
)
# PostgreSQL: insert the lease and read what the page shows in the same statement, one round trip
# fewer on every vote (cd3a003: vote -> next in 6 statements, pinned by tests/views/test_rate_page.py).
_INSERT_FOR_PAGE = (
    f"WITH a AS ({_INSERT} RETURNING {A.cols(*_LEASE_FIELDS)}) {_PAGE_COLUMNS} FROM a {_PAGE_JOINS}"
)


def _insert_params(*, campaign_id, pair_id, rater_id, left_is_a, now, expires_at) -> list:
    ops = connection.ops
    return [
        campaign_id,
        pair_id,
        rater_id,
        Assignment.Status.ACTIVE,
        left_is_a,
        ops.adapt_datetimefield_value(now),
        ops.adapt_datetimefield_value(expires_at),
    ]


def insert_one_statement(**lease) -> Assignment | None:
    """PostgreSQL: the new active lease (keywords: campaign_id, pair_id, rater_id, left_is_a, now,
    expires_at) read with what the page shows; None if the rater already holds this pair."""
    return _read_for_page(_INSERT_FOR_PAGE, _insert_params(**lease))


def insert_step_by_step(**lease) -> Assignment | None:
    """``insert_one_statement`` as an INSERT, then the page's read (SQLite; runs anywhere)."""
    with connection.cursor() as cursor:
        cursor.execute(f"{_INSERT} RETURNING {A.id}", _insert_params(**lease))
        row = cursor.fetchone()
    return None if row is None else _read_for_page(_BY_ID, [row[0]])


# --- the claim ----------------------------------------------------------------------------------

# Both orders follow the partial index pair_open_idx (campaign, completed, random_key), so the claim
# reads a few index entries and stops at LIMIT 1 instead of sorting every open pair.
_ORDER = {
    # Pairs that already have votes first, so fewer pairs sit half-rated; random among equals.
    Campaign.Ordering.FINISH_STARTED: f"p.{P.completed} DESC, p.{P.random_key} DESC",
    # "Random": the fixed random order among the pairs with the fewest votes (breadth first).
    Campaign.Ordering.RANDOM: f"p.{P.completed}, p.{P.random_key}",
    # "Active": the most informative open pair first (pair_active_idx), breadth first among equals.
    Campaign.Ordering.ACTIVE: f"p.{P.priority} DESC, p.{P.completed}, p.{P.random_key}",
}
_GOLD = {None: "", True: f"AND p.{P.gold_answer} <> ''", False: f"AND p.{P.gold_answer} = ''"}

# The enrollment guard rides along in the same statement: an unenrolled or paused rater claims
# nothing, without a separate query on the hot path.
_PICK = f"""
    SELECT p.{P.id} FROM {P} p
    WHERE p.{P.campaign_id} = %s AND p.{P.assigned} < p.{P.needed} {{gold}}
      AND NOT EXISTS (
          SELECT 1 FROM {A} a WHERE a.{A.pair_id} = p.{P.id} AND a.{A.rater_id} = %s)
      AND EXISTS (
          SELECT 1 FROM {E} e
          WHERE e.{E.campaign_id} = p.{P.campaign_id} AND e.{E.rater_id} = %s AND NOT e.{E.paused})
    ORDER BY {{order}}
    LIMIT 1 {{lock}}
"""
# The conditional UPDATE on the picked pair's own row. Not for speed: for exactly-k. The naive claim
# (SKIP LOCKED guarded only by NOT EXISTS) double-assigned 1,277 pairs in 6,462 claims (DESIGN.md);
# bench/rating.py runs that control beside this claim, which counts 0 over k. The ORM cannot put
# FOR UPDATE SKIP LOCKED in a sub-query of an UPDATE nor return the updated row.
_CLAIM = f"""
    UPDATE {P} SET {P.assigned} = {P.assigned} + 1
    WHERE {P.id} = ({{pick}}) AND {P.assigned} < {P.needed}
    RETURNING {P.cols("id", "assigned", "left_a_count")}
"""


def claim_pair(*, campaign: Campaign, rater_id: int, gold: bool | None):
    """Count a claim on the next pair for this rater: (pair id, assigned after, left_a_count),
    None when nothing is claimable, or "raced" when a concurrent claimer filled the chosen pair.
    ``gold``: only gold pairs (True), only regular ones (False), or any (None)."""
    lock = "FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    order = _ORDER.get(campaign.ordering, _ORDER[Campaign.Ordering.RANDOM])
    pick = _PICK.format(gold=_GOLD[gold], order=order, lock=lock)
    params = [campaign.pk, rater_id, rater_id]
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM.format(pick=pick), params)
        row = cursor.fetchone()
        if row is not None:
            return row
        # 0 rows: either the pool is empty or a concurrent claimer filled the chosen pair. Only the
        # latter is worth a retry; telling them apart costs a query only on this rare path.
        cursor.execute(f"SELECT EXISTS ({pick.replace(lock, '')})", params)
        (exists,) = cursor.fetchone()
    return "raced" if exists else None


# The side count for left/right balancing, at k >= 2 on the claims that show a on the left (about
# half of them). bench/sql_vs_orm.py ("left count", CPU per call, busy 2-core machine): 0.10-0.15
# ms here, 0.32-0.56 ms for Pair.objects.filter(pk=...).update(left_a_count=F(...) + 1).
_COUNT_LEFT = f"UPDATE {P} SET {P.left_a_count} = {P.left_a_count} + 1 WHERE {P.id} = %s"


def count_left_shown(*, pair_id: int) -> None:
    """One more lease of the pair shows candidate a on the left."""
    with connection.cursor() as cursor:
        cursor.execute(_COUNT_LEFT, [pair_id])


# --- the sweep ----------------------------------------------------------------------------------

# Not for speed (it runs at most every 2 s per campaign and process, before a claim): the status
# guard makes each lease expire exactly once even when two requests sweep at the same moment, and
# RETURNING says which pairs get a slot back in the same statement. The ORM has no UPDATE …
# RETURNING; it would need SELECT … FOR UPDATE and an UPDATE.
_EXPIRE = (
    f"UPDATE {A} SET {A.status} = %s "
    f"WHERE {A.campaign_id} = %s AND {A.status} = %s AND {A.expires_at} <= %s "
    f"RETURNING {A.cols('pair_id', 'left_is_a')}"
)


def expire_stale(*, campaign_id: int, now: datetime) -> list[tuple[int, bool]]:
    """ACTIVE leases past their deadline -> EXPIRED; (pair id, left_is_a) of each."""
    params = [
        Assignment.Status.EXPIRED,
        campaign_id,
        Assignment.Status.ACTIVE,
        connection.ops.adapt_datetimefield_value(now),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_EXPIRE, params)
        return [(pair_id, bool(left)) for pair_id, left in cursor.fetchall()]
