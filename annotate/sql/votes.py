"""The vote write: close the rater's lease, store the vote, count it on the pair and the rater.

The lease UPDATE is the guard: it matches only this rater's active, unexpired lease in this
campaign, so it doubles as the permission check and serialises a double-click. Nothing matched =
nothing written, and the caller works out why on its rare path. PostgreSQL runs the four writes as
one data-modifying WITH; SQLite, which has none, runs the same four statements in the caller's
(IMMEDIATE, so already serialised) transaction. Both return the same ``Written`` row. Before it, a
campaign with a minimum read time reads when the lease was served and how long its responses are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from django.db import connection

from annotate.models import Assignment, Candidate, Enrollment, Judgment, Pair
from annotate.reading import reading_length
from annotate.sql import Table, rows

A, J, P, E, C = (
    Table(Assignment), Table(Judgment), Table(Pair), Table(Enrollment), Table(Candidate)
)  # fmt: skip


@dataclass(frozen=True)
class Vote:
    """A validated vote. ``by_side[left_is_a]`` is its (choice, aspects) in a/b terms for a lease
    that showed candidate a on the left (True) or on the right (False)."""

    assignment_id: int
    rater_id: int
    campaign_id: int
    by_side: dict[bool, tuple[str, dict]]
    strength: int | None
    rationale: str
    rewrite: str
    key: str
    judge_shown: bool
    now: datetime


class Written(NamedTuple):
    """What the write stored: the judgment's id, the lease's pair and side, the time on task, the
    pair's gold answer ('' if none) and the rater's vote count after this vote (None without an
    enrollment row)."""

    judgment_id: int
    pair_id: int
    left_is_a: bool
    time_on_task_ms: int
    gold_answer: str
    rater_votes: int | None


_JUDGMENT_COLUMNS = J.cols(
    "campaign_id", "pair_id", "assignment_id", "rater_id", "source", "choice", "strength",
    "aspects", "rationale", "rewrite", "left_is_a", "time_on_task_ms", "judge_shown",
    "idempotency_key", "created_at",
)  # fmt: skip

# One round trip instead of four. Measured in-process (one rater, 400 votes; f95eeaa, cd3a003):
# PostgreSQL CPU per vote 2.5 -> 1.5 ms with the raw INSERT and the counter, and the vote -> next
# request down to 6 statements (tests/views/test_rate_page.py pins it); bench/rating.py keeps the
# closed loop >= 250 votes/s with 32 raters on 2 cores.
_ONE_STATEMENT = f"""
WITH lease AS (
    UPDATE {A} SET {A.status} = %(done)s, {A.completed_at} = %(now)s
    WHERE {A.id} = %(assignment)s AND {A.rater_id} = %(rater)s AND {A.campaign_id} = %(campaign)s
      AND {A.status} = %(active)s AND {A.expires_at} > %(now)s
    RETURNING {A.cols("id", "pair_id", "left_is_a", "created_at")}
), vote AS (
    INSERT INTO {J} ({_JUDGMENT_COLUMNS})
    SELECT %(campaign)s, lease.{A.pair_id}, lease.{A.id}, %(rater)s, %(source)s,
        CASE WHEN lease.{A.left_is_a} THEN %(choice_a_left)s ELSE %(choice_b_left)s END,
        %(strength)s,
        CASE WHEN lease.{A.left_is_a} THEN %(aspects_a_left)s ELSE %(aspects_b_left)s END,
        %(rationale)s, %(rewrite)s, lease.{A.left_is_a},
        GREATEST(0, FLOOR(EXTRACT(EPOCH FROM (%(now)s - lease.{A.created_at})) * 1000))::integer,
        %(judge_shown)s, %(key)s, %(now)s
    FROM lease
    RETURNING {J.cols("id", "pair_id", "left_is_a", "time_on_task_ms")}
), pair AS (
    UPDATE {P} SET {P.completed} = {P.completed} + 1 FROM vote
    WHERE {P}.{P.id} = vote.{J.pair_id}
    RETURNING {P}.{P.gold_answer}
), enrollment AS (
    UPDATE {E} SET {E.votes} = {E.votes} + 1
    WHERE {E.campaign_id} = %(campaign)s AND {E.rater_id} = %(rater)s
      AND EXISTS (SELECT 1 FROM vote)
    RETURNING {E.votes}
)
SELECT {J.cols("id", "pair_id", "left_is_a", "time_on_task_ms", alias="vote")},
       (SELECT {P.gold_answer} FROM pair), (SELECT {E.votes} FROM enrollment)
