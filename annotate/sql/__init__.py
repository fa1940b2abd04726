"""The one home of hand-written SQL: the hot paths where the ORM was measured too slow, and the few
statements the ORM cannot say (UPDATE … RETURNING, a data-modifying WITH, COPY, SET LOCAL).

One module per hot path:

* ``campaigns``   the rating pages' campaign lookup (the campaign and the user's enrollment)
* ``votes``       the vote write: close the lease, store the vote, count it (one statement on
                  PostgreSQL, four on SQLite); the minimum read time's facts
* ``leases``      the rating claim: pick and count the pair, the left-side count, insert the lease
                  and read what the page shows; the lease sweep
* ``set_leases``  the same for the set protocols (ranking, rating, step labels): the claim, its
                  slots and rotations, the insert with what the rater is shown; the vote's lease
                  read and its close-and-count (one statement on PostgreSQL)
* ``generation``  a candidate's claim with what its task reads, its guarded write, and "is any
                  work left in the job?" (asked after every write of every kind of work)
* ``imports``     the prompt import: staging table, checks by line number, one INSERT … SELECT
* ``exports``     the settings of an export's one read transaction
* ``search``      SQLite's full-text search (FTS5 ``MATCH`` and ``bm25``) and a search box's text
                  as an FTS5 query that cannot be a syntax error

``rows`` turns what a statement returns into model instances, converted as the ORM converts them.

The rules: table names come from ``Model._meta.db_table`` and column names from
``_meta.get_field(...).column`` (``Table`` below), so a renamed field breaks the statement when its
module is imported, not when it runs. Beside each statement a comment gives the measured figure
that keeps it here and the command that measured it (bench/sql_vs_orm.py sets several beside their
ORM versions), or what the ORM cannot say. Each statement has a test in tests/sql/ that runs on
PostgreSQL and, through tests/sql/test_on_sqlite.py, on the embedded SQLite. Anything not here goes
through the ORM.
"""

from __future__ import annotations

from django.db.models import Model


class Table:
    """A model's table and column names for a statement's text.

    ``f"{Table(Pair)}"`` is the table; ``Table(Pair).assigned`` a column (by field name or attname,
    e.g. ``prompt_id``); ``Table(Pair).cols("id", "assigned", alias="p")`` a column list. A field
    the model does not have raises FieldDoesNotExist as the text is built.
    """

    __slots__ = ("_meta",)

    def __init__(self, model: type[Model]) -> None:
        self._meta = model._meta

    def __str__(self) -> str:
        return self._meta.db_table

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._meta.get_field(name).column

    def cols(self, *names: str, alias: str = "") -> str:
        prefix = f"{alias}." if alias else ""
        return ", ".join(f"{prefix}{getattr(self, name)}" for name in names)
