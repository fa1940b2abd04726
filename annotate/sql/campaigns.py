"""The rating pages' campaign lookup: the campaign by slug and whether the user is enrolled in it.

It runs on every rating request (page, vote, skip, flag, heartbeat), before anything else.
"""

from __future__ import annotations

from django.db import connection

from annotate.models import Campaign, Enrollment, User
from annotate.sql import Table, rows

C, E = Table(Campaign), Table(Enrollment)
_FIELDS = tuple(f.attname for f in Campaign._meta.concrete_fields)

# One statement for the campaign and the enrollment. bench/sql_vs_orm.py ("lookup", CPU per call):
# 0.14-0.27 ms here, 0.96-1.80 ms for the ORM's Campaign.objects.annotate(Exists(enrollment))
# .get(slug=...), whose compile costs more than the query (a RawQuerySet's set-up did too, df52ffb).
# That is 0.8 ms or more on every rating request, a tenth of the 8.4 ms of machine CPU a vote costs
# in bench/rating.py's closed loop (233 votes/s at 98% of 2 cores, this code), which is already
# short of its 250 votes/s target. Named columns, never *: a prepared statement must not change its
# result type under a migration.
_FOR_RATER = (
    f"SELECT {C.cols(*_FIELDS, alias='c')}, EXISTS (SELECT 1 FROM {E} e "
    f"WHERE e.{E.campaign_id} = c.{C.id} AND e.{E.rater_id} = %s) "
    f"FROM {C} c WHERE c.{C.slug} = %s"
)


def for_rater(*, user: User, slug: str) -> tuple[Campaign, bool] | None:
    """The campaign with this slug and whether ``user`` is enrolled in it; None if there is none."""
    with connection.cursor() as cursor:
        cursor.execute(_FOR_RATER, [user.pk, slug])
        row = cursor.fetchone()
    if row is None:
        return None
    return rows.instance(Campaign, _FIELDS, row[:-1]), bool(row[-1])