FROM vote
"""


def write_one_statement(vote: Vote) -> Written | None:
    """PostgreSQL: the whole vote in one statement; None if the lease guard matched nothing."""
    ops = connection.ops
    (choice_a, aspects_a), (choice_b, aspects_b) = vote.by_side[True], vote.by_side[False]
    params = {
        "done": Assignment.Status.DONE,
        "active": Assignment.Status.ACTIVE,
        "now": ops.adapt_datetimefield_value(vote.now),
        "assignment": vote.assignment_id,
        "rater": vote.rater_id,
        "campaign": vote.campaign_id,
        "source": Judgment.Source.HUMAN,
        "choice_a_left": choice_a,
        "choice_b_left": choice_b,
        "strength": vote.strength,
        "aspects_a_left": ops.adapt_json_value(aspects_a, None),
        "aspects_b_left": ops.adapt_json_value(aspects_b, None),
        "rationale": vote.rationale,
        "rewrite": vote.rewrite,
        "judge_shown": vote.judge_shown,
        "key": vote.key,
    }
    with connection.cursor() as cursor:
        cursor.execute(_ONE_STATEMENT, params)
        row = cursor.fetchone()
    if row is None:
        return None
    judgment_id, pair_id, left_is_a, time_on_task, gold, votes = row
    return Written(judgment_id, pair_id, bool(left_is_a), time_on_task, gold, votes)


# The same four writes for SQLite (no DML in WITH), kept plain for the same reason: the ORM's
# versions cost more to compile than to run on every vote (90b01ae, in-process, one rater, 400
# votes: Python CPU per vote 8.7 -> 6.0 ms with the raw vote path); bench/rating.py's SQLite run
# keeps its closed loop >= 200 votes/s.
_CLOSE_LEASE = (
    f"UPDATE {A} SET {A.status} = %s, {A.completed_at} = %s "
    f"WHERE {A.id} = %s AND {A.rater_id} = %s AND {A.campaign_id} = %s AND {A.status} = %s "
    f"AND {A.expires_at} > %s RETURNING {A.cols('pair_id', 'left_is_a', 'created_at')}"
)
_INSERT_VOTE = (
    f"INSERT INTO {J} ({_JUDGMENT_COLUMNS}) VALUES ({', '.join(['%s'] * 15)}) RETURNING {J.id}"
)
_COUNT_ON_PAIR = (
    f"UPDATE {P} SET {P.completed} = {P.completed} + 1 WHERE {P.id} = %s RETURNING {P.gold_answer}"
)
_COUNT_ON_RATER = (
    f"UPDATE {E} SET {E.votes} = {E.votes} + 1 WHERE {E.campaign_id} = %s AND {E.rater_id} = %s "
    f"RETURNING {E.votes}"
)


def write_step_by_step(vote: Vote) -> Written | None:
    """The same write as ``write_one_statement`` in four statements (SQLite; plain SQL, so it
    runs on PostgreSQL too); None if the lease guard matched nothing."""
    ops = connection.ops
    now = ops.adapt_datetimefield_value(vote.now)
    with connection.cursor() as cursor:
        cursor.execute(
            _CLOSE_LEASE,
            [
                Assignment.Status.DONE,
                now,
                vote.assignment_id,
                vote.rater_id,
                vote.campaign_id,
                Assignment.Status.ACTIVE,
                now,
            ],
        )
        row = cursor.fetchone()
        if row is None:
            return None
        pair_id, left_is_a, served_at = row
        left_is_a = bool(left_is_a)
        served_at = rows.value(Assignment, "created_at", served_at)
        time_on_task = max(0, int((vote.now - served_at).total_seconds() * 1000))
        choice, aspects = vote.by_side[left_is_a]
        cursor.execute(
            _INSERT_VOTE,
            [
                vote.campaign_id,
                pair_id,
                vote.assignment_id,
                vote.rater_id,
                Judgment.Source.HUMAN,
                choice,
                vote.strength,
                ops.adapt_json_value(aspects, None),
                vote.rationale,
                vote.rewrite,
                left_is_a,
                time_on_task,
                vote.judge_shown,
                vote.key,
                now,
            ],
        )
        (judgment_id,) = cursor.fetchone()
        cursor.execute(_COUNT_ON_PAIR, [pair_id])
        (gold,) = cursor.fetchone()
        cursor.execute(_COUNT_ON_RATER, [vote.campaign_id, vote.rater_id])
        counted = cursor.fetchone()
    votes = counted[0] if counted else None
    return Written(judgment_id, pair_id, left_is_a, time_on_task, gold, votes)


# The minimum read time's facts, read before the vote is written when the campaign sets one (every
# vote of such a campaign). bench/sql_vs_orm.py ("read time", CPU per call, busy 2-core machine):
# 0.13-0.21 ms here, 0.96-1.57 ms for the ORM's values_list(created_at, Length + Length) over the
# same joins. The texts come back whole: their reading length is measured by script in Python
# (annotate/reading.py), which a character count in SQL cannot do.
_READ_TIME = (
    f"SELECT a.{A.created_at}, ca.{C.text}, cb.{C.text} FROM {A} a "
    f"JOIN {P} p ON p.{P.id} = a.{A.pair_id} "
    f"JOIN {C} ca ON ca.{C.id} = p.{P.candidate_a_id} "
    f"JOIN {C} cb ON cb.{C.id} = p.{P.candidate_b_id} "
    f"WHERE a.{A.id} = %s AND a.{A.rater_id} = %s"
)


def read_time_facts(*, assignment_id: int, rater_id: int) -> tuple[datetime, int] | None:
    """When the rater's lease was served and the reading length of its two responses
    (annotate/reading.py); None if the lease is not this rater's."""
    with connection.cursor() as cursor:
        cursor.execute(_READ_TIME, [assignment_id, rater_id])
        row = cursor.fetchone()
    if row is None:
        return None
    length = reading_length(row[1] or "") + reading_length(row[2] or "")
    return rows.value(Assignment, "created_at", row[0]), length
